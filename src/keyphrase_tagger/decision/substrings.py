"""Exact substring identity as integers, and the candidate strings of a text found at every position.

The rescorer's candidates are thousands of distinct substrings of one text, each needed at every
(overlapping) occurrence. An Aho-Corasick automaton built over them per text cost more than all
the feature columns together; instead, equal substrings get equal integer keys by prefix doubling
(as in suffix-array construction): ``rank_a[i]`` numbers ``text[i:i + 2**a]`` so that equal strings
share a number, and a string of length ``L`` (``2**a <= L < 2**(a+1)``) is identified exactly by the
pair of ranks of its first and last ``2**a`` characters (they overlap and cover it). Finding every
occurrence of the candidates of length ``L`` is then one key per text position and a sorted
lookup: array work, no automaton, no hashing (so no collisions to rule out). With the length
folded into the key (:meth:`SubstringKeys.band_keys`), the candidates of every length are numbered
by one sort, and any span is looked up by one search.
"""

from __future__ import annotations

import functools

import numpy as np

# A text's characters are ranked with a table indexed by code point where the table is at most
# this many times the text's length (a sort is cheaper for short texts).
TABLE_PER_CHAR = 16


def char_ranks(codes: np.ndarray) -> np.ndarray:
    """Each code point's rank among the distinct ones of ``codes`` (``np.unique``'s inverse)."""
    top = int(codes.max()) if len(codes) else 0
    if top > TABLE_PER_CHAR * len(codes):
        return np.unique(codes, return_inverse=True)[1].astype(np.int64)
    present = np.zeros(top + 1, dtype=bool)
    present[codes] = True
    return (np.cumsum(present, dtype=np.int64) - 1)[codes]


def pair_ranks(first: np.ndarray, second: np.ndarray, n: int) -> np.ndarray:
    """Each pair ``(first[i], second[i])``'s rank among the distinct pairs (``np.unique``'s
    inverse), for values below ``n`` (>= 1)."""
    if n <= 1 << 16:  # two stable sorts of 16-bit keys, which numpy does by radix, in linear time
        order = np.argsort(second.astype(np.uint16), kind="stable")
        order = order[np.argsort(first[order].astype(np.uint16), kind="stable")]
    else:
        order = np.argsort(first * n + second, kind="stable")
    pairs = first[order] * n + second[order]
    new = np.empty(len(pairs), dtype=bool)
    new[:1] = True
    np.not_equal(pairs[1:], pairs[:-1], out=new[1:])
    ranks = np.empty(len(pairs), dtype=np.int64)
    ranks[order] = np.cumsum(new) - 1
    return ranks


# Keys are int64: a band of lengths (CandidateStrings) spans at most this // (n + 1)**2 lengths.
KEY_LIMIT = int(np.iinfo(np.int64).max)


