"""Error analysis over a report's per-document lists: frequent mistakes, scores by length."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from keyphrase_tagger.evaluation.metrics import prf

# Inclusive (lo, hi) character lengths; 1 is there for configs that keep one-character phrases.
LENGTH_BUCKETS = ((1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 7), (8, 10), (11, 10**9))


def bucket_name(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else (f"{lo}+" if hi >= 10**9 else f"{lo}-{hi}")


def length_bucket(length: int) -> str:
    """The name of the bucket of :data:`LENGTH_BUCKETS` a phrase of ``length`` characters falls in."""
    for lo, hi in LENGTH_BUCKETS:
        if lo <= length <= hi:
            return bucket_name(lo, hi)
    raise ValueError(f"no length bucket for {length}")


def frequent_errors(rows: Sequence[dict], n: int = 20) -> dict[str, list[tuple[str, int]]]:
    """Most frequent false positives and false negatives, counted in documents."""
    fp, fn = Counter(), Counter()
    for row in rows:
        pred, gold = set(row["predicted"]), set(row["gold"])
        fp.update(pred - gold)
        fn.update(gold - pred)
    return {"false_positives": fp.most_common(n), "false_negatives": fn.most_common(n)}


def scores_by_length(predicted: Sequence[Iterable[str]], gold: Sequence[Iterable[str]]) -> list[dict]:
    """Per length bucket: precision over predicted and recall over gold phrases of that length.

    Pooled over documents like the micro scores (distinct strings per document); buckets with
    neither a predicted nor a gold phrase are left out.
    """
    out = []
    docs = [(set(p), set(g)) for p, g in zip(predicted, gold, strict=True)]
    for lo, hi in LENGTH_BUCKETS:
        tp = n_pred = n_gold = 0
        for pred, ref in docs:
            pred = {p for p in pred if lo <= len(p) <= hi}
            ref = {g for g in ref if lo <= len(g) <= hi}
            tp += len(pred & ref)
            n_pred += len(pred)
            n_gold += len(ref)
        if n_pred or n_gold:
            out.append({"length": bucket_name(lo, hi), **prf(tp, n_pred, n_gold)})
    return out
