"""A decision's spans -> phrases: the one decoder of the repo.

Every decision (``decision/kinds.py``) turns a text's ``(len(text), 3)`` tag probabilities into a
:class:`Decided`: tag ids per character (what the entity scores count) and phrase spans with
scores. :func:`decode_phrases` turns those spans into :class:`~keyphrase_tagger.records.Phrase`
objects; evaluation and prediction both call it, so a score in a report is a score of exactly what
``KeyphraseExtractor`` returns.

Reading probabilities (:func:`argmax_decided`, what the argmax and O prior / fusion decisions do):
- each character takes its most probable tag;
- a span starts at ``B-KP`` and extends over the ``I-KP`` that follow it;
- an ``I-KP`` with no ``B-KP``/``I-KP`` before it (an orphan) *starts* a span, as conlleval reads it:
  the model was sure the characters are inside a phrase and only unsure where it begins;
- a span's score is the mean over its characters of ``1 - P(O)``.

Reading accepted strings (:func:`accepted_decided`, what the phrase rescorer does): the tags mark
their leftmost-longest occurrences; the spans are those occurrences, or, with ``nested``, every
occurrence of every accepted string, phrases inside others included (tags cannot hold a phrase
inside another, and the keyphrase lists often name both), each scored by the string's probability.
The rescorer has every occurrence of every candidate already, and reads the same off those
(:func:`occurrences_decided`) rather than building a matcher over the accepted strings.

Then the checkpoint's cleaning applies to every span: it is trimmed of strip characters (offsets
move with it) and dropped if what is left is rejected (empty, too short, a stop phrase).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from keyphrase_tagger.data.characters import code_points
from keyphrase_tagger.data.cleaning import CleaningConfig, strip_span
from keyphrase_tagger.data.labeling import spans_to_tag_ids, tags_to_spans
from keyphrase_tagger.data.matching import PhraseMatcher
from keyphrase_tagger.decision.spans import kept_by_cleaning, strip_mask
from keyphrase_tagger.records import O, Phrase


@dataclass(frozen=True)
class Decided:
    """A decision's result for one text: ``tags``, one tag id per character (``O``/``B-KP``/``I-KP``,
    what the entity scores count), and ``spans``, ``(start, end, score)`` of its phrases in text
    order, nested or overlapping where the decision lets phrases nest."""

    tags: np.ndarray
    spans: tuple[tuple[int, int, float], ...]


def argmax_decided(probs: np.ndarray) -> Decided:
    """The tags and spans ``probs`` (``(len, 3)``) decode to, each character at its argmax tag."""
    tags = probs.argmax(axis=-1)
    starts, ends = tags_to_spans(tags)
    inside = 1.0 - probs[:, O].astype(np.float64)
    cum = np.concatenate([[0.0], np.cumsum(inside)])
    return Decided(tags, tuple((s, e, float((cum[e] - cum[s]) / (e - s)))
                               for s, e in zip(starts.tolist(), ends.tolist())))


def accepted_decided(text: str, accepted: Mapping[str, float], nested: bool) -> Decided:
    """The occurrences in ``text`` of the ``accepted`` strings (string -> probability): tags of the
    leftmost-longest ones; spans of those, or of every occurrence with ``nested``."""
    if not accepted:
        return Decided(np.zeros(len(text), dtype=np.int64), ())
    matcher = PhraseMatcher(sorted(accepted))
    chosen = matcher.find(text)
    tags = spans_to_tag_ids(len(text), [s for _, s, _ in chosen], [e for _, _, e in chosen])
    occurrences = sorted(matcher.find_all(text), key=lambda m: (m[1], m[2])) if nested else chosen
    return Decided(tags, tuple((s, e, float(accepted[matcher.phrases[i]])) for i, s, e in occurrences))


def occurrences_decided(n_chars: int, starts: np.ndarray, ends: np.ndarray, scores: np.ndarray,
                        nested: bool) -> Decided:
    """What :func:`accepted_decided` returns, from the accepted strings' occurrences already found
    (``starts``, ``ends``: every occurrence of every accepted string, each scored by its string's
    probability): no matcher to build per text. Leftmost-longest, as the matcher's policy: the
    longest occurrence starting at the leftmost start, then the same after its end."""
    if not len(starts):
        return Decided(np.zeros(n_chars, dtype=np.int64), ())
    order = np.argsort(starts * (n_chars + 1) + ends)  # by start, then end (one pair per occurrence)
    starts, ends, scores = starts[order], ends[order], scores[order]
    longest = np.flatnonzero(np.append(starts[1:] != starts[:-1], True))  # per start, the last in order
    # After a chosen occurrence, the next is the longest at the first start at or past its end.
    following = np.searchsorted(starts[longest], ends[longest]).tolist()
    picked, k = [], 0
    while k < len(following):
        picked.append(k)
        k = following[k]
    chosen = longest[picked]
    tags = spans_to_tag_ids(n_chars, starts[chosen], ends[chosen])
    keep = np.arange(len(starts)) if nested else chosen
    return Decided(tags, tuple(zip(starts[keep].tolist(), ends[keep].tolist(), scores[keep].tolist())))


def cleaned_phrases(text: str, decided: Decided | np.ndarray, cleaning: CleaningConfig,
                    min_score: float = 0.0) -> Iterator[Phrase]:
    """The phrases :func:`decode_phrases` keeps before ``unique`` and ``top_k``, one at a time (a
    caller that wants only the distinct strings of a long text need not hold them all)."""
    if not isinstance(decided, Decided):
        if len(text) != decided.shape[0]:
            raise ValueError(f"probabilities for {decided.shape[0]} characters, text has {len(text)}")
        decided = argmax_decided(decided)
    elif len(text) != len(decided.tags):
        raise ValueError(f"tags for {len(decided.tags)} characters, text has {len(text)}")
    if not decided.spans:
        return
    starts, ends, scores = cleaned_spans(text, decided.spans, cleaning)
    keep = np.flatnonzero(scores >= min_score)
    for s, e, score in zip(starts[keep].tolist(), ends[keep].tolist(), scores[keep].tolist()):
        yield Phrase(text[s:e], s, e, score)


def cleaned_spans(text: str, spans: Sequence[tuple[int, int, float]],
                  cleaning: CleaningConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``spans`` trimmed by ``strip_span``, those ``reject_reason`` rejects dropped, as arrays
    ``(starts, ends, scores)``, the scores clipped to ``[0, 1]`` (NaN to 0). Array work over all
    spans: only a span with a strip character at an edge is trimmed one by one."""
    # One flat pass (offsets are exact in float64): zip(*spans) would hold an iterator per span at
    # once, enough allocations to start the garbage collector's full passes.
    flat = np.fromiter(chain.from_iterable(spans), dtype=np.float64, count=3 * len(spans)).reshape(-1, 3)
    starts, ends, scores = flat[:, 0].astype(np.int64), flat[:, 1].astype(np.int64), flat[:, 2]
    inside = np.flatnonzero(ends > starts)
    # The spans' first and last characters only: memory in the number of spans, not the text's length.
    at_edge = np.zeros(len(inside), dtype=bool)
    for edge in (starts[inside], ends[inside] - 1):
        at_edge |= strip_mask(code_points("".join(map(text.__getitem__, edge.tolist()))), cleaning.strip_chars)
    for j in inside[at_edge].tolist():
        starts[j], ends[j] = strip_span(text, int(starts[j]), int(ends[j]), cleaning.strip_chars)
    keep = kept_by_cleaning(text, starts, ends, cleaning)
    # fmax/fmin, as Python's max(0.0, score) and min(1.0, ...): a NaN score becomes 0.
    scores = np.fmin(1.0, np.fmax(0.0, scores[keep]))
    return starts[keep], ends[keep], scores


