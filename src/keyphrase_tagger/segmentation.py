"""Word segmentation and part-of-speech tags (jieba's dictionary and HMM, via ``rjieba``), and the
training documents' statistics per word.

Listed phrases are overwhelmingly whole words or runs of whole words (in the embedded corpus 89 % of
the distinct gold phrases are 1-5 consecutive jieba words; 77 % of their occurrences start and end
on word boundaries). A small tagger trained from scratch on ~200k characters cannot learn where
Chinese words begin and end; jieba's dictionary knows it. So the phrase rescorer takes word runs as
candidates and describes each by its words: their part of speech, and how often the training lists
started a phrase at the first word, ended one at the last, or covered each word; and by the words
around it: how often a listed phrase began right after the word before it, or ended right before
the word after it (in the embedded corpus a listed phrase follows 58-79 % of the occurrences of
促进, 推动, 提升 and 开展, and precedes 52 % of those of 等).

``rjieba`` (Rust bindings of jieba-rs) is used rather than ``jieba``: the same dictionary and tag
set, ~35x faster (it segments the 250k-character corpus in 0.07 s), maintained, and it writes no
cache files.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keyphrase_tagger.data.labeling import PhraseMatcher, label_text
from keyphrase_tagger.decoding import tags_to_spans
from keyphrase_tagger.errors import CheckpointError
from keyphrase_tagger.records import Document

WORD_STATS_FILE = "word_stats.json"
# jieba's part-of-speech tags, the 24 most frequent in the embedded corpus first; anything else is
# OTHER_POS, and NO_POS stands for "no word there" (before the first or after the last word).
POS_TAGS: tuple[str, ...] = ("n", "x", "v", "vn", "p", "uj", "ns", "c", "m", "a", "d", "nr", "j", "u", "r", "f",
                             "l", "b", "nt", "nz", "q", "t", "s", "ad")
OTHER_POS, NO_POS = len(POS_TAGS), len(POS_TAGS) + 1
N_POS = len(POS_TAGS) + 2
_POS_ID = {tag: i for i, tag in enumerate(POS_TAGS)}
# Counters kept per word: occurrences; a gold span starts at the word / ends with it / covers it /
# starts right after it / ends right before it.
STAT_KEYS: tuple[str, ...] = ("occurs", "starts", "ends", "inside", "before_start", "after_end")


@dataclass(frozen=True)
class Words:
    """A text's words: ``text[starts[k]:ends[k]]`` is word ``k``, ``pos[k]`` its tag id."""

    starts: np.ndarray
    ends: np.ndarray
    pos: np.ndarray
    strings: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.strings)

    def index_of_chars(self, n_chars: int) -> np.ndarray:
        """For each character, the index of the word it belongs to."""
        return np.repeat(np.arange(len(self), dtype=np.int64), self.ends - self.starts)[:n_chars]


def segment(text: str) -> Words:
    """jieba's segmentation (with its HMM for unknown words) and POS tags; words tile the text."""
    import rjieba  # imported here: only the rescorer and the word statistics need it

    pairs = rjieba.tag(text) if text else []
    strings = tuple(w for w, _ in pairs)
    lengths = np.fromiter((len(w) for w in strings), dtype=np.int64, count=len(strings))
    ends = np.cumsum(lengths)
    if len(text) != (int(ends[-1]) if len(ends) else 0):  # a bug in the segmenter, not the user's input
        raise AssertionError("segmentation does not tile the text")
    pos = np.fromiter((_POS_ID.get(p, OTHER_POS) for _, p in pairs), dtype=np.int64, count=len(pairs))
    return Words(ends - lengths, ends, pos, strings)


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
        width = len(STAT_KEYS)
        table = np.array([self.counts.get(w, (0,) * width) for w in strings], dtype=np.float64).reshape(-1, width)
        out = np.empty_like(table)
        out[:, 0] = np.log1p(table[:, 0])
        out[:, 1:] = (table[:, 1:] + 0.1) / (table[:, :1] + 1.0)
        return out

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
