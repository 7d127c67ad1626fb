"""The phrase matcher, under the leftmost-longest overlap policy.

One matcher serves gold labels (a document's own list), the gazetteer baselines (the training
lexicon), lexicon statistics and the decision's candidates. Matching runs in Rust
(``ahocorasick_rs``): it scales to large lexicons and multi-MB documents, and its
``LeftmostLongest`` kind *is* the pinned policy: scan left to right, at each position take the
longest phrase starting there, continue after its end.

The automaton reads phrases and texts in a byte code of the phrases' own characters
(:class:`_ByteCode`), not in UTF-8: for every trie state past the end of a phrase, its build scans
the dead state's sorted transitions up to the state's byte (``fill_failure_transitions``), and
UTF-8 writes CJK in three bytes of 0x80-0xE9. Small bytes, the most frequent characters smallest,
halve the cost of building a matcher (labeling builds one per document). The code is one-to-one
and a match can only start on a character, so the matches are those of the characters; and the
library never sees the caller's strings, so none of them caches a UTF-8 copy.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import accumulate, chain

import ahocorasick_rs
import numpy as np

from keyphrase_tagger.data.characters import code_points
from keyphrase_tagger.records import Span

OVERLAP_POLICIES = ("leftmost_longest",)
_LIBRARY_DFA_MAX_PHRASES = 100  # aho-corasick's own threshold (AhoCorasickBuilder, kind auto)


def _symbol_words(n_symbols: int) -> tuple[int, np.ndarray]:
    """``(width, words)``: ``words[s]`` holds the ``width`` bytes of symbol ``s`` (1..n_symbols)
    as a little-endian integer; ``words[0]``, for characters that are in no phrase, is all zeros.

    One byte per symbol while they fit (1..255). Wider, a symbol's first byte is in
    ``1..base`` and its others in ``base+1..2*base``: no match can start inside a character.
    """
    if n_symbols <= 255:
        return 1, np.arange(n_symbols + 1, dtype="<u1")
    width = 2 if n_symbols <= 127 * 127 else 4
    base = 2
    while base**width < n_symbols:
        base += 1
    rank = np.arange(n_symbols, dtype=np.int64)
    words = np.zeros(n_symbols + 1, dtype=np.int64)
    for byte in range(width - 1, 0, -1):
        words[1:] |= (base + 1 + rank % base) << (8 * byte)
        rank //= base
    words[1:] |= 1 + rank
    return width, words.astype("<u2" if width == 2 else "<u4")


class _ByteCode:
    """Phrases and texts as bytes, ``width`` per character (see the module's docstring)."""

    def __init__(self, phrases: tuple[str, ...]) -> None:
        points = code_points("".join(phrases))
        alphabet, counts = np.unique(points, return_counts=True)
        self.width, words = _symbol_words(len(alphabet))
        # Indexed by code point; encode clips code points above the alphabet's onto the last entry (0).
        self._table = np.zeros(int(alphabet[-1]) + 2, dtype=words.dtype)
        self._table[alphabet[np.argsort(-counts, kind="stable")]] = words[1:]
        encoded = self._table[points].tobytes()  # the table, not unique's inverse: one sort fewer
        ends = [self.width * end for end in accumulate(map(len, phrases))]
        self.patterns = [encoded[start:end] for start, end in zip([0, *ends[:-1]], ends)]

    def encode(self, text: str) -> bytes:
        return self._table.take(code_points(text), mode="clip").tobytes()

    def decode(self, matches: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
        """Byte offsets -> character offsets."""
        w = self.width
        return matches if w == 1 else [(i, s // w, e // w) for i, s, e in matches]

    def decode_array(self, matches: list[tuple[int, int, int]]) -> np.ndarray:
        """:meth:`decode` as an ``(matches, 3)`` int64 array, the offsets converted in one pass."""
        # fromiter over the flattened tuples: half the time of np.asarray over the list of tuples
        found = np.fromiter(chain.from_iterable(matches), dtype=np.int64, count=3 * len(matches)).reshape(-1, 3)
        if self.width > 1:
            found[:, 1:] //= self.width
        return found


class PhraseMatcher:
    """Finds phrase occurrences in texts. Empty phrases are ignored."""

    def __init__(self, phrases: Iterable[str], overlap: str = "leftmost_longest") -> None:
        if overlap not in OVERLAP_POLICIES:
            raise ValueError(f"unknown overlap policy {overlap!r}; choose one of {OVERLAP_POLICIES}")
        self.phrases: tuple[str, ...] = tuple(dict.fromkeys(filter(None, phrases)))
        self._code = _ByteCode(self.phrases) if self.phrases else None
        self._chosen = (
            ahocorasick_rs.BytesAhoCorasick(self._code.patterns, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
                                            implementation=_implementation(len(self.phrases)))
            if self._code
            else None
        )
        self._all = None  # built lazily: only statistics need overlapping matches

    def find(self, text: str) -> list[tuple[int, int, int]]:
        """Chosen (non-overlapping) matches as ``(phrase_index, start, end)``, in text order."""
        if self._chosen is None or not text:
            return []
        return self._code.decode(self._chosen.find_matches_as_indexes(self._code.encode(text)))

    def find_spans(self, text: str) -> list[Span]:
        return [Span(s, e) for _, s, e in self.find(text)]

    def find_all(self, text: str) -> list[tuple[int, int, int]]:
        """Every occurrence of every phrase, overlapping ones included."""
        if self._code is None or not text:
            return []
        return self._code.decode(self._all_matches(text))

    def find_array(self, text: str) -> np.ndarray:
        """:meth:`find` as an ``(matches, 3)`` int64 array."""
        if self._chosen is None or not text:
            return np.zeros((0, 3), dtype=np.int64)
        return self._code.decode_array(self._chosen.find_matches_as_indexes(self._code.encode(text)))

    def find_all_array(self, text: str) -> np.ndarray:
        """:meth:`find_all` as an ``(occurrences, 3)`` int64 array."""
        if self._code is None or not text:
            return np.zeros((0, 3), dtype=np.int64)
        return self._code.decode_array(self._all_matches(text))

    def _all_matches(self, text: str) -> list[tuple[int, int, int]]:
        if self._all is None:
            self._all = ahocorasick_rs.BytesAhoCorasick(self._code.patterns, matchkind=ahocorasick_rs.MatchKind.Standard)
        return self._all.find_matches_as_indexes(self._code.encode(text), overlapping=True)


def _implementation(n_phrases: int) -> ahocorasick_rs.Implementation | None:
    """The automaton for ``n_phrases`` phrases (the library's choice, except below).

    Up to 100 phrases the library builds a DFA: over twice as slow to build as the contiguous NFA
    it takes for more, for a search a quarter faster. Labeling and decoding build one small matcher
    per document and search one text with it, so the build dominates. Every kind finds the same
    matches.
    """
    return ahocorasick_rs.Implementation.ContiguousNFA if n_phrases <= _LIBRARY_DFA_MAX_PHRASES else None
