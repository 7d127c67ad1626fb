"""The training lexicon: every gold phrase of the training split, with how often it is listed
where it occurs, and (for the phrase rescorer) per-word statistics of the training documents.
Saved with each checkpoint; the gazetteer baselines read it."""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keyphrase_tagger.data.matching import PhraseMatcher
from keyphrase_tagger.errors import CheckpointError
from keyphrase_tagger.lexicon.word_stats import (
    WORD_STATS_FILE,
    WordStats,
    build_word_stats,
    document_word_counts,
)
from keyphrase_tagger.records import Document

LEXICON_FILE = "lexicon.json"


@dataclass(frozen=True)
class PhraseCounts:
    """Every phrase with a count in a lexicon, in one matcher, and its counts as arrays aligned with
    ``matcher.phrases``: a text's phrases and their counts come from one scan, no lookup per string."""

    matcher: PhraseMatcher
    listed: np.ndarray  # float64, Lexicon.listed (0 where absent)
    occurs: np.ndarray  # float64, Lexicon.occurs (0 where absent)
    is_listed: np.ndarray  # bool: a phrase of Lexicon.phrases() (what Lexicon.matcher finds)


@dataclass(frozen=True)
class Lexicon:
    listed: dict[str, int]  # training documents that list the phrase
    occurs: dict[str, int]  # training documents whose text contains it
    words: WordStats | None = None  # word_stats.py; built only where the rescorer's word features need it

    def rate(self, phrase: str) -> float:
        """P(listed | occurs), at document level."""
        return self.listed.get(phrase, 0) / max(self.occurs.get(phrase, 0), 1)

    def phrases(self, min_rate: float | None = None) -> list[str]:
        """Phrases in a fixed order; with ``min_rate``, only those whose rate exceeds it."""
        return [p for p in sorted(self.listed) if min_rate is None or self.rate(p) > min_rate]

    @functools.cached_property
    def matcher(self) -> PhraseMatcher:
        """A matcher over :meth:`phrases`, built once per lexicon: every document reuses it."""
        return PhraseMatcher(self.phrases())

    @functools.cached_property
    def counts(self) -> PhraseCounts:
        """:class:`PhraseCounts` over the listed phrases and any others with an ``occurs`` count
        (leave-one-out lexicons have some), built once per lexicon."""
        extra = sorted(p for p, n in self.occurs.items() if n != 0 and p not in self.listed)
        matcher = PhraseMatcher([*self.phrases(), *extra]) if extra else self.matcher
        phrases = matcher.phrases
        return PhraseCounts(
            matcher,
            np.fromiter((self.listed.get(p, 0) for p in phrases), dtype=np.float64, count=len(phrases)),
            np.fromiter((self.occurs.get(p, 0) for p in phrases), dtype=np.float64, count=len(phrases)),
            np.fromiter((p in self.listed for p in phrases), dtype=bool, count=len(phrases)),
        )

    def save(self, directory: str | Path) -> None:
        data = {p: [self.listed[p], self.occurs.get(p, 0)] for p in sorted(self.listed)}
        (Path(directory) / LEXICON_FILE).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        if self.words is not None:
            self.words.save(directory)

    @classmethod
    def load(cls, directory: str | Path) -> "Lexicon":
        path = Path(directory) / LEXICON_FILE
        # A checkpoint copied without its lexicon is a user's mistake: one line, not a traceback.
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            listed, occurs = {p: int(v[0]) for p, v in data.items()}, {p: int(v[1]) for p, v in data.items()}
        except FileNotFoundError:
            raise CheckpointError(f"{path}: missing (the training lexicon the gazetteer baselines need)") from None
        except (ValueError, TypeError, IndexError, AttributeError) as err:
            raise CheckpointError(f"{path}: unreadable lexicon ({err})") from None
        words = WordStats.load(directory) if (Path(directory) / WORD_STATS_FILE).is_file() else None
        return cls(listed, occurs, words)


def build_lexicon(documents: Iterable[Document], with_words: bool = False) -> Lexicon:
    """The lexicon of ``documents``; ``with_words`` adds their word statistics."""
    documents = list(documents)
    listed = Counter(p for d in documents for p in set(d.phrases))
    matcher = PhraseMatcher(sorted(listed))
    occurs: Counter = Counter()
    for d in documents:
        occurs.update({matcher.phrases[i] for i, _, _ in matcher.find_all(d.text)})
    words = build_word_stats(document_word_counts(d) for d in documents) if with_words else None
    return Lexicon(dict(listed), dict(occurs), words)
