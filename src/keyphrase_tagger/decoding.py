"""Per-character tag probabilities -> spans -> phrases. The one decoder of the repo.

Evaluation and prediction both call :func:`decode_phrases`, so a score in a report is a score of
exactly what ``KeyphraseExtractor`` returns.

Rules:
- each character takes its most probable tag;
- a span starts at ``B-KP`` and extends over the ``I-KP`` that follow it;
- an ``I-KP`` with no ``B-KP``/``I-KP`` before it (an orphan) *starts* a span, as conlleval reads it:
  the model was sure the characters are inside a phrase and only unsure where it begins;
- a span's score is the mean over its characters of ``1 - P(O)``;
- the checkpoint's cleaning applies: the span is trimmed of strip characters (offsets move with it)
  and dropped if what is left is rejected (empty, too short, a stop phrase).

When the phrase rescorer (``rescoring.py``) has decided which strings a document lists, it hands the
decoder a :class:`Prediction` with those ``accepted`` strings: the spans are then every occurrence
of every accepted string, nested and overlapping ones included (tags cannot hold a phrase inside
another, and the keyphrase lists often name both), scored by the string's probability. The same
cleaning and options apply; the tags still serve the entity (seqeval) scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from keyphrase_tagger.data.cleaning import CleaningConfig, reject_reason, strip_span
from keyphrase_tagger.data.labeling import PhraseMatcher
from keyphrase_tagger.records import B, I, O, Phrase


@dataclass(frozen=True)
class Prediction:
    """What the decoder reads for one text: ``(len(text), 3)`` tag probabilities (their argmax
    is what the entity scores count) and, where the phrase rescorer decided, its ``accepted``
    strings and their probabilities."""

    probs: np.ndarray
    accepted: Mapping[str, float] | None = None


def tags_to_spans(tags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Tag ids -> ``(starts, ends)`` of spans, vectorised (no per-character Python)."""
    tags = np.asarray(tags)
    n = tags.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    prev = np.empty_like(tags)
    prev[0] = O
    prev[1:] = tags[:-1]
    is_start = (tags == B) | ((tags == I) & (prev == O))
    starts = np.flatnonzero(is_start)
    # A span ends at the first following position that is not I-KP.
    breaks = np.append(np.flatnonzero(tags != I), n)
    ends = breaks[np.searchsorted(breaks, starts, side="right")]
    return starts.astype(np.int64), ends.astype(np.int64)


def decode_phrases(
    text: str,
    probs: np.ndarray | Prediction,
    cleaning: CleaningConfig,
    min_score: float = 0.0,
    top_k: int | None = None,
    unique: bool = False,
) -> list[Phrase]:
    """Phrases of ``text`` from its ``(len(text), 3)`` tag probabilities, or from a
    :class:`Prediction` (its accepted strings, if any, else its probabilities), in text order.

    ``unique=True`` keeps one entry per distinct phrase (its best-scoring occurrence);
    ``top_k`` keeps the ``k`` best-scoring entries; ``min_score`` drops entries below it.
    """
    accepted = None
    if isinstance(probs, Prediction):
        probs, accepted = probs.probs, probs.accepted
    if len(text) != probs.shape[0]:
        raise ValueError(f"probabilities for {probs.shape[0]} characters, text has {len(text)}")
    if accepted is not None:
        spans = _accepted_spans(text, accepted)
    else:
        starts, ends = tags_to_spans(probs.argmax(axis=-1))
        inside = 1.0 - probs[:, O].astype(np.float64)
        cum = np.concatenate([[0.0], np.cumsum(inside)])
        spans = [(s, e, (cum[e] - cum[s]) / (e - s)) for s, e in zip(starts.tolist(), ends.tolist())]
    phrases: list[Phrase] = []
    for s, e, score in spans:
        s, e = strip_span(text, s, e, cleaning.strip_chars)
        piece = text[s:e]
        if reject_reason(piece, cleaning) is not None:
            continue
        score = float(min(1.0, max(0.0, score)))
        if score >= min_score:
            phrases.append(Phrase(piece, s, e, score))
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


def _accepted_spans(text: str, accepted: Mapping[str, float]) -> list[tuple[int, int, float]]:
    """Every occurrence of every accepted string, overlapping ones included, in text order."""
    if not accepted:
        return []
    matcher = PhraseMatcher(sorted(accepted))
    return sorted((start, end, float(accepted[matcher.phrases[i]])) for i, start, end in matcher.find_all(text))


def scale_o(probs: np.ndarray, o_scale: float) -> np.ndarray:
    """``probs`` with ``P(O)`` multiplied by ``o_scale`` and rows renormalised (a prior shift)."""
    if o_scale == 1.0:
        return probs
    out = probs.astype(np.float64, copy=True)
    out[:, O] *= o_scale
    out /= out.sum(axis=-1, keepdims=True)
    return out
