"""Sliding windows: every character covered as configured, and each one merged from the right window."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.tagger.inputs import plan_windows, write_owned
from keyphrase_tagger.tagger.windows import owned_ranges, window_bounds


@st.composite
def window_setups(draw):
    max_chars = draw(st.integers(1, 60))
    stride = draw(st.integers(0, max_chars - 1))
    length = draw(st.integers(0, 400))
    return length, max_chars, stride


def edge_distance(i: int, start: int, end: int, length: int) -> float:
    """How far character ``i`` sits from a cut of window ``[start, end)``; a document edge is no cut."""
    left = i - start if start > 0 else math.inf
    right = end - 1 - i if end < length else math.inf
    return min(left, right)


# Property tests run without a deadline: CI shares two cores, so per-example timing means nothing.
@settings(deadline=None)
@given(window_setups())
def test_windows_cover_every_character_within_max_chars(setup):
    length, max_chars, stride = setup
    bounds = window_bounds(length, max_chars, stride)
    covered = np.zeros(length, dtype=int)
    for start, end in bounds:
        assert 0 <= start < end <= length
        assert end - start <= max_chars
        covered[start:end] += 1
    assert (covered >= 1).all()
    if length == 0:
        assert bounds == []
    else:
        assert bounds[0][0] == 0 and bounds[-1][1] == length


@settings(deadline=None)
@given(window_setups())
def test_consecutive_windows_overlap_by_exactly_stride(setup):
    length, max_chars, stride = setup
    bounds = window_bounds(length, max_chars, stride)
    for (s0, e0), (s1, e1) in zip(bounds, bounds[1:]):
        assert e0 - s0 == max_chars  # only the last window may be shorter
        assert e0 - s1 == stride
        assert s1 - s0 == max_chars - stride


def test_window_counts_for_a_known_document():
    assert window_bounds(10, max_chars=4, stride=1) == [(0, 4), (3, 7), (6, 10)]
    assert window_bounds(4, max_chars=4, stride=2) == [(0, 4)]
    assert window_bounds(5, max_chars=4, stride=0) == [(0, 4), (4, 5)]
    assert window_bounds(0, max_chars=4, stride=2) == []


@pytest.mark.parametrize(("max_chars", "stride"), [(0, 0), (4, 4), (4, 5), (4, -1)])
def test_impossible_window_config_is_a_config_error(max_chars, stride):
    with pytest.raises(ConfigError, match="data.window"):
        window_bounds(10, max_chars, stride)


def test_a_long_text_is_covered_by_the_configured_windows():
    bounds = window_bounds(1_000_003, max_chars=254, stride=64)
    assert len(bounds) == math.ceil((1_000_003 - 64) / 190)
    assert bounds[-1][1] == 1_000_003


@settings(deadline=None)
@given(window_setups())
def test_owned_ranges_partition_the_document(setup):
    length, max_chars, stride = setup
    bounds = window_bounds(length, max_chars, stride)
    owned = owned_ranges(bounds)
    assert len(owned) == len(bounds)
    position = 0
    for (start, end), (lo, hi) in zip(bounds, owned):
        assert lo == position, "owned ranges must be contiguous, in order, with no gap or overlap"
        assert start <= lo < hi <= end, "each window owns a non-empty part of itself"
        position = hi
    assert position == length


@settings(deadline=None)
@given(window_setups())
def test_each_character_comes_from_the_window_where_it_is_farthest_from_a_cut(setup):
    length, max_chars, stride = setup
    bounds = window_bounds(length, max_chars, stride)
    owner = np.empty(length, dtype=int)
    for k, (lo, hi) in enumerate(owned_ranges(bounds)):
        owner[lo:hi] = k
    for i in range(length):
        s, e = bounds[owner[i]]
        chosen = edge_distance(i, s, e, length)
        for k, (s2, e2) in enumerate(bounds):
            if s2 <= i < e2:
                assert chosen >= edge_distance(i, s2, e2, length), (i, bounds[owner[i]], (s2, e2))


@settings(deadline=None)
@given(window_setups(), st.integers(0, 200))
def test_merging_takes_each_character_from_its_owning_window_of_its_document(setup, other_length):
    length, max_chars, stride = setup
    lengths = [length, other_length]
    windows = plan_windows(lengths, max_chars, stride)
    # Row k reports its window, each character's position and its document ([CLS] first), so the
    # merged arrays show exactly which window and which offset every character came from.
    values = np.full((len(windows), max_chars + 2, 3), -1.0, dtype=np.float32)
    for k, w in enumerate(windows):
        values[k, 1 : 1 + w.end - w.start] = np.stack(
            [np.full(w.end - w.start, k), np.arange(w.start, w.end), np.full(w.end - w.start, w.doc)], axis=1)
    merged = [np.full((n, 3), np.nan, dtype=np.float32) for n in lengths]
    write_owned(merged, windows, values)
    for doc, n in enumerate(lengths):
        np.testing.assert_array_equal(merged[doc][:, 1], np.arange(n))
        assert (merged[doc][:, 2] == doc).all()
    for k, w in enumerate(windows):
        assert (merged[w.doc][w.lo : w.hi, 0] == k).all()
    bounds = window_bounds(length, max_chars, stride)
    assert [(w.start, w.end, w.lo, w.hi) for w in windows if w.doc == 0] == [
        (*b, *o) for b, o in zip(bounds, owned_ranges(bounds))]


def test_merge_cuts_the_overlap_at_its_midpoint():
    bounds = window_bounds(10, max_chars=6, stride=4)  # (0, 6), (2, 8), (4, 10)
    assert bounds == [(0, 6), (2, 8), (4, 10)]
    assert owned_ranges(bounds) == [(0, 4), (4, 6), (6, 10)]
