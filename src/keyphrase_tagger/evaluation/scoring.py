"""Documents + per-character probabilities -> the metrics of a report (model side)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.data.labeling import tag_ids_to_strings
from keyphrase_tagger.decision.decoder import Decided, cleaned_phrases
from keyphrase_tagger.evaluation.metrics import entity_counts, entity_prf, phrase_scores
from keyphrase_tagger.records import I, Document

# Characters of tags handed to seqeval at a time: it makes objects per character, so a whole long
# document at once would take gigabytes. The counts do not depend on it (entity_pieces).
ENTITY_PIECE_CHARS = 1 << 16


def predicted_phrase_set(document: Document, decided: np.ndarray | Decided, cleaning: CleaningConfig,
                         min_score: float = 0.0) -> list[str]:
    """The distinct decoded phrases of a document, in order of first occurrence."""
    return list(dict.fromkeys(p.text for p in cleaned_phrases(document.text, decided, cleaning, min_score)))


def predicted_phrase_sets(documents: Sequence[Document], probs: Iterable[np.ndarray | Decided],
                          cleaning: CleaningConfig, min_score: float = 0.0) -> list[list[str]]:
    """Distinct decoded phrases per document, in order of first occurrence."""
    return [predicted_phrase_set(d, pr, cleaning, min_score) for d, pr in zip(documents, probs)]


def entity_pieces(gold: np.ndarray, pred: np.ndarray) -> Iterator[tuple[int, int]]:
    """``(start, end)`` pieces tiling a text's tag ids, about :data:`ENTITY_PIECE_CHARS` long,
    each cut before a character that neither ``gold`` nor ``pred`` tags ``I-KP``: no entity
    crosses a cut, so the pieces' entity counts add up to the text's."""
    start, n = 0, len(gold)
    while n - start > ENTITY_PIECE_CHARS:
        free = np.flatnonzero((gold[start + 1 : start + ENTITY_PIECE_CHARS + 1] != I)
                              & (pred[start + 1 : start + ENTITY_PIECE_CHARS + 1] != I))
        if len(free):
            end = start + 1 + int(free[-1])
        else:  # one entity longer than a piece: cut after it
            after = np.flatnonzero((gold[start + 1 :] != I) & (pred[start + 1 :] != I))
            end = start + 1 + int(after[0]) if len(after) else n
        yield start, end
        start = end
    if start < n:
        yield start, n


def document_entity_counts(gold: np.ndarray, pred: np.ndarray) -> tuple[int, int, int]:
    """:func:`~keyphrase_tagger.evaluation.metrics.entity_counts` of one document's tag ids, a piece at a time."""
    counts = np.zeros(3, dtype=np.int64)
    for a, b in entity_pieces(gold, pred):
        counts += entity_counts([tag_ids_to_strings(gold[a:b])], [tag_ids_to_strings(pred[a:b])])
    return tuple(counts.tolist())


def score_documents(
    documents: Sequence[Document],
    gold_tags: Sequence[np.ndarray],
    probs: Iterable[np.ndarray | Decided],
    cleaning: CleaningConfig,
    min_score: float = 0.0,
) -> dict:
    """Entity (seqeval strict IOB2) and phrase-level scores, with per-document rows. ``probs``: per
    document, what the extractor's decision predicts (:class:`Decided`, its tags and spans) or tag
    probabilities (read by argmax); read once, in order, so it may be an iterator
    (``KeyphraseExtractor.iter_predict``): one document's prediction is held at a time."""
    predicted, entity = [], np.zeros(3, dtype=np.int64)
    for d, gold, p in zip(documents, gold_tags, probs, strict=True):
        predicted.append(predicted_phrase_set(d, p, cleaning, min_score))
        pred = (p.tags if isinstance(p, Decided) else p.argmax(axis=-1)).astype(np.int8)
        entity += document_entity_counts(np.asarray(gold, dtype=np.int8), pred)
    gold_phrases = [list(d.phrases) for d in documents]
    phrase = phrase_scores(predicted, gold_phrases)
    rows = [
        {"doc_id": d.doc_id, "predicted": pred, "gold": g, **{k: s[k] for k in ("precision", "recall", "f1", "tp")}}
        for d, pred, g, s in zip(documents, predicted, gold_phrases, phrase["per_document"])
    ]
    return {"n_documents": len(documents), "entity": entity_prf(*entity.tolist()),
            "phrase": {"micro": phrase["micro"], "macro": phrase["macro"]}, "per_document": rows}
