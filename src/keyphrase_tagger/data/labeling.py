"""Phrases -> character spans -> IOB2 tags, under the leftmost-longest overlap policy.

One matcher serves gold labels (a document's own list), the gazetteer baselines (the training
lexicon) and lexicon statistics. Matching runs in Rust (``ahocorasick_rs``): it scales to large
lexicons and multi-MB documents, and its ``LeftmostLongest`` kind *is* the pinned policy: scan left
to right, at each position take the longest phrase starting there, continue after its end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import ahocorasick_rs
import numpy as np

from keyphrase_tagger.records import LABEL2ID, LABELS, B, I, O, Span

OVERLAP_POLICIES = ("leftmost_longest",)
_LABEL_ARRAY = np.array(LABELS, dtype=object)


def _detached(text: str) -> str:
    """A copy of ``text`` (a memcpy, ~0.1 ms per million characters).

    ``ahocorasick_rs`` reads a str as UTF-8, and CPython caches that encoding inside the str object
    for as long as it lives: every document and phrase kept in memory (all of a prepared corpus)
    would carry 3 more bytes per CJK character. Handing the matcher a copy lets the cache die with it.
    """
    return "".join((text, ""))


class PhraseMatcher:
    """Finds phrase occurrences in texts. Empty phrases are ignored."""

    def __init__(self, phrases: Iterable[str], overlap: str = "leftmost_longest") -> None:
        if overlap not in OVERLAP_POLICIES:
            raise ValueError(f"unknown overlap policy {overlap!r}; choose one of {OVERLAP_POLICIES}")
        self.phrases: tuple[str, ...] = tuple(dict.fromkeys(_detached(p) for p in phrases if p))
        self._chosen = (
            ahocorasick_rs.AhoCorasick(self.phrases, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)
            if self.phrases
            else None
        )
        self._all = None  # built lazily: only statistics need overlapping matches

    def find(self, text: str) -> list[tuple[int, int, int]]:
        """Chosen (non-overlapping) matches as ``(phrase_index, start, end)``, in text order."""
        if self._chosen is None or not text:
            return []
        return self._chosen.find_matches_as_indexes(_detached(text))

    def find_spans(self, text: str) -> list[Span]:
        return [Span(s, e) for _, s, e in self.find(text)]

    def find_all(self, text: str) -> list[tuple[int, int, int]]:
        """Every occurrence of every phrase, overlapping ones included."""
        if not self.phrases or not text:
            return []
        if self._all is None:
            self._all = ahocorasick_rs.AhoCorasick(self.phrases, matchkind=ahocorasick_rs.MatchKind.Standard)
        return self._all.find_matches_as_indexes(_detached(text), overlapping=True)


def spans_to_tag_ids(length: int, starts: Sequence[int] | np.ndarray, ends: Sequence[int] | np.ndarray) -> np.ndarray:
    """Non-overlapping spans -> int8 tag ids (``O``/``B``/``I``) for ``length`` characters."""
    tags = np.full(length, O, dtype=np.int8)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    if starts.size:
        # +1 at each start and -1 at each end marks the inside of every span in one cumulative sum.
        delta = np.zeros(length + 1, dtype=np.int32)
        np.add.at(delta, starts, 1)
        np.add.at(delta, ends, -1)
        tags[np.cumsum(delta[:-1]) > 0] = I
        tags[starts] = B
    return tags


def label_text(text: str, matcher: PhraseMatcher) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """Tag ids for every character of ``text`` and the matches that produced them."""
    matches = matcher.find(text)
    if matches:
        arr = np.asarray(matches, dtype=np.int64)
        tags = spans_to_tag_ids(len(text), arr[:, 1], arr[:, 2])
    else:
        tags = np.full(len(text), O, dtype=np.int8)
    return tags, matches


def tag_ids_to_strings(tags: np.ndarray) -> list[str]:
    return _LABEL_ARRAY[tags].tolist()


def tag_strings_to_ids(tags: Sequence[str]) -> np.ndarray:
    return np.fromiter((LABEL2ID[t] for t in tags), dtype=np.int8, count=len(tags))
