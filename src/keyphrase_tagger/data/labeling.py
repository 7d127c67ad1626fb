"""Phrases -> character spans -> IOB2 tags (the one labeling function, for training data and gold
spans alike), and tags -> spans back (the one reading of tags, for decoding and statistics).

Occurrences come from :class:`~keyphrase_tagger.data.matching.PhraseMatcher`
(leftmost-longest).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keyphrase_tagger.data.matching import PhraseMatcher
from keyphrase_tagger.records import LABEL2ID, LABELS, B, I, O

_LABEL_ARRAY = np.array(LABELS, dtype=object)


def spans_to_tag_ids(length: int, starts: Sequence[int] | np.ndarray, ends: Sequence[int] | np.ndarray) -> np.ndarray:
    """Non-overlapping spans -> int8 tag ids (``O``/``B``/``I``) for ``length`` characters."""
    tags = np.full(length, O, dtype=np.int8)
    starts = np.asarray(starts, dtype=np.int64)
    ends = np.asarray(ends, dtype=np.int64)
    if starts.size:
        # +1 at each start and -1 at each end marks the inside of every span in one cumulative sum.
        delta = np.bincount(starts, minlength=length + 1) - np.bincount(ends, minlength=length + 1)
        tags[np.cumsum(delta[:-1]) > 0] = I
        tags[starts] = B
    return tags


def label_text(text: str, matcher: PhraseMatcher) -> tuple[np.ndarray, np.ndarray]:
    """Tag ids for every character of ``text`` and the matches that produced them, as an
    ``(matches, 3)`` array of ``(phrase_index, start, end)`` rows in text order."""
    matches = matcher.find_array(text)
    return spans_to_tag_ids(len(text), matches[:, 1], matches[:, 2]), matches


def tag_ids_to_strings(tags: np.ndarray) -> list[str]:
    return _LABEL_ARRAY[tags].tolist()


def tag_strings_to_ids(tags: Sequence[str]) -> np.ndarray:
    return np.fromiter((LABEL2ID[t] for t in tags), dtype=np.int8, count=len(tags))


def tags_to_spans(tags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tag ids -> ``(starts, ends)`` of spans, vectorised (no per-character Python)."""
    tags = np.asarray(tags)
    n = tags.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    prev = np.empty_like(tags)
    prev[0] = O
    prev[1:] = tags[:-1]
    is_start = (tags == B) | ((tags == I) & (prev == O))
    starts = np.flatnonzero(is_start)
    # A span ends at the first following position that is not I-KP.
    breaks = np.append(np.flatnonzero(tags != I), n)
    ends = breaks[np.searchsorted(breaks, starts, side="right")]
    return starts.astype(np.int64), ends.astype(np.int64)
