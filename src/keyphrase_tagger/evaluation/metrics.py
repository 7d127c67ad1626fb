"""Scores: seqeval strict IOB2 entities, and phrase-level P/R/F1 (micro and macro; defined in
:mod:`keyphrase_tagger.decision.phrase_scores`, which the decision stage shares)."""

from __future__ import annotations

from collections.abc import Sequence

from keyphrase_tagger.decision.phrase_scores import phrase_scores, prf

__all__ = ["entity_counts", "entity_prf", "entity_scores", "phrase_scores", "prf"]


def entity_counts(gold_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> tuple[int, int, int]:
    """True positives, predicted and gold entities over the sequences: seqeval's entities
    (``Entities``, strict IOB2: an orphan ``I-KP`` is none), matched by sequence, type and span.
    Counts add up over sequences, so a long text can be counted a piece at a time."""
    from seqeval.scheme import IOB2, Entities

    gold, pred = Entities([list(t) for t in gold_tags], IOB2), Entities([list(t) for t in pred_tags], IOB2)
    tp = n_pred = n_gold = 0
    for name in gold.unique_tags | pred.unique_tags:
        gold_entities, pred_entities = gold.filter(name), pred.filter(name)
        tp += len(gold_entities & pred_entities)
        n_pred += len(pred_entities)
        n_gold += len(gold_entities)
    return tp, n_pred, n_gold


def entity_prf(tp: int, n_pred: int, n_gold: int) -> dict:
    """seqeval's micro P/R/F1 (``zero_division=0``) from :func:`entity_counts`."""
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


def entity_scores(gold_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> dict:
    """seqeval entity P/R/F1, ``mode="strict", scheme=IOB2`` (an orphan ``I-KP`` is an error)."""
    return entity_prf(*entity_counts(gold_tags, pred_tags))
