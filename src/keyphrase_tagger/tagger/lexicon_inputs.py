"""Lexicon-match features for the model input, carried in BERT's ``token_type_ids``.

Each character gets a type id saying whether a training-lexicon phrase (matched leftmost-longest)
covers it, at its first character or inside, how often that phrase was listed where it occurred in
training (bucketed rate), and whether the phrase recurs in this document. Carrying them in
``token_type_ids`` keeps the checkpoint an ordinary ``BertForTokenClassification``.

Training documents see a leave-one-out lexicon (their own lists subtracted), else the model would
learn to copy the lexicon, which on new text knows nothing of the new document's phrases.

With ``word_boundaries`` each type also says where the character sits in its jieba word (first,
inner or last character of a longer word, or a word alone): a tagger trained from scratch on a
few hundred thousand characters cannot learn where Chinese words begin and end, and listed
phrases mostly begin and end on word boundaries (``lexicon/segmentation.py``). The text is
segmented whole, so this part of the features' memory grows with the text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.lexicon.leave_one_out import leave_one_out_lexicons
from keyphrase_tagger.lexicon.lexicon import Lexicon
from keyphrase_tagger.lexicon.segmentation import segment
from keyphrase_tagger.records import Document

# A character's place in its word, with word_boundaries: first, inner, last (of a longer word), alone.
WORD_FIRST, WORD_INNER, WORD_LAST, WORD_ALONE = range(4)
N_WORD_PLACES = WORD_ALONE + 1


@dataclass(frozen=True)
class LexiconFeatureConfig:
    """The ``features`` config group (``configs/features/``, which holds the values), as the
    checkpoint stores it under ``lexicon_features``."""

    enabled: bool
    rate_edges: tuple[float, ...]
    recurrence: bool
    word_boundaries: bool = False

    @classmethod
    def from_dict(cls, cfg: Mapping | None) -> "LexiconFeatureConfig":
        """Enabled features need every key but ``word_boundaries`` (absent: off, as checkpoints
        saved before it have it); none given (``None``, ``{}``) means no features."""
        cfg = dict(cfg or {})
        words = bool(cfg.get("word_boundaries", False))
        if not cfg.get("enabled", False):
            if words:
                raise ConfigError("features.word_boundaries=true needs features.enabled=true: "
                                  "both are carried in token_type_ids")
            return cls(False, tuple(float(x) for x in cfg.get("rate_edges", ())), bool(cfg.get("recurrence", False)))
        return cls(True, tuple(float(x) for x in cfg["rate_edges"]), bool(cfg["recurrence"]), words)

    def to_dict(self) -> dict:
        return {"enabled": self.enabled, "rate_edges": list(self.rate_edges), "recurrence": self.recurrence,
                "word_boundaries": self.word_boundaries}

    @property
    def n_types(self) -> int:
        """0 = no match, then a (B, I) pair per (rate bucket x recurrence) class; with
        ``word_boundaries``, each of those times :data:`N_WORD_PLACES` (``lexicon type * N_WORD_PLACES + place``)."""
        lexicon_types = 1 + 2 * (len(self.rate_edges) + 1) * (2 if self.recurrence else 1)
        return lexicon_types * (N_WORD_PLACES if self.word_boundaries else 1)


class LexiconFeaturizer:
    def __init__(self, lexicon: Lexicon, config: LexiconFeatureConfig) -> None:
        self.config = config
        self.lexicon = lexicon
        self.matcher = lexicon.matcher
        rates = np.array([lexicon.rate(p) for p in self.matcher.phrases], dtype=np.float64)
        self._bucket = np.searchsorted(np.asarray(config.rate_edges), rates, side="right")

    def type_ids(self, text: str) -> np.ndarray:
        """One type id per character of ``text`` (int64)."""
        out = self._lexicon_type_ids(text)
        return out * N_WORD_PLACES + word_places(text) if self.config.word_boundaries else out

    def _lexicon_type_ids(self, text: str) -> np.ndarray:
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


def word_places(text: str) -> np.ndarray:
    """Per character of ``text``, its place in its jieba word (:data:`WORD_FIRST` ... :data:`WORD_ALONE`)."""
    words = segment(text)
    places = np.full(len(text), WORD_INNER, dtype=np.int64)
    places[words.ends - 1] = WORD_LAST
    places[words.starts] = WORD_FIRST
    places[words.starts[words.ends - words.starts == 1]] = WORD_ALONE
    return places


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
