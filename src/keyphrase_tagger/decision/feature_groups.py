"""The phrase rescorer's feature groups: what each column of a candidate's row says, computed over
all its (overlapping) occurrences in the text (:class:`~keyphrase_tagger.decision.occurrences.Occurrences`).

``document`` (counts, position, length), ``lexicon`` (the training lists' rates), ``tagger`` (its
confidences), ``words`` (the candidate's own words), ``context`` (the words around it: how often
training lists started a phrase right after the word before it and ended one right before the
word after it) and ``span`` (the tagger's probability of the whole span as one tag path) make the
default; opt-in, ``general`` (the general-domain idf of its words), ``relative`` (its standing
among the text's candidates) and ``branching`` (what the text holds on either side of it).

A group is one :func:`feature_group` registration on its column function: its column names, the
candidates it adds to the pool (if any) and whether it reads the word statistics. The registration
order is the column order, which saved rescorers depend on: a new group goes last. Every column is
array work over the occurrences, with no Python per candidate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from keyphrase_tagger.decision.features import OneHot
from keyphrase_tagger.decision.occurrences import Occurrences, TextInputs, range_reduce
from keyphrase_tagger.decision.spans import Spans, joined_spans
from keyphrase_tagger.lexicon.segmentation import N_POS, NO_POS, POS_TAGS
from keyphrase_tagger.records import B, I

_POS_NAMES = (*POS_TAGS, "other", "none")


@dataclass(frozen=True)
class FeatureGroup:
    """A group of rescorer features: its column ``names``, the function that computes them (one
    array over the candidates per name), the candidates it adds to the pool as spans of the text
    (``None``: none) and whether it reads the lexicon's word statistics."""

    names: tuple[str, ...]
    columns: Callable[[Occurrences], list[np.ndarray | OneHot]]  # a OneHot stands for its width of names
    candidates: Callable[[TextInputs], Spans] | None = None
    word_stats: bool = False


_REGISTRY: dict[str, FeatureGroup] = {}


def feature_group(name: str, names: Sequence[str], candidates: Callable[[TextInputs], Spans] | None = None,
                  word_stats: bool = False) -> Callable:
    """Register the decorated column function as feature group ``name`` (after those already registered)."""
    def register(columns: Callable[[Occurrences], list]) -> Callable[[Occurrences], list]:
        _REGISTRY[name] = FeatureGroup(tuple(names), columns, candidates, word_stats)
        return columns
    return register


@feature_group("document", ("log_count", "recurs", "first_position", "len2", "len3", "len4", "len5_6", "len7_plus"))
def _document_columns(occ: Occurrences) -> list[np.ndarray]:
    length = occ.strings.lengths.astype(np.float64)
    first = np.full(occ.c, occ.n, dtype=np.int64)
    np.minimum.at(first, occ.k, occ.s)
    return [occ.log_count, occ.recurs, first / max(occ.n, 1), length == 2, length == 3, length == 4,
            (length >= 5) & (length <= 6), length >= 7]


@feature_group("lexicon", ("in_lexicon", "rate", "log_listed", "log_occurs", "log_count_x_in_lexicon", "rate_x_recurs"),
               candidates=lambda inputs: inputs.lexicon_matches)
def _lexicon_columns(occ: Occurrences) -> list[np.ndarray]:
    listed, occurs = occ.lexicon_counts()
    in_lexicon = (listed > 0).astype(np.float64)
    rate = listed / np.maximum(occurs, 1.0)
    return [in_lexicon, rate, np.log1p(listed), np.log1p(occurs), occ.log_count * in_lexicon, rate * occ.recurs]


@feature_group("tagger", ("score_max", "score_mean", "p_begin", "end_ok", "decoded", "decoded_permissive"),
               candidates=lambda inputs: joined_spans(inputs.decoded, inputs.permissive))
def _tagger_columns(occ: Occurrences) -> list[np.ndarray]:
    probs, s, e, n = occ.inputs.probs, occ.s, occ.e, occ.n
    end_ok = np.where(e < n, 1.0 - probs[np.minimum(e, n - 1), I], 1.0)
    return [occ.tagger_score_max, occ.mean(occ.tagger_score), occ.mean(probs[s, B].astype(np.float64)),
            occ.mean(end_ok), occ.contains(occ.inputs.decoded), occ.contains(occ.inputs.permissive)]


@feature_group("words", ("n_words", "log_aligned", "all_aligned", "first_log_occurs", "first_start_rate",
                         "last_log_occurs", "last_end_rate", "min_inside_rate", "mean_inside_rate",
                         *(f"{where}_pos_{tag}" for where in ("first", "last", "before", "after")
                           for tag in _POS_NAMES)),
               candidates=lambda inputs: inputs.word_runs, word_stats=True)