def decode_phrases(
    text: str,
    decided: Decided | np.ndarray,
    cleaning: CleaningConfig,
    min_score: float = 0.0,
    top_k: int | None = None,
    unique: bool = False,
) -> list[Phrase]:
    """Phrases of ``text`` from a decision's :class:`Decided` (or from ``(len(text), 3)`` tag
    probabilities, read by :func:`argmax_decided`), cleaned, in text order.

    ``unique=True`` keeps one entry per distinct phrase (its best-scoring occurrence);
    ``top_k`` keeps the ``k`` best-scoring entries; ``min_score`` drops entries below it.
    """
    phrases = list(cleaned_phrases(text, decided, cleaning, min_score))
    if unique:
        best: dict[str, Phrase] = {}
        for p in phrases:
            if p.text not in best or p.score > best[p.text].score:
                best[p.text] = p
        phrases = sorted(best.values(), key=lambda p: p.start)
    if top_k is not None and len(phrases) > top_k:
        keep = sorted(phrases, key=lambda p: (-p.score, p.start))[:top_k]
        phrases = sorted(keep, key=lambda p: p.start)
    return phrases


def scale_o(probs: np.ndarray, o_scale: float) -> np.ndarray:
    """``probs`` with ``P(O)`` multiplied by ``o_scale`` and rows renormalised (a prior shift)."""
    if o_scale == 1.0:
        return probs
    out = probs.astype(np.float64, copy=True)
    out[:, O] *= o_scale
    out /= out.sum(axis=-1, keepdims=True)
    return out
