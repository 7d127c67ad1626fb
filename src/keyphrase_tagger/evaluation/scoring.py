"""Documents + per-character probabilities -> the metrics of a report (model side)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.data.labeling import tag_ids_to_strings
from keyphrase_tagger.decision.decoder import Decided, decode_phrases
from keyphrase_tagger.evaluation.metrics import entity_scores, phrase_scores
from keyphrase_tagger.records import Document


def predicted_phrase_sets(documents: Sequence[Document], probs: Sequence[np.ndarray | Decided],
                          cleaning: CleaningConfig, min_score: float = 0.0) -> list[list[str]]:
    """Distinct decoded phrases per document, in order of first occurrence."""
    return [
        list(dict.fromkeys(p.text for p in decode_phrases(d.text, pr, cleaning, min_score=min_score)))
        for d, pr in zip(documents, probs)
    ]


def score_documents(
    documents: Sequence[Document],
    gold_tags: Sequence[np.ndarray],
    probs: Sequence[np.ndarray | Decided],
    cleaning: CleaningConfig,
    min_score: float = 0.0,
) -> dict:
    """Entity (seqeval strict IOB2) and phrase-level scores, with per-document rows. ``probs``: per
    document, what the extractor's decision predicts (:class:`Decided`, its tags and spans) or tag
    probabilities (read by argmax)."""
    predicted = predicted_phrase_sets(documents, probs, cleaning, min_score)
    gold = [list(d.phrases) for d in documents]
    phrase = phrase_scores(predicted, gold)
    entity = entity_scores(
        [tag_ids_to_strings(t) for t in gold_tags],
        [tag_ids_to_strings((p.tags if isinstance(p, Decided) else p.argmax(axis=-1)).astype(np.int8))
         for p in probs],
    )
    rows = [
        {"doc_id": d.doc_id, "predicted": pred, "gold": g, **{k: s[k] for k in ("precision", "recall", "f1", "tp")}}
        for d, pred, g, s in zip(documents, predicted, gold, phrase["per_document"])
    ]
    return {"n_documents": len(documents), "entity": entity,
            "phrase": {"micro": phrase["micro"], "macro": phrase["macro"]}, "per_document": rows}
