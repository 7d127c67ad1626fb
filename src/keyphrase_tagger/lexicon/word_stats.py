"""The training documents' statistics per jieba word (saved with the checkpoint as
``word_stats.json``): how often the training lists started a phrase at a word, ended one with it,
covered it, or began or ended right beside it."""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np

from keyphrase_tagger.data.labeling import label_text, tags_to_spans
from keyphrase_tagger.data.matching import PhraseMatcher
from keyphrase_tagger.errors import CheckpointError
from keyphrase_tagger.lexicon.segmentation import Words, segment
from keyphrase_tagger.records import Document

WORD_STATS_FILE = "word_stats.json"
# Counters kept per word: occurrences; a gold span starts at the word / ends with it / covers it /
# starts right after it / ends right before it.
STAT_KEYS: tuple[str, ...] = ("occurs", "starts", "ends", "inside", "before_start", "after_end")


def word_counts(words: Words, tags: np.ndarray) -> Counter:
    """``(word, key)`` counts of one document, ``key`` in :data:`STAT_KEYS`, from its gold tag ids
    (the labeling function's output, so gold spans are defined in one place)."""
    starts, ends = tags_to_spans(tags)
    span_start = np.zeros(len(tags) + 1, dtype=bool)
    span_end = np.zeros(len(tags) + 1, dtype=bool)
    span_start[starts] = True
    span_end[ends] = True
    # Span id per character (0 outside): a word is covered when its first and last characters lie
    # in the same span.
    delta = np.zeros(len(tags) + 1, dtype=np.int64)
    delta[starts] += np.arange(1, len(starts) + 1)
    delta[ends] -= np.arange(1, len(starts) + 1)
    span_id = np.cumsum(delta)  # spans never overlap: at most one is open at a time
    first, last = span_id[words.starts], span_id[np.maximum(words.ends - 1, 0)]
    inside = (first > 0) & (first == last)
    counts: Counter = Counter((w, "occurs") for w in words.strings)
    for key, flags in (("starts", span_start[words.starts]), ("ends", span_end[words.ends]), ("inside", inside),
                       ("before_start", span_start[words.ends]), ("after_end", span_end[words.starts])):
        counts.update((words.strings[k], key) for k in np.flatnonzero(flags).tolist())
    return counts


def document_word_counts(document: Document) -> Counter:
    """:func:`word_counts` of a document, its gold tags labeled from its own list."""
    tags, _ = label_text(document.text, PhraseMatcher(document.phrases))
    return word_counts(segment(document.text), tags)


@dataclass(frozen=True)
class WordStats:
    """Per word of the training documents: counts of :data:`STAT_KEYS`. Saved with the checkpoint."""

    counts: dict[str, tuple[int, ...]]  # per word, one count per STAT_KEYS entry

    def rates(self, strings: Sequence[str]) -> np.ndarray:
        """``(len(strings), len(STAT_KEYS))``: log(1 + occurrences), then the smoothed rate of each
        other key per occurrence (an unseen word gets 0.1)."""
        row_of, table = self._rate_table
        rows = np.fromiter(map(row_of.get, strings, repeat(len(table) - 1)), dtype=np.int64, count=len(strings))
        return table[rows]

    @functools.cached_property
    def _rate_table(self) -> tuple[dict[str, int], np.ndarray]:
        """The rates of every word, and of an unseen one (the last row), computed once per
        statistics: a text's rates are then rows of it, one dictionary lookup per word."""
        width = len(STAT_KEYS)
        words = list(self.counts)
        counts = np.array([*(self.counts[w] for w in words), (0,) * width], dtype=np.float64).reshape(-1, width)
        table = np.empty_like(counts)
        table[:, 0] = np.log1p(counts[:, 0])
        table[:, 1:] = (counts[:, 1:] + 0.1) / (counts[:, :1] + 1.0)
        return {w: i for i, w in enumerate(words)}, table

    def without(self, own: Counter) -> "WordStats":
        """These statistics as if the document with counts ``own`` had not been seen."""
        counts = dict(self.counts)
        for w in {w for w, _ in own}:
            row = tuple(n - own[(w, key)] for n, key in zip(counts[w], STAT_KEYS))
            if row[0] > 0:
                counts[w] = row
            else:
                del counts[w]
        return WordStats(counts)

    def save(self, directory: str | Path) -> None:
        """Write ``word_stats.json`` into ``directory``: per word, its counts in :data:`STAT_KEYS` order."""
        data = {w: list(self.counts[w]) for w in sorted(self.counts)}
        (Path(directory) / WORD_STATS_FILE).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: str | Path) -> "WordStats":
        """Read what :meth:`save` wrote; anything else is a :class:`CheckpointError` naming the file."""
        path = Path(directory) / WORD_STATS_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            counts = {w: tuple(int(x) for x in v) for w, v in data.items()}
        except FileNotFoundError:
            raise CheckpointError(f"{path}: missing (the word statistics the phrase rescorer needs)") from None
        except (ValueError, TypeError, AttributeError) as err:
            raise CheckpointError(f"{path}: unreadable word statistics ({err})") from None
        for word, row in counts.items():
            if len(row) != len(STAT_KEYS):
                raise CheckpointError(f"{path}: unreadable word statistics ({word!r} has {len(row)} counts, "
                                      f"expected {len(STAT_KEYS)}: {', '.join(STAT_KEYS)})")
        return cls(counts)


def build_word_stats(per_document: Iterable[Counter]) -> WordStats:
    """Pool the :func:`word_counts` of the training documents."""
    total: Counter = Counter()
    for counts in per_document:
        total.update(counts)
    words = {w for w, _ in total}
    return WordStats({w: tuple(total[(w, key)] for key in STAT_KEYS) for w in words})
