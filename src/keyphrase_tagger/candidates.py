"""Candidate phrases of a document and their features, for the phrase rescorer (``rescoring.py``).

Candidates are distinct strings drawn from up to three sources:

- ``words``: every run of 1 to ``MAX_WORDS`` consecutive jieba words (``segmentation.py``) without a
  strip character, 2 to ``MAX_CHARS`` characters long (in the embedded corpus they hold ~87 % of
  the gold phrases, against ~45 % for tagger spans and lexicon matches together);
- ``tagger``: the tagger's spans, decoded as they are and with ``P(O)`` scaled by
  ``candidate_o_scale``;
- ``lexicon``: every (overlapping) occurrence of a training-lexicon phrase.

Each candidate is described over all its (overlapping) occurrences in the document by the features
of the groups in use (:data:`FEATURE_GROUPS`): ``document`` (counts, position, length), ``lexicon``
(the training lists' rates), ``tagger`` (its confidences), ``words`` (the candidate's own words) and
``context`` (the words around it: how often training lists started a phrase right after the word
before it and ended one right before the word after it). All array work is vectorised over
occurrences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from keyphrase_tagger.data.cleaning import CleaningConfig, reject_reason
from keyphrase_tagger.data.labeling import PhraseMatcher
from keyphrase_tagger.decoding import decode_phrases, scale_o
from keyphrase_tagger.lexicon import Lexicon
from keyphrase_tagger.records import B, I, O
from keyphrase_tagger.segmentation import N_POS, NO_POS, POS_TAGS, Words, segment

MAX_WORDS = 4
MAX_CHARS = 16
_POS_NAMES = (*POS_TAGS, "other", "none")
FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "document": ("log_count", "recurs", "first_position", "len2", "len3", "len4", "len5_6", "len7_plus"),
    "lexicon": ("in_lexicon", "rate", "log_listed", "log_occurs", "log_count_x_in_lexicon", "rate_x_recurs"),
    "tagger": ("score_max", "score_mean", "p_begin", "end_ok", "decoded", "decoded_permissive"),
    "words": ("n_words", "log_aligned", "all_aligned", "first_log_occurs", "first_start_rate", "last_log_occurs",
              "last_end_rate", "min_inside_rate", "mean_inside_rate",
              *(f"{where}_pos_{tag}" for where in ("first", "last", "before", "after") for tag in _POS_NAMES)),
    "context": ("before_log_occurs", "before_start_rate", "after_log_occurs", "after_end_rate",
                "mean_before_start_rate", "mean_after_end_rate", "max_before_start_rate", "max_after_end_rate"),
}
GROUPS: tuple[str, ...] = tuple(FEATURE_GROUPS)
# The groups that read the training documents' word statistics (``Lexicon.words``).
WORD_STAT_GROUPS: frozenset[str] = frozenset({"words", "context"})


def needs_word_stats(groups: Sequence[str]) -> bool:
    """Whether features of ``groups`` need a lexicon built ``with_words``."""
    return bool(WORD_STAT_GROUPS & set(groups))


def feature_names(groups: Sequence[str]) -> tuple[str, ...]:
    """Column names of the feature matrix for ``groups`` (in :data:`GROUPS` order), bias first."""
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown rescorer feature groups {sorted(unknown)}; choose from {list(GROUPS)}")
    return ("bias", *(name for g in GROUPS if g in groups for name in FEATURE_GROUPS[g]))


def word_runs(text: str, words: Words, cleaning: CleaningConfig) -> set[str]:
    """Runs of 1..MAX_WORDS words that hold no strip character and pass the cleaning rules."""
    clean = [not any(ch in cleaning.strip_chars for ch in w) for w in words.strings]
    starts, ends = words.starts.tolist(), words.ends.tolist()
    runs: set[str] = set()
    for a in range(len(clean)):
        for b in range(a, min(a + MAX_WORDS, len(clean))):
            if not clean[b] or ends[b] - starts[a] > MAX_CHARS:
                break
            runs.add(text[starts[a] : ends[b]])
    return {r for r in runs if reject_reason(r, cleaning) is None}


def candidate_features(
    text: str,
    probs: np.ndarray,
    lexicon: Lexicon,
    cleaning: CleaningConfig,
    candidate_o_scale: float,
    groups: Sequence[str] = GROUPS,
) -> tuple[list[str], np.ndarray]:
    """The distinct candidate strings of ``text`` (sorted) and their ``(n, len(feature_names(groups)))``
    features; ``probs`` are the tagger's ``(len(text), 3)`` probabilities (only the ``tagger``
    group reads them); the ``words`` and ``context`` groups need ``lexicon.words``."""
    names = feature_names(groups)
    use_words, use_context = "words" in groups, "context" in groups
    if use_words or use_context:
        if lexicon.words is None:
            raise ValueError("the 'words' and 'context' feature groups need a lexicon with word statistics")
        if use_context and not lexicon.words.has_context:
            raise ValueError("the 'context' feature group needs word statistics with context counts "
                             "(saved by an older version: retrain)")
        words = segment(text)
    pool: set[str] = set()
    decoded: set[str] = set()
    permissive: set[str] = set()
    if "tagger" in groups:
        decoded = {p.text for p in decode_phrases(text, probs, cleaning)}
        permissive = {p.text for p in decode_phrases(text, scale_o(probs, candidate_o_scale), cleaning)}
        pool |= decoded | permissive
    if "lexicon" in groups:
        matcher = lexicon.matcher
        pool |= {matcher.phrases[i] for i, _, _ in matcher.find_all(text)}
    if use_words:
        pool |= word_runs(text, words, cleaning)
    if not pool:
        return [], np.zeros((0, len(names)))
    candidates = sorted(pool)
    found = PhraseMatcher(candidates).find_all(text)
    occ = np.asarray(found, dtype=np.int64).reshape(-1, 3)
    k, s, e = occ[:, 0], occ[:, 1], occ[:, 2]
    c, n = len(candidates), len(text)
    count = np.bincount(k, minlength=c).astype(np.float64)
    if not count.all():  # every candidate is a substring of the text: a bug if not
        raise AssertionError("a candidate does not occur in its text")

    def mean(values: np.ndarray) -> np.ndarray:
        return np.bincount(k, weights=values, minlength=c) / count

    length = np.array([len(p) for p in candidates], dtype=np.float64)
    log_count, recurs = np.log(count), (count >= 2).astype(np.float64)
    columns: list[np.ndarray] = [np.ones(c)]
    first = np.full(c, n, dtype=np.int64)
    np.minimum.at(first, k, s)
    columns += [log_count, recurs, first / max(n, 1), length == 2, length == 3, length == 4,
                (length >= 5) & (length <= 6), length >= 7]
    if "lexicon" in groups:
        listed = np.array([lexicon.listed.get(p, 0) for p in candidates], dtype=np.float64)
        occurs = np.array([lexicon.occurs.get(p, 0) for p in candidates], dtype=np.float64)
        in_lexicon = (listed > 0).astype(np.float64)
        rate = listed / np.maximum(occurs, 1.0)
        columns += [in_lexicon, rate, np.log1p(listed), np.log1p(occurs), log_count * in_lexicon, rate * recurs]
    if "tagger" in groups:
        inside = np.concatenate([[0.0], np.cumsum(1.0 - probs[:, O].astype(np.float64))])
        score = (inside[e] - inside[s]) / (e - s)
        score_max = np.zeros(c)
        np.maximum.at(score_max, k, score)
        end_ok = np.where(e < n, 1.0 - probs[np.minimum(e, n - 1), I], 1.0)
        columns += [score_max, mean(score), mean(probs[s, B].astype(np.float64)), mean(end_ok),
                    np.array([p in decoded for p in candidates], dtype=np.float64),
                    np.array([p in permissive for p in candidates], dtype=np.float64)]
    if use_words or use_context:
        where = _Placement.of(k, s, e, c, n, words)
        rates = lexicon.words.rates(words.strings)
        if use_words:
            columns += _word_columns(k, c, count, where, words, rates)
        if use_context:
            columns += _context_columns(k, s, e, c, count, where, len(words), rates)
    x = np.column_stack([np.asarray(col, dtype=np.float64) for col in columns])
    if x.shape[1] != len(names):  # the table above and FEATURE_GROUPS must agree
        raise AssertionError(f"{x.shape[1]} feature columns for {len(names)} names")
    return candidates, x


@dataclass(frozen=True)
class _Placement:
    """How the occurrences ``(k, s, e)`` sit on the words: ``at_start``/``at_end`` flag the word
    boundaries (``n + 1`` positions); per occurrence its first and last word; per candidate
    ``ref``, the occurrence that describes it: its first word-aligned one, else its first."""

    at_start: np.ndarray
    at_end: np.ndarray
    aligned: np.ndarray
    first_word: np.ndarray
    last_word: np.ndarray
    ref: np.ndarray

    @classmethod
    def of(cls, k: np.ndarray, s: np.ndarray, e: np.ndarray, c: int, n: int, words: Words) -> "_Placement":
        at_start = np.zeros(n + 1, dtype=bool)
        at_end = np.zeros(n + 1, dtype=bool)
        at_start[words.starts] = True
        at_end[words.ends] = True
        aligned = at_start[s] & at_end[e]
        order = np.lexsort((s, ~aligned, k))
        _, first_of = np.unique(k[order], return_index=True)
        char_word = words.index_of_chars(n)
        return cls(at_start, at_end, aligned, char_word[s], char_word[e - 1], order[first_of])


def _word_columns(k: np.ndarray, c: int, count: np.ndarray, where: _Placement, words: Words,
                  rates: np.ndarray) -> list[np.ndarray]:
    """The ``words`` group: how the candidate sits on word boundaries and what its words are.
    ``rates``: :meth:`WordStats.rates` of the document's words."""
    n_aligned = np.bincount(k, weights=where.aligned, minlength=c)
    a, b = where.first_word[where.ref], where.last_word[where.ref]
    inside = np.append(rates[:, 3], 0.0)
    bounds = np.column_stack([a, b + 1]).ravel()
    min_inside = np.minimum.reduceat(inside, bounds)[::2]
    cum = np.concatenate([[0.0], np.cumsum(rates[:, 3])])
    n_words = (b - a + 1).astype(np.float64)
    columns = [n_words, np.log1p(n_aligned), (n_aligned == count).astype(np.float64),
               rates[a, 0], rates[a, 1], rates[b, 0], rates[b, 2], min_inside, (cum[b + 1] - cum[a]) / n_words]
    pos = np.append(words.pos, NO_POS)  # index -1 and len(words) both read NO_POS
    for ids in (pos[a], pos[b], pos[a - 1], pos[b + 1]):
        onehot = np.zeros((c, N_POS))
        onehot[np.arange(c), ids] = 1.0
        columns += list(onehot.T)
    return columns


