"""General-domain inverse document frequencies of Chinese words: the table jieba ships for its
TF-IDF keyword extraction (``jieba/analyse/idf.txt``, ~270k words), read as arrays.

The training lists describe how often a string is listed in a few dozen documents; this table says
how rare a word is in general text, which a small corpus cannot: a keyphrase is usually a
specialised term (商业银行 6.7) rather than a common word (发展 3.6, 的 0.9).
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from itertools import repeat

import numpy as np

from keyphrase_tagger.errors import ConfigError


@dataclass(frozen=True)
class GeneralIdf:
    """``idf[word]``; ``median``, what a word missing from the table gets (jieba's own rule);
    ``sha256`` of the table file, saved with a rescorer that reads it."""

    idf: dict[str, float]
    median: float
    sha256: str

    def of_words(self, words: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Per word, its idf (the median if absent) and whether the table holds it."""
        values = np.fromiter(map(self.idf.get, words, repeat(np.nan)), dtype=np.float64, count=len(words))
        known = ~np.isnan(values)
        return np.where(known, values, self.median), known.astype(np.float64)


@functools.cache
def general_idf() -> GeneralIdf:
    """The table of the installed ``jieba`` package (the ``general`` feature group's extra)."""
    try:
        from importlib.resources import files

        data = (files("jieba") / "analyse" / "idf.txt").read_bytes()
    except (ModuleNotFoundError, FileNotFoundError):
        raise ConfigError("the rescorer's 'general' feature group needs jieba's idf table: "
                          "pip install 'keyphrase-tagger[general]' (jieba)") from None
    idf = {}
    for line in data.decode("utf-8").splitlines():
        word, _, value = line.rpartition(" ")
        if word:
            idf[word] = float(value)
    return GeneralIdf(idf, float(np.median(np.fromiter(idf.values(), dtype=np.float64))),
                      hashlib.sha256(data).hexdigest())
