"""Error analysis over a report's per-document lists: frequent mistakes, scores by length and by how
phrases sit on the text's words."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

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


# How a phrase sits on the text's jieba words (``word_alignment``), in report order.
ALIGNMENT_KINDS = ("whole words", "ends inside a word", "starts inside a word", "inside words")


def word_alignment(text: str, phrase: str, boundary: np.ndarray) -> str:
    """Where ``phrase``'s occurrences in ``text`` fall on its word ``boundary`` mask (``len(text) + 1``
    entries, True where a word starts or the text ends): "whole words" if some occurrence starts and
    ends on boundaries; else "ends inside a word" if some occurrence starts on one (the phrase is a
    truncated word run, e.g. 商业银 in 商业银行), "starts inside a word" if some occurrence ends on
    one, "inside words" otherwise (or if it does not occur)."""
    starts = [m.start() for m in re.finditer(f"(?={re.escape(phrase)})", text)] if phrase else []  # overlapping too
    ends = [s + len(phrase) for s in starts]
    if any(boundary[s] and boundary[e] for s, e in zip(starts, ends)):
        return ALIGNMENT_KINDS[0]
    if any(boundary[s] for s in starts):
        return ALIGNMENT_KINDS[1]
    return ALIGNMENT_KINDS[2] if any(boundary[e] for e in ends) else ALIGNMENT_KINDS[3]


def scores_by_word_alignment(texts: Sequence[str], predicted: Sequence[Iterable[str]],
                             gold: Sequence[Iterable[str]]) -> list[dict]:
    """Per :data:`ALIGNMENT_KINDS` kind: precision over predicted and recall over gold phrases of that
    kind (pooled over documents, distinct strings per document, as :func:`scores_by_length`), the
    words being jieba's (``lexicon/segmentation.py``), as the rescorer's candidates use them."""
    from keyphrase_tagger.lexicon.segmentation import segment

    counts = {kind: [0, 0, 0] for kind in ALIGNMENT_KINDS}  # tp, predicted, gold
    for text, pred, ref in zip(texts, predicted, gold, strict=True):
        words = segment(text)
        boundary = np.zeros(len(text) + 1, dtype=bool)
        boundary[words.starts] = True
        boundary[len(text)] = True
        pred, ref = set(pred), set(ref)
        for phrase in pred | ref:
            c = counts[word_alignment(text, phrase, boundary)]
            c[0] += phrase in pred and phrase in ref
            c[1] += phrase in pred
            c[2] += phrase in ref
    return [{"kind": kind, **prf(*c)} for kind, c in counts.items() if c[1] or c[2]]
