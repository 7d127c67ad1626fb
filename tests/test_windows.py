"""Sliding windows: every character covered as configured, and each one merged from the right window."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.windows import merge_windows, owned_ranges, window_bounds


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
@given(window_setups())
def test_merge_windows_takes_each_character_from_its_owning_window(setup):
    length, max_chars, stride = setup
    bounds = window_bounds(length, max_chars, stride)
    # Window k reports k for its characters, and each character's position, so the merged array
    # shows exactly which window and which offset every row came from.
    values = [
        np.stack([np.full(e - s, k), np.arange(s, e), np.zeros(e - s)], axis=1).astype(np.float32)
        for k, (s, e) in enumerate(bounds)
    ]
    merged = merge_windows(length, bounds, values)
    assert merged.shape == (length, 3)
    np.testing.assert_array_equal(merged[:, 1], np.arange(length))
    for k, (lo, hi) in enumerate(owned_ranges(bounds)):
        assert (merged[lo:hi, 0] == k).all()


def test_merge_cuts_the_overlap_at_its_midpoint():
    bounds = window_bounds(10, max_chars=6, stride=4)  # (0, 6), (2, 8), (4, 10)
    assert bounds == [(0, 6), (2, 8), (4, 10)]
    assert owned_ranges(bounds) == [(0, 4), (4, 6), (6, 10)]