def _context_columns(k: np.ndarray, s: np.ndarray, e: np.ndarray, c: int, count: np.ndarray,
                     where: _Placement, n_words: int, rates: np.ndarray) -> list[np.ndarray]:
    """The ``context`` group: the word before the describing occurrence (how common, how often a
    listed phrase started right after it) and the word after it (how often one ended right before
    it); then the same two rates averaged and maximised over all occurrences, counted only where
    the occurrence starts (ends) on a word boundary, else 0."""
    # One extra row for "no word there" (index -1 before the first word, n_words after the last):
    # never seen, so the prior rate 0.1.
    log_occurs = np.append(rates[:, 0], 0.0)
    before_start = np.append(rates[:, 4], 0.1)
    after_end = np.append(rates[:, 5], 0.1)
    a, b = where.first_word[where.ref], where.last_word[where.ref]
    fw, lw = where.first_word, where.last_word
    starts_ok = where.at_start[s] & (fw > 0)
    ends_ok = where.at_end[e] & (lw + 1 < n_words)
    each_before = np.where(starts_ok, before_start[fw - 1], 0.0)
    each_after = np.where(ends_ok, after_end[lw + 1], 0.0)  # lw + 1 <= n_words: the extra row at most
    max_before, max_after = np.zeros(c), np.zeros(c)
    np.maximum.at(max_before, k, each_before)
    np.maximum.at(max_after, k, each_after)
    return [log_occurs[a - 1], before_start[a - 1], log_occurs[b + 1], after_end[b + 1],
            np.bincount(k, weights=each_before, minlength=c) / count,
            np.bincount(k, weights=each_after, minlength=c) / count, max_before, max_after]
