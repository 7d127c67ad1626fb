"""What the phrase rescorer's feature groups (``feature_groups.py``) read of one text: its inputs
(:class:`TextInputs`) and every occurrence of every candidate string (:class:`Occurrences`), with
the per-text values several groups share computed once (the segmentation above all: every
candidate source and feature group reads the same :attr:`TextInputs.words`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.decision.decoder import scale_o
from keyphrase_tagger.decision.spans import MAX_CHARS, MAX_WORDS, Spans, strip_mask, tagger_spans, word_run_spans
from keyphrase_tagger.data.characters import code_points
from keyphrase_tagger.decision.substrings import CandidateStrings, SubstringKeys
from keyphrase_tagger.lexicon.general_idf import general_idf
from keyphrase_tagger.lexicon.lexicon import Lexicon
from keyphrase_tagger.lexicon.segmentation import Words, segment
from keyphrase_tagger.records import O


@dataclass
class TextInputs:
    """What the feature groups read of one text: ``probs`` are the tagger's ``(len(text), 3)``
    probabilities; ``word_limits``: the most words and characters of a word run. Everything derived
    (words, code points, the candidate sources' spans) is computed on first use, once."""

    text: str
    probs: np.ndarray
    lexicon: Lexicon
    cleaning: CleaningConfig
    candidate_o_scale: float
    word_limits: tuple[int, int] = (MAX_WORDS, MAX_CHARS)

    @functools.cached_property
    def words(self) -> Words:
        return segment(self.text)

    @functools.cached_property
    def word_idf(self) -> tuple[np.ndarray, np.ndarray]:
        """Per word, its general-domain idf and whether the table holds it (``general_idf``)."""
        return general_idf().of_words(self.words.strings)

    @functools.cached_property
    def codes(self) -> np.ndarray:
        return code_points(self.text)

    @functools.cached_property
    def keys(self) -> SubstringKeys:
        return SubstringKeys(self.codes)

    @functools.cached_property
    def is_strip(self) -> np.ndarray:
        return strip_mask(self.codes, self.cleaning.strip_chars)

    @functools.cached_property
    def word_runs(self) -> Spans:
        return word_run_spans(self.text, self.words, self.is_strip, self.cleaning, *self.word_limits)

    @functools.cached_property
    def lexicon_hits(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (overlapping) occurrence ``(phrase, start, end)`` of a phrase of ``lexicon.counts``
        (whose matcher is built once per lexicon)."""
        hits = self.lexicon.counts.matcher.find_all_array(self.text)
        return hits[:, 0], hits[:, 1], hits[:, 2]

    @functools.cached_property
    def lexicon_matches(self) -> Spans:
        """Every (overlapping) occurrence of a training-lexicon phrase."""
        phrase, starts, ends = self.lexicon_hits
        listed = self.lexicon.counts.is_listed[phrase]
        return starts[listed], ends[listed]

    @functools.cached_property
    def decoded(self) -> Spans:
        """The tagger's phrases, decoded as they are."""
        return tagger_spans(self.text, self.probs, self.is_strip, self.cleaning)

    @functools.cached_property
    def permissive(self) -> Spans:
        """The tagger's phrases with ``P(O)`` scaled by ``candidate_o_scale``."""
        return tagger_spans(self.text, scale_o(self.probs, self.candidate_o_scale), self.is_strip, self.cleaning)


@dataclass
class Occurrences:
    """Every occurrence of every candidate in the text: candidate ``k[j]`` (its number in
    ``strings``) is ``text[s[j]:e[j]]``; ``count`` per candidate (each occurs at least once)."""

    inputs: TextInputs
    strings: CandidateStrings
    k: np.ndarray
    s: np.ndarray
    e: np.ndarray
    count: np.ndarray

    @property
    def candidates(self) -> list[str]:
        """The candidates' strings, by candidate number (written on first use)."""
        return self.strings.strings

    @property
    def c(self) -> int:
        return len(self.strings)

    def lexicon_counts(self) -> tuple[np.ndarray, np.ndarray]:
        """Per candidate, ``lexicon.listed`` and ``lexicon.occurs`` of its string (0 where absent):
        a candidate with a count is a lexicon phrase, so one of the text's lexicon hits."""
        phrase, starts, ends = self.inputs.lexicon_hits
        phrase, first = np.unique(phrase, return_index=True)  # all hits of one phrase: one candidate
        numbers = self.strings.numbers(starts[first], ends[first])
        found = numbers >= 0
        counts = self.inputs.lexicon.counts
        listed, occurs = np.zeros(self.c), np.zeros(self.c)
        listed[numbers[found]] = counts.listed[phrase[found]]
        occurs[numbers[found]] = counts.occurs[phrase[found]]
        return listed, occurs

    def contains(self, spans: Spans) -> np.ndarray:
        """Per candidate, 1.0 if it is the string of one of ``spans``, else 0.0."""
        flags = np.zeros(self.c)
        numbers = self.strings.numbers(*spans)
        flags[numbers[numbers >= 0]] = 1.0
        return flags

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
    def tagger_score(self) -> np.ndarray:
        """Per occurrence, the tagger's mean ``1 - P(O)`` over its characters."""
        inside = np.concatenate([[0.0], np.cumsum(1.0 - self.inputs.probs[:, O].astype(np.float64))])
        return (inside[self.e] - inside[self.s]) / (self.e - self.s)

    @functools.cached_property
    def tagger_score_max(self) -> np.ndarray:
        """Per candidate, :attr:`tagger_score` of its best occurrence."""
        best = np.zeros(self.c)
        np.maximum.at(best, self.k, self.tagger_score)
        return best

    @functools.cached_property
    def placement(self) -> "Placement":
        return Placement.of(self.k, self.s, self.e, self.strings.lengths, self.n, self.inputs.words)

    @functools.cached_property
    def rates(self) -> np.ndarray:
        """:meth:`WordStats.rates` of the text's words."""
        return self.inputs.lexicon.words.rates(self.inputs.words.strings)

    def mean(self, values: np.ndarray) -> np.ndarray:
        """Per candidate, the mean of ``values`` (one per occurrence) over its occurrences."""
        return np.bincount(self.k, weights=values, minlength=self.c) / self.count



def range_reduce(ufunc: np.ufunc, values: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
    """``ufunc.reduce(values[first[j]:last[j] + 1])`` for each ``j`` (``first <= last``), for an
    idempotent ``ufunc`` (``np.minimum``, ``np.maximum``): from a sparse table, whose row ``k``
    reduces ``2**k`` values from each position, two overlapping lookups per range (a ``reduceat``
    over interleaved bounds also reduces the gaps between the ranges, most of the values)."""
    span = last - first + 1
    top = int(span.max(initial=1)).bit_length() - 1
    table = np.empty((top + 1, len(values)), dtype=values.dtype)
    table[0] = values
    for k in range(1, top + 1):
        half = 1 << (k - 1)
        ufunc(table[k - 1, :-half], table[k - 1, half:], out=table[k, :-half])
        table[k, -half:] = table[k - 1, -half:]  # never read by a range: filled, not left undefined
    k = np.frexp(span)[1] - 1  # floor(log2(span))
    return ufunc(table[k, first], table[k, last - (1 << k) + 1])


@dataclass(frozen=True)
class Placement:
    """How the occurrences ``(k, s, e)`` sit on the words: ``at_start``/``at_end`` flag the word
    boundaries (``n + 1`` positions); per occurrence its first and last word; per candidate
    ``first``/``last``, the first and last word of the occurrence that describes it: its first
    word-aligned one, else its first."""

    at_start: np.ndarray
    at_end: np.ndarray
    aligned: np.ndarray
    first_word: np.ndarray
    last_word: np.ndarray
    first: np.ndarray
    last: np.ndarray

    @classmethod
    def of(cls, k: np.ndarray, s: np.ndarray, e: np.ndarray, lengths: np.ndarray, n: int,
           words: Words) -> "Placement":
        at_start = np.zeros(n + 1, dtype=bool)
        at_end = np.zeros(n + 1, dtype=bool)
        at_start[words.starts] = True
        at_end[words.ends] = True
        aligned = at_start[s] & at_end[e]
        # The describing occurrence is the one of least (not aligned, start): its start, offset
        # past every start when not aligned, minimised per candidate (no sort of the occurrences).
        ranked = np.where(aligned, s, s + n + 1)
        best = np.full(len(lengths), 2 * n + 2, dtype=np.int64)
        np.minimum.at(best, k, ranked)
        ref_start = np.where(best > n, best - (n + 1), best)
        char_word = words.index_of_chars(n)
        return cls(at_start, at_end, aligned, char_word[s], char_word[e - 1],
                   char_word[ref_start], char_word[ref_start + lengths - 1])