def _word_columns(occ: Occurrences) -> list[np.ndarray | OneHot]:
    """How the candidate sits on word boundaries and what its words are."""
    k, c, count, where, rates = occ.k, occ.c, occ.count, occ.placement, occ.rates
    n_aligned = np.bincount(k, weights=where.aligned, minlength=c)
    a, b = where.first, where.last
    min_inside = range_reduce(np.minimum, rates[:, 3], a, b)
    cum = np.concatenate([[0.0], np.cumsum(rates[:, 3])])
    n_words = (b - a + 1).astype(np.float64)
    columns = [n_words, np.log1p(n_aligned), (n_aligned == count).astype(np.float64),
               rates[a, 0], rates[a, 1], rates[b, 0], rates[b, 2], min_inside, (cum[b + 1] - cum[a]) / n_words]
    pos = np.append(occ.inputs.words.pos, NO_POS)  # index -1 and len(words) both read NO_POS
    return columns + [OneHot(ids, N_POS) for ids in (pos[a], pos[b], pos[a - 1], pos[b + 1])]


@feature_group("context", ("before_log_occurs", "before_start_rate", "after_log_occurs", "after_end_rate",
                           "mean_before_start_rate", "mean_after_end_rate", "max_before_start_rate",
                           "max_after_end_rate"), word_stats=True)
def _context_columns(occ: Occurrences) -> list[np.ndarray]:
    """The word before the describing occurrence (how common, how often a listed phrase started
    right after it) and the word after it (how often one ended right before it); then the same two
    rates averaged and maximised over all occurrences, counted only where the occurrence starts
    (ends) on a word boundary, else 0."""
    k, s, e, c, where, rates = occ.k, occ.s, occ.e, occ.c, occ.placement, occ.rates
    n_words = len(occ.inputs.words)
    # One extra row for "no word there" (index -1 before the first word, n_words after the last):
    # never seen, so the prior rate 0.1.
    log_occurs = np.append(rates[:, 0], 0.0)
    before_start = np.append(rates[:, 4], 0.1)
    after_end = np.append(rates[:, 5], 0.1)
    a, b = where.first, where.last
    fw, lw = where.first_word, where.last_word
    starts_ok = where.at_start[s] & (fw > 0)
    ends_ok = where.at_end[e] & (lw + 1 < n_words)
    each_before = np.where(starts_ok, before_start[fw - 1], 0.0)
    each_after = np.where(ends_ok, after_end[lw + 1], 0.0)  # lw + 1 <= n_words: the extra row at most
    max_before, max_after = np.zeros(c), np.zeros(c)
    np.maximum.at(max_before, k, each_before)
    np.maximum.at(max_after, k, each_after)
    return [log_occurs[a - 1], before_start[a - 1], log_occurs[b + 1], after_end[b + 1],
            occ.mean(each_before), occ.mean(each_after), max_before, max_after]


@feature_group("general", ("idf_mean", "idf_min", "idf_max", "unknown_word_share", "log_count_x_idf_mean"))
def _general_columns(occ: Occurrences) -> list[np.ndarray]:
    """How rare the candidate's words are in general text (``lexicon/general_idf.py``): the mean,
    least and greatest idf of the words of its describing occurrence, the share of them the table
    does not hold, and the mean idf weighted by how often the candidate occurs here (TF-IDF)."""
    idf, known = occ.inputs.word_idf
    a, b = occ.placement.first, occ.placement.last
    n_words = (b - a + 1).astype(np.float64)
    cum = np.concatenate([[0.0], np.cumsum(idf)])
    cum_known = np.concatenate([[0.0], np.cumsum(known)])
    mean = (cum[b + 1] - cum[a]) / n_words
    return [mean, range_reduce(np.minimum, idf, a, b), range_reduce(np.maximum, idf, a, b),
            1.0 - (cum_known[b + 1] - cum_known[a]) / n_words, occ.log_count * mean]


@feature_group("relative", ("log_text_chars", "log_count_per_kchar", "tagger_rank", "count_rank"))
def _relative_columns(occ: Occurrences) -> list[np.ndarray]:
    """The candidate against the rest of its text (the decided piece of a long one): the text's
    length, how densely the candidate occurs in it, and the share of the text's candidates that
    the tagger scores lower (best occurrences) or that occur fewer times."""
    chars = max(occ.n, 1)
    return [np.full(occ.c, np.log(chars)), np.log(occ.count * 1000.0 / chars), _share_below(occ.tagger_score_max),
            _share_below(occ.count)]


