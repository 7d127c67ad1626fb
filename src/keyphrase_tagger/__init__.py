"""keyphrase-tagger: train and use Chinese keyphrase extractors.

``KeyphraseExtractor`` is imported lazily so that the data tools do not pay for torch.
"""

from keyphrase_tagger.records import Document, Phrase, Span

__all__ = ["Document", "KeyphraseExtractor", "Phrase", "Span"]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "KeyphraseExtractor":
        from keyphrase_tagger.inference.extractor import KeyphraseExtractor

        return KeyphraseExtractor
    raise AttributeError(name)
