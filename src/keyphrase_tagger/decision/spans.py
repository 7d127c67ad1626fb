"""The rescorer's candidate sources as span arrays ``(starts, ends)``, computed over whole arrays.

Each function gives exactly the spans its per-span definition gives (kept in tests as the
reference): word runs as ``candidates.word_runs`` defines them, tagger spans as
``decoder.decode_phrases`` cleans them (``strip_span``, then ``reject_reason``).
"""

from __future__ import annotations

import functools

import numpy as np

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.data.labeling import tags_to_spans
from keyphrase_tagger.lexicon.segmentation import Words

# The word-run limits (decision.rescore_max_words / rescore_max_chars) of a rescorer saved without them.
MAX_WORDS = 4
MAX_CHARS = 16

Spans = tuple[np.ndarray, np.ndarray]


def no_spans() -> Spans:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)


def joined_spans(*spans: Spans) -> Spans:
    """The spans of every argument, one after the other."""
    return np.concatenate([s for s, _ in spans]), np.concatenate([e for _, e in spans])


def strip_mask(codes: np.ndarray, strip_chars: str) -> np.ndarray:
    """Per character of a text (its code points), whether it is one of ``strip_chars``."""
    table = _strip_table(strip_chars)
    # A lookup per character (code points past the table's last strip character read its final
    # False), not np.isin's comparison of every character with each of the strip characters.
    return table.take(codes, mode="clip")


@functools.lru_cache(maxsize=8)
def _strip_table(strip_chars: str) -> np.ndarray:
    """Indexed by code point up to the largest of ``strip_chars`` + 1: whether it is one of them."""
    codes = [ord(ch) for ch in strip_chars]
    table = np.zeros(max(codes, default=0) + 2, dtype=bool)
    table[codes] = True
    return table


def kept_by_cleaning(text: str, starts: np.ndarray, ends: np.ndarray, cleaning: CleaningConfig) -> np.ndarray:
    """Which (already stripped) spans ``reject_reason`` keeps: not empty, not too short, no stop phrase."""
    lengths = ends - starts
    keep = (lengths > 0) & (lengths >= cleaning.min_chars)
    if cleaning.stop_phrases:  # strings only where there is a list to look them up in
        where = np.flatnonzero(keep)
        stop = [text[a:b] in cleaning.stop_phrases for a, b in zip(starts[where].tolist(), ends[where].tolist())]
        keep[where[np.asarray(stop, dtype=bool)]] = False
    return keep


def stripped(is_strip: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> Spans:
    """``strip_span`` of every span: moved past strip characters at both ends (possibly to empty)."""
    kept = np.flatnonzero(~is_strip)  # positions of the characters that stay
    after = np.searchsorted(kept, starts)  # the first kept character at or after each start
    first = np.append(kept, len(is_strip))[after]
    new_starts = np.minimum(first, ends)
    before = np.searchsorted(kept, ends) - 1  # the last kept character before each end
    last = np.where(before >= 0, kept[np.maximum(before, 0)], -1) if len(kept) else np.full(len(ends), -1)
    return new_starts, np.maximum(last + 1, new_starts)


def tagger_spans(text: str, probs: np.ndarray, is_strip: np.ndarray, cleaning: CleaningConfig) -> Spans:
    """The spans ``decode_phrases(text, probs, cleaning)`` returns: argmax tags read as spans, stripped, filtered."""
    starts, ends = stripped(is_strip, *tags_to_spans(probs.argmax(axis=-1)))
    keep = kept_by_cleaning(text, starts, ends, cleaning)
    return starts[keep], ends[keep]


def word_run_spans(text: str, words: Words, is_strip: np.ndarray, cleaning: CleaningConfig,
                   max_words: int = MAX_WORDS, max_chars: int = MAX_CHARS) -> Spans:
    """Runs of 1..``max_words`` words with no strip character, at most ``max_chars`` characters
    long, that the cleaning keeps: one span per run (a string that recurs gives several)."""
    n_words = len(words)
    if n_words == 0:
        return no_spans()
    clean = np.add.reduceat(is_strip.astype(np.int64), words.starts) == 0
    all_clean = clean.copy()  # for runs of m words: all_clean[a] iff words a..a+m-1 are clean
    found_starts, found_ends = [], []
    for m in range(1, min(max_words, n_words) + 1):
        if m > 1:
            all_clean = all_clean[:-1] & clean[m - 1 :]
        run_starts, run_ends = words.starts[: n_words - m + 1], words.ends[m - 1 :]
        good = all_clean & (run_ends - run_starts <= max_chars)
        found_starts.append(run_starts[good])
        found_ends.append(run_ends[good])
    starts, ends = np.concatenate(found_starts), np.concatenate(found_ends)
    keep = kept_by_cleaning(text, starts, ends, cleaning)
    return starts[keep], ends[keep]
