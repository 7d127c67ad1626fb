"""Scores: seqeval strict IOB2 entities, and phrase-level P/R/F1 (micro and macro; defined in
:mod:`keyphrase_tagger.decision.phrase_scores`, which the decision stage shares)."""

from __future__ import annotations

from collections.abc import Sequence

from keyphrase_tagger.decision.phrase_scores import phrase_scores, prf

__all__ = ["entity_scores", "phrase_scores", "prf"]


def entity_scores(gold_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]) -> dict:
    """seqeval entity P/R/F1, ``mode="strict", scheme=IOB2`` (an orphan ``I-KP`` is an error)."""
    from seqeval.metrics import f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    gold, pred = [list(t) for t in gold_tags], [list(t) for t in pred_tags]
    kw = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    return {
        "precision": float(precision_score(gold, pred, **kw)),
        "recall": float(recall_score(gold, pred, **kw)),
        "f1": float(f1_score(gold, pred, **kw)),
    }