def first_of_each(keys: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_index=True)`` for non-negative ``keys`` below ``top``: the distinct
    keys, sorted, and where each first occurs. Each key is sorted with its position folded in (key *
    len + position: distinct values, so numpy's vectorised sort, no stable one), where that fits in
    64 bits."""
    m = len(keys)
    if m == 0 or top > KEY_LIMIT // m:
        return np.unique(keys, return_index=True)
    folded = np.sort(keys * m + np.arange(m))
    sorted_keys = folded // m
    new = np.empty(m, dtype=bool)
    new[0] = True
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=new[1:])
    return sorted_keys[new], folded[new] - sorted_keys[new] * m


def length_bands(lengths: np.ndarray, per_band: int) -> list[tuple[int, int]]:
    """``(least, greatest)`` of consecutive ranges of ``lengths``' values, each at most ``per_band``
    lengths wide, covering them all: one range unless the text is millions of characters long."""
    if not len(lengths):
        return []
    least, greatest = int(lengths.min()), int(lengths.max())
    if greatest - least < per_band:
        return [(least, greatest)]
    bands: list[tuple[int, int]] = []
    for length in np.unique(lengths).tolist():
        if bands and length - bands[-1][0] < per_band:
            bands[-1] = (bands[-1][0], length)
        else:
            bands.append((length, length))
    return bands


class SubstringKeys:
    """Integer keys of the substrings of one text: for a given length, equal keys iff equal strings."""

    def __init__(self, codes: np.ndarray) -> None:
        self.n = len(codes)
        # Level a holds the ranks (< n) of text[i:i + 2**a] for i in 0..n - 2**a.
        self._levels = [char_ranks(codes)] if self.n else []

    def _level(self, a: int) -> np.ndarray:
        while len(self._levels) <= a:
            below, half = self._levels[-1], 1 << (len(self._levels) - 1)
            self._levels.append(pair_ranks(below[: len(below) - half], below[half:], self.n))
        return self._levels[a]

    def keys(self, length: int, starts: np.ndarray) -> np.ndarray:
        """Keys of ``text[s:s + length]`` for ``starts``."""
        return self._pair_keys(length.bit_length() - 1, starts, length)

    def _pair_keys(self, a: int, starts: np.ndarray, lengths: np.ndarray | int) -> np.ndarray:
        """Keys of ``text[s:s + length]``, lengths in ``2**a .. 2**(a+1) - 1``: the ranks of their
        first and last ``2**a`` characters."""
        rank = self._level(a)
        return rank[starts] * (self.n + 1) + rank[starts + lengths - (1 << a)]

    @property
    def top(self) -> int:
        """A bound on every key: all are below it."""
        return (self.n + 1) ** 2

    def band_keys(self, starts: np.ndarray, lengths: np.ndarray, least: int) -> np.ndarray:
        """Keys of ``text[s:s + length]`` that tell lengths apart too: ``(length - least) * top +
        key``, ordered by length, then key (``lengths`` at least ``least``, the text's strings)."""
        out = np.empty(len(starts), dtype=np.int64)
        level = np.frexp(lengths)[1] - 1  # floor(log2(length)): the level whose ranks make the key
        for a in range(int(level.min(initial=0)), int(level.max(initial=-1)) + 1):
            at = np.flatnonzero(level == a)
            out[at] = (lengths[at] - least) * self.top + self._pair_keys(a, starts[at], lengths[at])
        return out

    def find(self, length: int, sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every start of a string of ``length`` whose key is in ``sorted_keys``, and that key's index."""
        rank = self._level(length.bit_length() - 1)
        # A first cheap pass on the first half's rank alone keeps a binary search off most positions.
        first_half = np.zeros(len(rank), dtype=bool)
        first_half[sorted_keys // (self.n + 1)] = True
        starts = np.flatnonzero(first_half[rank[: self.n - length + 1]])
        keys = self.keys(length, starts)
        at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
        hit = sorted_keys[at] == keys
        return starts[hit], at[hit]


class CandidateStrings:
    """The distinct strings of spans of one text, numbered by length, then key (an order of no
    meaning, but one that needs no string: the decision never reads them); :attr:`strings` and
    :meth:`sorted_order` write and sort them where a caller wants them."""

    def __init__(self, text: str, keys: SubstringKeys, starts: np.ndarray, ends: np.ndarray) -> None:
        self.text, self.keys = text, keys
        lengths = ends - starts
        # Per band of lengths (one but for texts of millions of characters): its least and greatest
        # length, the sorted keys of its candidates (SubstringKeys.band_keys) and the number of its first.
        self._bands: list[tuple[int, int, np.ndarray, int]] = []
        firsts, count = [np.zeros(0, dtype=np.int64)], 0
        for least, greatest in length_bands(lengths, KEY_LIMIT // keys.top):
            at = np.flatnonzero((lengths >= least) & (lengths <= greatest))
            sorted_keys, first = first_of_each(keys.band_keys(starts[at], lengths[at], least),
                                               (greatest - least + 1) * keys.top)
            self._bands.append((least, greatest, sorted_keys, count))
            count += len(sorted_keys)
            firsts.append(starts[at[first]])
        self.starts = np.concatenate(firsts)  # per candidate, where it first occurs among the spans
        self.lengths = np.concatenate([np.zeros(0, dtype=np.int64)] +
                                      [least + band // keys.top for least, _, band, _ in self._bands])

    def __len__(self) -> int:
        return len(self.lengths)

    @functools.cached_property
    def strings(self) -> list[str]:
        """The candidates' strings, in candidate-number order."""
        text = self.text
        return [text[a:b] for a, b in zip(self.starts.tolist(), (self.starts + self.lengths).tolist())]

    def sorted_order(self) -> list[int]:
        """Candidate numbers in the sorted order of their strings."""
        return sorted(range(len(self)), key=self.strings.__getitem__)

    def numbers(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """The candidate number of each span ``text[s:e]``; -1 where it is not a candidate."""
        out = np.full(len(starts), -1, dtype=np.int64)
        lengths = ends - starts
        for least, greatest, sorted_keys, first_number in self._bands:
            where = np.flatnonzero((lengths >= least) & (lengths <= greatest))
            keys = self.keys.band_keys(starts[where], lengths[where], least)
            at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
            out[where] = np.where(sorted_keys[at] == keys, first_number + at, -1)
        return out

    def occurrences(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (overlapping) occurrence ``(k, s, e)`` of every candidate: candidate ``k[j]`` is
        ``text[s[j]:e[j]]``; ordered by end, then start, as an overlapping Aho-Corasick scan reports
        them (the per-candidate means sum in this order: the same floats as before)."""
        ks, ss, es = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        top = self.keys.top
        for least, _, band, first_number in self._bands:
            offsets = band // top  # length - least, ascending: one slice of the band per length
            bounds = np.flatnonzero(np.diff(offsets, prepend=-1, append=offsets[-1] + 1)).tolist()
            for lo, hi in zip(bounds[:-1], bounds[1:]):
                length = least + int(offsets[lo])
                s, at = self.keys.find(length, band[lo:hi] - int(offsets[lo]) * top)
                ks.append(first_number + lo + at)
                ss.append(s)
                es.append(s + length)
        k, s, e = np.concatenate(ks), np.concatenate(ss), np.concatenate(es)
        order = np.lexsort((s, e))
        return k[order], s[order], e[order]
