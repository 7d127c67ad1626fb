"""Error analysis over a report's per-document lists: frequent mistakes, scores by length."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from keyphrase_tagger.evaluation.metrics import prf

LENGTH_BUCKETS = ((2, 2), (3, 3), (4, 4), (5, 5), (6, 7), (8, 10), (11, 10**9))


def bucket_name(lo: int, hi: int) -> str:
    return str(lo) if lo == hi else (f"{lo}+" if hi >= 10**9 else f"{lo}-{hi}")


def frequent_errors(rows: Sequence[dict], n: int = 20) -> dict[str, list[tuple[str, int]]]:
    """Most frequent false positives and false negatives, counted in documents."""
    fp, fn = Counter(), Counter()
    for row in rows:
        pred, gold = set(row["predicted"]), set(row["gold"])
        fp.update(pred - gold)
        fn.update(gold - pred)
    return {"false_positives": fp.most_common(n), "false_negatives": fn.most_common(n)}


def scores_by_length(rows: Sequence[dict]) -> list[dict]:
    """Precision over predicted and recall over gold phrases of each length bucket."""
    out = []
    for lo, hi in LENGTH_BUCKETS:
        tp = n_pred = n_gold = 0
        for row in rows:
            pred = {p for p in row["predicted"] if lo <= len(p) <= hi}
            gold = {g for g in row["gold"] if lo <= len(g) <= hi}
            tp += len(pred & gold)
            n_pred += len(pred)
            n_gold += len(gold)
        if n_pred or n_gold:
            out.append({"length": bucket_name(lo, hi), **prf(tp, n_pred, n_gold)})
    return out
