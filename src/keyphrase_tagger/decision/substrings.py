"""Exact substring identity as integers, and the candidate strings of a text found at every position.

The rescorer's candidates are thousands of distinct substrings of one text, each needed at every
(overlapping) occurrence. An Aho-Corasick automaton built over them per text cost more than all
the feature columns together; instead, equal substrings get equal integer keys by prefix doubling
(as in suffix-array construction): ``rank_a[i]`` numbers ``text[i:i + 2**a]`` so that equal strings
share a number, and a string of length ``L`` (``2**a <= L < 2**(a+1)``) is identified exactly by the
pair of ranks of its first and last ``2**a`` characters (they overlap and cover it). Finding every
occurrence of the candidates of length ``L`` is then one key per text position and a sorted
lookup: array work, no automaton, no hashing (so no collisions to rule out).
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
        a = length.bit_length() - 1
        rank = self._level(a)
        return rank[starts] * (self.n + 1) + rank[starts + (length - (1 << a))]

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
        self._by_length: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # length -> sorted keys, candidate numbers
        firsts, lengths = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        span_lengths, count = ends - starts, 0
        for length in np.unique(span_lengths).tolist():
            at = starts[span_lengths == length]
            unique_keys, first = np.unique(keys.keys(length, at), return_index=True)
            self._by_length[length] = (unique_keys, np.arange(count, count + len(unique_keys)))
            count += len(unique_keys)
            firsts.append(at[first])
            lengths.append(np.full(len(first), length, dtype=np.int64))
        self.starts = np.concatenate(firsts)  # per candidate, where it first occurs among the spans
        self.lengths = np.concatenate(lengths)

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
        for length in np.unique(lengths).tolist():
            where = np.flatnonzero(lengths == length)
            out[where] = self._lookup(length, self.keys.keys(length, starts[where]))
        return out

    def _lookup(self, length: int, keys: np.ndarray) -> np.ndarray:
        if length not in self._by_length:
            return np.full(len(keys), -1, dtype=np.int64)
        sorted_keys, numbers = self._by_length[length]
        at = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
        return np.where(sorted_keys[at] == keys, numbers[at], -1)

    def occurrences(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (overlapping) occurrence ``(k, s, e)`` of every candidate: candidate ``k[j]`` is
        ``text[s[j]:e[j]]``; ordered by end, then start, as an overlapping Aho-Corasick scan reports
        them (the per-candidate means sum in this order: the same floats as before)."""
        ks, ss, es = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        for length, (sorted_keys, numbers) in self._by_length.items():
            s, at = self.keys.find(length, sorted_keys)
            ks.append(numbers[at])
            ss.append(s)
            es.append(s + length)
        k, s, e = np.concatenate(ks), np.concatenate(ss), np.concatenate(es)
        order = np.lexsort((s, e))
        return k[order], s[order], e[order]
