"""``KeyphraseExtractor``: a saved checkpoint -> phrases with exact offsets and scores."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import torch

from keyphrase_tagger.checkpoint import CheckpointSettings
from keyphrase_tagger.decoding import Prediction, decode_phrases
from keyphrase_tagger.encoding import CharEncoder
from keyphrase_tagger.lexicon import Lexicon
from keyphrase_tagger.lexicon_features import LexiconFeatureConfig, LexiconFeaturizer
from keyphrase_tagger.recipe import DecodingSettings, adjust, fusion_matcher
from keyphrase_tagger.records import Phrase
from keyphrase_tagger.windows import owned_ranges, window_bounds


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class KeyphraseExtractor:
    def __init__(self, model, tokenizer, settings: CheckpointSettings, device="auto", batch_size: int = 32,
                 featurizer: LexiconFeaturizer | None = None, lexicon: Lexicon | None = None) -> None:
        self.device = resolve_device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.settings = settings
        self.encoder = CharEncoder(tokenizer)
        self.batch_size = batch_size
        self.featurizer = featurizer
        # The O prior and gazetteer fusion chosen on validation at training time (recipe.py).
        self.decoding = DecodingSettings.from_dict(settings.decoding)
        self.fusion = fusion_matcher(lexicon, self.decoding)
        self.lexicon = lexicon

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "auto", batch_size: int = 32) -> "KeyphraseExtractor":
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        settings = CheckpointSettings.load(path)  # raises CheckpointError on a non-checkpoint directory
        tokenizer = AutoTokenizer.from_pretrained(str(path))
        model = AutoModelForTokenClassification.from_pretrained(str(path))
        features = LexiconFeatureConfig.from_dict(settings.lexicon_features)
        decoding = DecodingSettings.from_dict(settings.decoding)
        lexicon = Lexicon.load(path) if features.enabled or decoding.uses_lexicon else None
        featurizer = LexiconFeaturizer(lexicon, features) if features.enabled else None
        return cls(model, tokenizer, settings, device=device, batch_size=batch_size, featurizer=featurizer,
                   lexicon=lexicon)

    @torch.inference_mode()
    def predict_probs(self, texts: Sequence[str], adjust: bool = True) -> list[np.ndarray]:
        """``(len(text), 3)`` float32 tag probabilities per text, windows batched across texts.

        ``adjust`` applies the checkpoint's decoding settings (O prior, gazetteer fusion, the
        tags of the rescorer's accepted strings; see ``recipe.py``); ``adjust=False`` gives the
        model's own probabilities. :meth:`predict` also keeps the rescorer's accepted strings.

        Windows are sorted by length so a batch pads little; each finished batch writes only the
        characters each window owns (``windows.owned_ranges``) into its document's array, so
        memory grows with the batch size, not with the length of a document.
        """
        max_chars, stride = self.settings.max_chars, self.settings.stride
        out = [np.zeros((len(t), 3), dtype=np.float32) for t in texts]
        ids = [self.encoder.encode(t) for t in texts]
        types = [self.featurizer.type_ids(t) for t in texts] if self.featurizer is not None else None
        jobs = []  # (length, doc, start, end, own_lo, own_hi)
        for k, text in enumerate(texts):
            bounds = window_bounds(len(text), max_chars, stride)
            for (start, end), (lo, hi) in zip(bounds, owned_ranges(bounds)):
                jobs.append((end - start, k, start, end, lo, hi))
        jobs.sort(key=lambda j: -j[0])
        enc = self.encoder
        for b in range(0, len(jobs), self.batch_size):
            batch = jobs[b : b + self.batch_size]
            width = batch[0][0] + 2
            input_ids = np.full((len(batch), width), enc.pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            type_ids = np.zeros((len(batch), width), dtype=np.int64)
            for r, (n, k, start, end, _, _) in enumerate(batch):
                input_ids[r, 0] = enc.cls_id
                input_ids[r, 1 : n + 1] = ids[k][start:end]
                input_ids[r, n + 1] = enc.sep_id
                mask[r, : n + 2] = 1
                if types is not None:
                    type_ids[r, 1 : n + 1] = types[k][start:end]
            logits = self.model(
                input_ids=torch.from_numpy(input_ids).to(self.device),
                attention_mask=torch.from_numpy(mask).to(self.device),
                token_type_ids=torch.from_numpy(type_ids).to(self.device),
            ).logits
            probs = torch.softmax(logits.float(), dim=-1).cpu().numpy()
            for r, (_, k, start, _, lo, hi) in enumerate(batch):
                out[k][lo:hi] = probs[r, 1 + lo - start : 1 + hi - start]
        if adjust:
            out = [p.probs for p in self._adjust(texts, out)]
        return out

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """What the decoder reads per text: the adjusted probabilities of :meth:`predict_probs` and,
        with the phrase rescorer, its accepted strings (which may nest; ``decoding.py``)."""
        return self._adjust(texts, self.predict_probs(texts, adjust=False))

    def _adjust(self, texts: Sequence[str], probs: Sequence[np.ndarray]) -> list[Prediction]:
        return [adjust(t, p, self.decoding, self.fusion, self.lexicon, self.settings.cleaning)
                for t, p in zip(texts, probs)]

    def extract(self, text: str, **options) -> list[Phrase]:
        """Phrases of one text; ``options`` as in :func:`keyphrase_tagger.decoding.decode_phrases`."""
        return self.extract_many([text], **options)[0]

    def extract_many(self, texts: Iterable[str], **options) -> list[list[Phrase]]:
        texts = list(texts)
        return [decode_phrases(t, p, self.settings.cleaning, **options) for t, p in zip(texts, self.predict(texts))]
