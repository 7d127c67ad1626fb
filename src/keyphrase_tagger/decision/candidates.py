"""Candidate phrases of a document and their features, for the phrase rescorer (``rescorer.py``).

Candidates are distinct strings drawn from up to three sources:

- ``words``: every run of 1 to ``max_words`` consecutive jieba words (``lexicon/segmentation.py``)
  without a strip character, 2 to ``max_chars`` characters long (the rescorer's ``word_limits``; at
  4 words and 16 characters they hold ~87 % of the gold phrases of the embedded corpus, against
  ~45 % for tagger spans and lexicon matches together);
- ``tagger``: the tagger's spans, decoded as they are and with ``P(O)`` scaled by
  ``candidate_o_scale``;
- ``lexicon``: every (overlapping) occurrence of a training-lexicon phrase.

Each candidate is described over all its (overlapping) occurrences in the document by the
columns of the feature groups in use (``feature_groups.py``, :data:`FEATURE_GROUPS`).

All of it is array work over spans and occurrences, with no Python per candidate: the sources
give span arrays (``spans.py``); the distinct strings and all their occurrences come from integer
substring keys (``substrings.py``), not from an automaton built per text; the lexicon's counts
come from one scan with the lexicon's own matcher, built once (``Lexicon.counts``); the
segmentation is done once per text and shared by every source and group
(``occurrences.TextInputs``). The strings themselves are written only for callers that ask for
them (:func:`candidate_features`); the decision (``Rescorer.decide``) never does, and reads the
one-hot columns as category ids (``features.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keyphrase_tagger.data.characters import code_points
from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.decision.feature_groups import (
    FEATURE_GROUPS,
    GROUPS,
    feature_names,
    needs_word_stats,
    registered,
)
from keyphrase_tagger.decision.features import Features, OneHot
from keyphrase_tagger.decision.occurrences import Occurrences, TextInputs
from keyphrase_tagger.decision.spans import MAX_CHARS, MAX_WORDS, joined_spans, no_spans, strip_mask, word_run_spans
from keyphrase_tagger.decision.substrings import CandidateStrings
from keyphrase_tagger.lexicon.lexicon import Lexicon
from keyphrase_tagger.lexicon.segmentation import Words

__all__ = ["MAX_CHARS", "MAX_WORDS", "FEATURE_GROUPS", "GROUPS", "candidate_features", "described_candidates",
           "feature_names", "needs_word_stats", "word_runs"]


def word_runs(text: str, words: Words, cleaning: CleaningConfig,
              word_limits: tuple[int, int] = (MAX_WORDS, MAX_CHARS)) -> set[str]:
    """Runs of 1..max_words words (at most max_chars characters, ``word_limits``) that hold no strip
    character and pass the cleaning rules, as strings (the ``words`` source gives them as spans)."""
    starts, ends = word_run_spans(text, words, strip_mask(code_points(text), cleaning.strip_chars), cleaning,
                                  *word_limits)
    return {text[a:b] for a, b in zip(starts.tolist(), ends.tolist())}


def described_candidates(
    text: str,
    probs: np.ndarray,
    lexicon: Lexicon,
    cleaning: CleaningConfig,
    candidate_o_scale: float,
    groups: Sequence[str] = GROUPS,
    word_limits: tuple[int, int] = (MAX_WORDS, MAX_CHARS),
) -> tuple[Occurrences, Features] | None:
    """The candidates of ``text`` with all their occurrences and their features (columns
    ``feature_names(groups)``, one row per candidate number, ``Occurrences.candidates``);
    ``None`` if there are no candidates. Arguments as :func:`candidate_features`."""
    used = registered(groups)
    reading_words = [name for name, group in used if group.word_stats]
    if reading_words and lexicon.words is None:
        raise ValueError(f"the feature groups {reading_words} need a lexicon with word statistics "
                         "(build_lexicon(..., with_words=True))")
    inputs = TextInputs(text, probs, lexicon, cleaning, candidate_o_scale, tuple(word_limits))
    pool = [group.candidates(inputs) for _, group in used if group.candidates is not None]
    starts, ends = joined_spans(*pool) if pool else no_spans()
    if not len(starts):
        return None
    strings = CandidateStrings(text, inputs.keys, starts, ends)
    k, s, e = strings.occurrences()
    count = np.bincount(k, minlength=len(strings)).astype(np.float64)
    if not count.all():  # every candidate is a substring of the text: a bug if not
        raise AssertionError("a candidate does not occur in its text")
    occurrences = Occurrences(inputs, strings, k, s, e, count)
    columns: list[np.ndarray | OneHot] = [np.ones(len(strings))]  # the bias
    for name, group in used:
        group_columns = group.columns(occurrences)
        n_columns = sum(c.width if isinstance(c, OneHot) else 1 for c in group_columns)
        if n_columns != len(group.names):  # a group's function and its names must agree
            raise AssertionError(f"feature group {name!r}: {n_columns} columns for {len(group.names)} names")
        columns += group_columns
    return occurrences, Features.of(columns, len(strings))


def candidate_features(
    text: str,
    probs: np.ndarray,
    lexicon: Lexicon,
    cleaning: CleaningConfig,
    candidate_o_scale: float,
    groups: Sequence[str] = GROUPS,
    word_limits: tuple[int, int] = (MAX_WORDS, MAX_CHARS),
) -> tuple[list[str], np.ndarray]:
    """The distinct candidate strings of ``text`` (sorted) and their ``(n, len(feature_names(groups)))``
    features; ``probs`` are the tagger's ``(len(text), 3)`` probabilities (only the ``tagger``
    group reads them); the ``words`` and ``context`` groups need ``lexicon.words``; ``word_limits``:
    the most words and characters of a word run (``words`` group)."""
    described = described_candidates(text, probs, lexicon, cleaning, candidate_o_scale, groups, word_limits)
    if described is None:
        return [], np.zeros((0, len(feature_names(groups))))
    occurrences, features = described
    order = occurrences.strings.sorted_order()
    return [occurrences.candidates[k] for k in order], features.matrix()[order]
