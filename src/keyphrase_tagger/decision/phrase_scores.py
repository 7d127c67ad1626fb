"""Phrase-level P/R/F1 (micro and macro): what the decision is fitted on and evaluation reports.

It sits below both, so the decision stage (``decision/fit.py``, ``decision/rescorer_fit.py``) chooses its settings by
the same counts ``evaluation`` reports without importing from the evaluation stage.

Zero denominators never divide: precision of an empty prediction is 1.0 when the gold list is
empty too and 0.0 otherwise (and symmetrically for recall), so a document with nothing to find and
nothing found scores 1.0, and one that missed everything scores 0.0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def prf(tp: int, n_pred: int, n_gold: int) -> dict:
    """Precision, recall and F1 of ``tp`` true positives among ``n_pred`` predicted and ``n_gold``
    gold items, with the counts themselves."""
    precision = tp / n_pred if n_pred else (1.0 if n_gold == 0 else 0.0)
    recall = tp / n_gold if n_gold else (1.0 if n_pred == 0 else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "n_pred": n_pred, "n_gold": n_gold}


def phrase_scores(predicted: Sequence[Iterable[str]], gold: Sequence[Iterable[str]]) -> dict:
    """Per document, distinct predicted strings against distinct gold strings."""
    per_doc = []
    for pred, ref in zip(predicted, gold, strict=True):
        pred, ref = set(pred), set(ref)
        per_doc.append(prf(len(pred & ref), len(pred), len(ref)))
    micro = prf(sum(d["tp"] for d in per_doc), sum(d["n_pred"] for d in per_doc), sum(d["n_gold"] for d in per_doc))
    n = len(per_doc)
    macro = {k: (sum(d[k] for d in per_doc) / n if n else 0.0) for k in ("precision", "recall", "f1")}
    return {"micro": micro, "macro": macro, "per_document": per_doc}
