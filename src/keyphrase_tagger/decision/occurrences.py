"""What the phrase rescorer's feature groups (``candidates.py``) read of one text: its inputs
(:class:`TextInputs`) and every occurrence of every candidate string (:class:`Occurrences`), with
the per-text values several groups share computed once."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.decision.decoder import decode_phrases, scale_o
from keyphrase_tagger.lexicon.lexicon import Lexicon
from keyphrase_tagger.lexicon.segmentation import Words, segment


@dataclass
class TextInputs:
    """What the feature groups read of one text: ``probs`` are the tagger's ``(len(text), 3)``
    probabilities. The words and the tagger's decoded spans are computed on first use, once."""

    text: str
    probs: np.ndarray
    lexicon: Lexicon
    cleaning: CleaningConfig
    candidate_o_scale: float

    @functools.cached_property
    def words(self) -> Words:
        return segment(self.text)

    @functools.cached_property
    def decoded(self) -> set[str]:
        """The tagger's phrases, decoded as they are."""
        return {p.text for p in decode_phrases(self.text, self.probs, self.cleaning)}

    @functools.cached_property
    def permissive(self) -> set[str]:
        """The tagger's phrases with ``P(O)`` scaled by ``candidate_o_scale``."""
        return {p.text for p in decode_phrases(self.text, scale_o(self.probs, self.candidate_o_scale), self.cleaning)}


@dataclass
class Occurrences:
    """Every occurrence of every candidate in the text: candidate ``k[j]`` is ``text[s[j]:e[j]]``;
    ``count`` per candidate (each occurs at least once)."""

    inputs: TextInputs
    candidates: list[str]
    k: np.ndarray
    s: np.ndarray
    e: np.ndarray
    count: np.ndarray

    @property
    def c(self) -> int:
        return len(self.candidates)

    @property
    def n(self) -> int:
        return len(self.inputs.text)

    @functools.cached_property
    def log_count(self) -> np.ndarray:
        return np.log(self.count)

    @functools.cached_property
    def recurs(self) -> np.ndarray:
        return (self.count >= 2).astype(np.float64)

    @functools.cached_property
    def placement(self) -> "Placement":
        return Placement.of(self.k, self.s, self.e, self.c, self.n, self.inputs.words)

    @functools.cached_property
    def rates(self) -> np.ndarray:
        """:meth:`WordStats.rates` of the text's words."""
        return self.inputs.lexicon.words.rates(self.inputs.words.strings)

    def mean(self, values: np.ndarray) -> np.ndarray:
        """Per candidate, the mean of ``values`` (one per occurrence) over its occurrences."""
        return np.bincount(self.k, weights=values, minlength=self.c) / self.count



@dataclass(frozen=True)
class Placement:
    """How the occurrences ``(k, s, e)`` sit on the words: ``at_start``/``at_end`` flag the word
    boundaries (``n + 1`` positions); per occurrence its first and last word; per candidate
    ``ref``, the occurrence that describes it: its first word-aligned one, else its first."""

    at_start: np.ndarray
    at_end: np.ndarray
    aligned: np.ndarray
    first_word: np.ndarray
    last_word: np.ndarray
    ref: np.ndarray

    @classmethod
    def of(cls, k: np.ndarray, s: np.ndarray, e: np.ndarray, c: int, n: int, words: Words) -> "Placement":
        at_start = np.zeros(n + 1, dtype=bool)
        at_end = np.zeros(n + 1, dtype=bool)
        at_start[words.starts] = True
        at_end[words.ends] = True
        aligned = at_start[s] & at_end[e]
        order = np.lexsort((s, ~aligned, k))
        _, first_of = np.unique(k[order], return_index=True)
        char_word = words.index_of_chars(n)
        return cls(at_start, at_end, aligned, char_word[s], char_word[e - 1], order[first_of])
