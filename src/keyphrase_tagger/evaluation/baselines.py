"""Lexicon baselines: the training lexicon matched leftmost-longest, all of it or a calibrated part."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keyphrase_tagger.data.matching import PhraseMatcher
from keyphrase_tagger.evaluation.metrics import phrase_scores
from keyphrase_tagger.lexicon.lexicon import Lexicon
from keyphrase_tagger.records import Document

DEFAULT_THRESHOLD = 0.3  # used when there is no validation document to choose on


def gazetteer_predictions(matcher: PhraseMatcher, documents: Sequence[Document]) -> list[list[str]]:
    """Distinct matched phrases per document, in order of first occurrence."""
    return [list(dict.fromkeys(matcher.phrases[i] for i, _, _ in matcher.find(d.text))) for d in documents]


def choose_threshold(lexicon: Lexicon, validation: Sequence[Document]) -> tuple[float, float | None]:
    """The rate threshold with the best phrase micro F1 on ``validation`` (ties: the lower one)."""
    if not validation:
        return DEFAULT_THRESHOLD, None
    candidates = sorted({0.0, *np.round(np.arange(0.05, 1.0, 0.05), 2).tolist()})
    best = (-1.0, DEFAULT_THRESHOLD)
    gold = [d.phrases for d in validation]
    for t in candidates:
        pred = gazetteer_predictions(PhraseMatcher(lexicon.phrases(min_rate=t)), validation)
        f1 = phrase_scores(pred, gold)["micro"]["f1"]
        if f1 > best[0]:
            best = (f1, t)
    return best[1], best[0]


def baseline_reports(lexicon: Lexicon, documents: Sequence[Document], validation: Sequence[Document]) -> dict:
    """Both baselines on ``documents``: phrase scores, lexicon size used, per-document predictions.

    ``validation`` only chooses the calibrated threshold; it is never scored here.
    """
    gold = [d.phrases for d in documents]
    out = {}
    everything = lexicon.phrases()
    full = gazetteer_predictions(PhraseMatcher(everything), documents)
    out["gazetteer"] = {"phrase": _summary(phrase_scores(full, gold)), "n_phrases": len(everything), "predicted": full}
    threshold, val_f1 = choose_threshold(lexicon, validation)
    kept = lexicon.phrases(min_rate=threshold)
    calibrated = gazetteer_predictions(PhraseMatcher(kept), documents)
    out["calibrated_gazetteer"] = {
        "phrase": _summary(phrase_scores(calibrated, gold)),
        "n_phrases": len(kept),
        "threshold": threshold,
        "validation_documents": len(validation),
        "validation_f1": val_f1,
        "predicted": calibrated,
    }
    return out


def _summary(scores: dict) -> dict:
    return {"micro": scores["micro"], "macro": scores["macro"]}
