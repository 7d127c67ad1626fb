"""Sliding windows over a document's characters, and the part of each whose prediction is kept.

``max_chars`` characters per window; consecutive windows overlap by ``stride`` characters
(the Hugging Face meaning of *stride*), so every character lies in at least one window and no
label is ever truncated away.

Merge rule for overlapping windows: each character takes the prediction of the window in which
it sits farthest from an edge. For two consecutive windows that means the overlap is cut at its
midpoint: the left half comes from the earlier window, the right half from the later one.
``tagger.inputs`` writes each window's owned characters into its document.
"""

from __future__ import annotations

from collections.abc import Sequence

from keyphrase_tagger.errors import ConfigError


def check_window(max_chars: int, stride: int) -> None:
    if max_chars < 1:
        raise ConfigError(f"data.window.max_chars must be >= 1, got {max_chars}")
    if not 0 <= stride < max_chars:
        raise ConfigError(f"data.window.stride must be in [0, max_chars), got stride={stride}, max_chars={max_chars}")


def window_bounds(length: int, max_chars: int, stride: int) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` covering ``range(length)``; an empty text has no window."""
    check_window(max_chars, stride)
    step = max_chars - stride
    bounds = []
    start = 0
    while start < length:
        end = min(start + max_chars, length)
        bounds.append((start, end))
        if end == length:
            break
        start += step
    return bounds


def owned_ranges(bounds: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """The part of each window whose prediction is kept by the midpoint rule."""
    owned = []
    for k, (start, end) in enumerate(bounds):
        lo = start if k == 0 else (start + bounds[k - 1][1]) // 2
        hi = end if k == len(bounds) - 1 else (bounds[k + 1][0] + end) // 2
        owned.append((lo, hi))
    return owned
