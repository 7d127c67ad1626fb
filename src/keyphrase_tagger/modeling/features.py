"""Labeled documents -> model inputs: one window per row, one token per character."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from keyphrase_tagger.encoding import CharEncoder
from keyphrase_tagger.windows import window_bounds

IGNORE_INDEX = -100  # label of [CLS]/[SEP]/padding: the loss skips it


def window_rows(
    texts: Sequence[str],
    encoder: CharEncoder,
    max_chars: int,
    stride: int,
    tags: Sequence[np.ndarray] | None = None,
    type_ids: Sequence[np.ndarray] | None = None,
) -> dict[str, list]:
    """Columns ``input_ids``, ``attention_mask``, ``doc_index``, ``window_start``
    (+ ``labels`` given ``tags``, + ``token_type_ids`` given per-character ``type_ids``)."""
    rows: dict[str, list] = {"input_ids": [], "attention_mask": [], "doc_index": [], "window_start": []}
    if tags is not None:
        rows["labels"] = []
    if type_ids is not None:
        rows["token_type_ids"] = []
    for k, text in enumerate(texts):
        ids = encoder.encode(text)
        for start, end in window_bounds(len(text), max_chars, stride):
            piece = [encoder.cls_id, *ids[start:end].tolist(), encoder.sep_id]
            rows["input_ids"].append(piece)
            rows["attention_mask"].append([1] * len(piece))
            rows["doc_index"].append(k)
            rows["window_start"].append(start)
            if tags is not None:
                rows["labels"].append([IGNORE_INDEX, *tags[k][start:end].astype(np.int64).tolist(), IGNORE_INDEX])
            if type_ids is not None:
                rows["token_type_ids"].append([0, *type_ids[k][start:end].tolist(), 0])
    return rows


def windows_dataset(texts, encoder, max_chars, stride, tags=None, type_ids=None):
    """A ``datasets.Dataset`` of windows (see :func:`window_rows`)."""
    import datasets

    return datasets.Dataset.from_dict(window_rows(texts, encoder, max_chars, stride, tags, type_ids))
