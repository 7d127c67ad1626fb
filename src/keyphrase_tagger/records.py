"""The records that travel along the data line: documents in, phrases out."""

from __future__ import annotations

from dataclasses import dataclass

# Tag ids are fixed: checkpoints store them as id2label and every stage indexes arrays by them.
LABELS: tuple[str, ...] = ("O", "B-KP", "I-KP")
O, B, I = 0, 1, 2
LABEL2ID: dict[str, int] = {label: i for i, label in enumerate(LABELS)}
ID2LABEL: dict[int, str] = dict(enumerate(LABELS))


@dataclass(frozen=True)
class Document:
    """A document and its (cleaned) gold phrase list."""

    doc_id: str
    text: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Span:
    """Half-open character interval ``[start, end)`` of a document."""

    start: int
    end: int


@dataclass(frozen=True)
class Phrase:
    """A predicted keyphrase, as :meth:`KeyphraseExtractor.extract` returns it.

    Attributes:
        text: the phrase, exactly ``document[start:end]`` (trimmed of the checkpoint's strip
            characters, never rewritten).
        start: offset of its first character in the document, in Python characters (code points,
            not bytes or tokens).
        end: offset just past its last character (half-open, like a slice).
        score: ``0 <= score <= 1``, higher is more confident: the phrase rescorer's probability
            where it decided, else the mean over the phrase's characters of ``1 - P(O)`` (after
            the checkpoint's O prior and fusion).

    Frozen and hashable; the same string found twice in a document is two phrases with
    different offsets (``unique=True`` keeps one).
    """

    text: str
    start: int
    end: int
    score: float

    def to_dict(self) -> dict:
        """``{"text", "start", "end", "score"}``: one phrase of a ``kpt-predict`` output line."""
        return {"text": self.text, "start": self.start, "end": self.end, "score": self.score}
