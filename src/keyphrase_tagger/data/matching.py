"""The phrase matcher, under the leftmost-longest overlap policy.

One matcher serves gold labels (a document's own list), the gazetteer baselines (the training
lexicon), lexicon statistics and the decision's candidates. Matching runs in Rust
(``ahocorasick_rs``): it scales to large lexicons and multi-MB documents, and its
``LeftmostLongest`` kind *is* the pinned policy: scan left to right, at each position take the
longest phrase starting there, continue after its end.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import repeat

import ahocorasick_rs

from keyphrase_tagger.records import Span

OVERLAP_POLICIES = ("leftmost_longest",)
_LIBRARY_DFA_MAX_PHRASES = 100  # aho-corasick's own threshold (AhoCorasickBuilder, kind auto)


def _detached(text: str) -> str:
    """A copy of ``text`` (a memcpy, ~0.1 ms per million characters).

    ``ahocorasick_rs`` reads a str as UTF-8, and CPython caches that encoding inside the str object
    for as long as it lives: every document and phrase kept in memory (all of a prepared corpus)
    would carry 3 more bytes per CJK character. Handing the matcher a copy lets the cache die with it.
    """
    return "".join((text, ""))


def _implementation(n_phrases: int):
    """The automaton for ``n_phrases`` phrases (the library's choice, except below).

    Up to 100 phrases the library builds a DFA: over twice as slow to build as the contiguous NFA
    it takes for more, for a search a quarter faster. Labeling and decoding build one small matcher
    per document and search one text with it, so the build dominates. Every kind finds the same
    matches.
    """
    return ahocorasick_rs.Implementation.ContiguousNFA if n_phrases <= _LIBRARY_DFA_MAX_PHRASES else None


class PhraseMatcher:
    """Finds phrase occurrences in texts. Empty phrases are ignored."""

    def __init__(self, phrases: Iterable[str], overlap: str = "leftmost_longest") -> None:
        if overlap not in OVERLAP_POLICIES:
            raise ValueError(f"unknown overlap policy {overlap!r}; choose one of {OVERLAP_POLICIES}")
        # _detached on each phrase, with the loop in C (labeling builds a matcher per document).
        self.phrases: tuple[str, ...] = tuple(dict.fromkeys(map("".join, zip(filter(None, phrases), repeat("")))))
        self._chosen = (
            ahocorasick_rs.AhoCorasick(self.phrases, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest,
                                       implementation=_implementation(len(self.phrases)))
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