# Probabilities are floored before their logs: a tagger sure of a tag gives 0 to the others.
_LOG_FLOOR = 1e-6


@feature_group("span", ("span_log_prob_max", "span_log_prob_mean", "span_log_prob_per_char_max"))
def _span_columns(occ: Occurrences) -> list[np.ndarray]:
    """The tagger's probability of the occurrence as a whole span, read off its per-character
    probabilities as one path: ``B-KP`` at its first character, ``I-KP`` at each of the others, and
    no ``I-KP`` right after it (log, floored at 1e-6 per factor); over the occurrences, the best,
    the mean, and the best per character. The ``tagger`` group reads each character alone."""
    probs, s, e = occ.inputs.probs.astype(np.float64), occ.s, occ.e
    log_begin = np.log(np.maximum(probs[:, B], _LOG_FLOOR))
    log_inside = np.concatenate([[0.0], np.cumsum(np.log(np.maximum(probs[:, I], _LOG_FLOOR)))])
    log_end = np.append(np.log(np.maximum(1.0 - probs[:, I], _LOG_FLOOR)), 0.0)  # the text's end ends it
    path = log_begin[s] + (log_inside[e] - log_inside[s + 1]) + log_end[e]
    best = np.full(occ.c, -np.inf)
    np.maximum.at(best, occ.k, path)
    # A candidate's occurrences share its length: its best per character is its best over it.
    return [best, occ.mean(path), best / occ.strings.lengths]


@feature_group("branching", ("left_log_variety", "left_entropy", "left_top_share",
                             "right_log_variety", "right_entropy", "right_top_share"))
def _branching_columns(occ: Occurrences) -> list[np.ndarray]:
    """What the text holds on either side of the candidate's occurrences (accessor variety and
    branching entropy): per side, the number of distinct characters there (log), their entropy and
    the share of the occurrences with the most common one. A fragment of a longer term (商业银, 行
    after every occurrence) has one neighbour; a unit of its own has many. The text's start and end
    count as a character of their own."""
    codes, n = occ.inputs.codes, occ.n
    before = np.where(occ.s > 0, codes[np.maximum(occ.s - 1, 0)] + 1, 0)
    after = np.where(occ.e < n, codes[np.minimum(occ.e, n - 1)] + 1, 0)
    return [*_neighbour_spread(occ, before), *_neighbour_spread(occ, after)]


def _neighbour_spread(occ: Occurrences, neighbour: np.ndarray) -> list[np.ndarray]:
    """Per candidate, over its occurrences' ``neighbour`` ids: log(1 + distinct ids), their entropy
    and the share of the most common id."""
    width = int(neighbour.max(initial=0)) + 1
    pairs, counts = np.unique(occ.k * width + neighbour, return_counts=True)  # (candidate, neighbour) pairs
    k = pairs // width
    share = counts / occ.count[k]
    top = np.zeros(occ.c)
    np.maximum.at(top, k, share)
    return [np.log1p(np.bincount(k, minlength=occ.c).astype(np.float64)),
            np.bincount(k, weights=-share * np.log(share), minlength=occ.c), top]


def _share_below(values: np.ndarray) -> np.ndarray:
    """Per value, the share of ``values`` strictly below it."""
    return np.searchsorted(np.sort(values), values, side="left") / len(values)


FEATURE_GROUPS: dict[str, tuple[str, ...]] = {name: group.names for name, group in _REGISTRY.items()}
GROUPS: tuple[str, ...] = tuple(_REGISTRY)
# The groups that read the training documents' word statistics (``Lexicon.words``).
WORD_STAT_GROUPS: frozenset[str] = frozenset(name for name, group in _REGISTRY.items() if group.word_stats)


def needs_word_stats(groups: Sequence[str]) -> bool:
    """Whether features of ``groups`` need a lexicon built ``with_words``."""
    return bool(WORD_STAT_GROUPS & set(groups))


def feature_names(groups: Sequence[str]) -> tuple[str, ...]:
    """Column names of the feature matrix for ``groups`` (in :data:`GROUPS` order), bias first."""
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown rescorer feature groups {sorted(unknown)}; choose from {list(GROUPS)}")
    return ("bias", *(name for g in GROUPS if g in groups for name in FEATURE_GROUPS[g]))


def registered(groups: Sequence[str]) -> list[tuple[str, FeatureGroup]]:
    """The registered groups among ``groups``, in column order."""
    feature_names(groups)  # refuses unknown groups
    return [(name, group) for name, group in _REGISTRY.items() if name in groups]

