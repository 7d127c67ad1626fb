"""Lexicon-match features for the model input, carried in BERT's ``token_type_ids``.

Each character gets a type id saying whether a training-lexicon phrase (matched leftmost-longest)
covers it, at its first character or inside, how often that phrase was listed where it occurred in
training (bucketed rate), and whether the phrase recurs in this document. Carrying them in
``token_type_ids`` keeps the checkpoint an ordinary ``BertForTokenClassification``.

Training documents see a leave-one-out lexicon (their own lists subtracted), else the model would
learn to copy the lexicon, which on new text knows nothing of the new document's phrases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from keyphrase_tagger.lexicon.leave_one_out import leave_one_out_lexicons
from keyphrase_tagger.lexicon.lexicon import Lexicon
from keyphrase_tagger.records import Document


@dataclass(frozen=True)
class LexiconFeatureConfig:
    """The ``features`` config group (``configs/features/``, which holds the values), as the
    checkpoint stores it under ``lexicon_features``."""

    enabled: bool
    rate_edges: tuple[float, ...]
    recurrence: bool

    @classmethod
    def from_dict(cls, cfg: Mapping | None) -> "LexiconFeatureConfig":
        """Enabled features need every key; none given (``None``, ``{}``) means no features."""
        cfg = dict(cfg or {})
        if not cfg.get("enabled", False):
            return cls(False, tuple(float(x) for x in cfg.get("rate_edges", ())), bool(cfg.get("recurrence", False)))
        return cls(True, tuple(float(x) for x in cfg["rate_edges"]), bool(cfg["recurrence"]))

    def to_dict(self) -> dict:
        return {"enabled": self.enabled, "rate_edges": list(self.rate_edges), "recurrence": self.recurrence}

    @property
    def n_types(self) -> int:
        """0 = no match, then a (B, I) pair per (rate bucket x recurrence) class."""
        return 1 + 2 * (len(self.rate_edges) + 1) * (2 if self.recurrence else 1)


class LexiconFeaturizer:
    def __init__(self, lexicon: Lexicon, config: LexiconFeatureConfig) -> None:
        self.config = config
        self.lexicon = lexicon
        self.matcher = lexicon.matcher
        rates = np.array([lexicon.rate(p) for p in self.matcher.phrases], dtype=np.float64)
        self._bucket = np.searchsorted(np.asarray(config.rate_edges), rates, side="right")

    def type_ids(self, text: str) -> np.ndarray:
        """One type id per character of ``text`` (int64)."""
        out = np.zeros(len(text), dtype=np.int64)
        matches = self.matcher.find(text)
        if not matches:
            return out
        arr = np.asarray(matches, dtype=np.int64)
        idx, starts, ends = arr[:, 0], arr[:, 1], arr[:, 2]
        cls = self._bucket[idx]
        if self.config.recurrence:
            recurs = np.bincount(idx, minlength=len(self.matcher.phrases))[idx] >= 2
            cls = cls * 2 + recurs
        b_type, i_type = 1 + 2 * cls, 2 + 2 * cls
        lengths = ends - starts
        # Fill every matched character with its I type, then overwrite the first with its B type.
        out[np.repeat(starts, lengths) + _ranges(lengths)] = np.repeat(i_type, lengths)
        out[starts] = b_type
        return out


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """``[0..l0-1, 0..l1-1, ...]`` without a Python loop."""
    total = int(lengths.sum())
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(total) - offsets


def training_type_ids(lexicon: Lexicon, documents: list[Document], config: LexiconFeatureConfig,
                      lexicons: list[Lexicon] | None = None) -> list[np.ndarray]:
    """Leave-one-out features for the training documents themselves (``lexicons``: their
    leave-one-out lexicons, when the caller already has them)."""
    if lexicons is None:
        lexicons = leave_one_out_lexicons(lexicon, documents)
    return [LexiconFeaturizer(loo, config).type_ids(d.text) for d, loo in zip(documents, lexicons)]
