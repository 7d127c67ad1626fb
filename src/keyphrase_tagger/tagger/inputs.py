"""Texts -> windows -> model inputs, and the model's window outputs -> per-character probabilities.

The one path between documents and the tagger: the Trainer's datasets, in-training evaluation, the
decision fit after training and :class:`~keyphrase_tagger.inference.extractor.KeyphraseExtractor`
all go through it, so a checkpoint's probabilities are the same wherever they are computed.

A window (``windows.window_bounds``) becomes one model row, one token per character between
``[CLS]`` and ``[SEP]``. Its outputs are turned into probabilities by :func:`window_probs`, the one
place the tagger's head is read (float32, as the model computes: a softmax per character, or a
linear-chain CRF's marginals over the window's characters), and written into the document's array
only over the characters the window owns (``windows.owned_ranges``), so a merge never needs all of
a document's windows at once.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from keyphrase_tagger.tagger.encoding import CharEncoder
from keyphrase_tagger.tagger.streams import run_streams, stream_count
from keyphrase_tagger.tagger.windows import owned_ranges, window_bounds

if TYPE_CHECKING:  # imported where used, so that reading documents does not pay for torch
    import datasets
    import torch

    from keyphrase_tagger.tagger.crf import LinearChainCRF

IGNORE_INDEX = -100  # label of [CLS]/[SEP]/padding: the loss skips it
N_TAGS = 3  # O, B-KP, I-KP
# Columns of a documents dataset (one row per document); ``tags`` and ``type_ids`` are optional.
TEXT, TAGS, TYPE_IDS = "text", "tags", "type_ids"
# Columns of a windows dataset the model does not read: which document, from which character.
WINDOW_POSITION = ("doc_index", "window_start")

Rows = dict[str, list]
# Windows per forward pass unless a caller says otherwise: the extractor's default and the decision
# fit's, so that both batch a text's windows alike (the batching moves float32 results by ~1e-8).
PREDICT_BATCH_SIZE = 32


class Window(NamedTuple):
    """Characters ``[start, end)`` of document ``doc``; it owns ``[lo, hi)`` of them."""

    doc: int
    start: int
    end: int
    lo: int
    hi: int


def plan_windows(lengths: Sequence[int], max_chars: int, stride: int) -> list[Window]:
    """Every window of documents of these lengths, document after document: the order of the rows
    of :func:`windows_dataset` and of the Trainer's predictions over it."""
    plan = []
    for doc, length in enumerate(lengths):
        bounds = window_bounds(length, max_chars, stride)
        plan += [Window(doc, s, e, lo, hi) for (s, e), (lo, hi) in zip(bounds, owned_ranges(bounds))]
    return plan


def window_row(ids: np.ndarray, start: int, end: int, encoder: CharEncoder, tags: Sequence[int] | None = None,
               type_ids: Sequence[int] | None = None) -> Rows:
    """The model row of characters ``[start, end)`` of a text encoded as ``ids``: ``input_ids``,
    ``attention_mask`` (+ ``labels`` given ``tags``, + ``token_type_ids`` given ``type_ids``)."""
    row = {"input_ids": [encoder.cls_id, *ids[start:end].tolist(), encoder.sep_id],
           "attention_mask": [1] * (end - start + 2)}
    if tags is not None:
        row["labels"] = [IGNORE_INDEX, *np.asarray(tags[start:end], dtype=np.int64).tolist(), IGNORE_INDEX]
    if type_ids is not None:
        row["token_type_ids"] = [0, *np.asarray(type_ids[start:end], dtype=np.int64).tolist(), 0]
    return row


def window_rows(texts: Sequence[str], encoder: CharEncoder, max_chars: int, stride: int,
                tags: Sequence[Sequence[int]] | None = None,
                type_ids: Sequence[Sequence[int]] | None = None) -> dict[str, list]:
    """Columns ``input_ids``, ``attention_mask``, ``doc_index``, ``window_start`` (+ ``labels``
    given per-character ``tags``, + ``token_type_ids`` given per-character ``type_ids``), one
    entry per window of :func:`plan_windows`."""
    columns: dict[str, list] = {"input_ids": [], "attention_mask": [], "doc_index": [], "window_start": []}
    if tags is not None:
        columns["labels"] = []
    if type_ids is not None:
        columns["token_type_ids"] = []
    ids = [encoder.encode(t) for t in texts]
    for w in plan_windows([len(t) for t in texts], max_chars, stride):
        row = window_row(ids[w.doc], w.start, w.end, encoder, None if tags is None else tags[w.doc],
                         None if type_ids is None else type_ids[w.doc])
        row.update(doc_index=w.doc, window_start=w.start)
        for name, value in row.items():
            columns[name].append(value)
    return columns


def documents_dataset(texts: Sequence[str], tags: Sequence[np.ndarray] | None = None,
                      type_ids: Sequence[np.ndarray] | None = None) -> datasets.Dataset:
    """A ``datasets.Dataset`` with one row per document: ``text`` (+ ``tags``, ``type_ids``)."""
    import datasets

    columns = {TEXT: list(texts)}
    if tags is not None:
        columns[TAGS] = [np.asarray(t, dtype=np.int64) for t in tags]
    if type_ids is not None:
        columns[TYPE_IDS] = [np.asarray(t, dtype=np.int64) for t in type_ids]
    return datasets.Dataset.from_dict(columns)


def window_features(documents: datasets.Dataset) -> datasets.Features:
    """The windows' column types, stated: a batch of empty texts has no window to infer them from."""
    import datasets

    ints = datasets.Sequence(datasets.Value("int64"))
    names = ["input_ids", "attention_mask"] + [name for col, name in ((TAGS, "labels"), (TYPE_IDS, "token_type_ids"))
                                               if col in documents.column_names]
    return datasets.Features({**{n: ints for n in names}, **{n: datasets.Value("int64") for n in WINDOW_POSITION}})


def windows_dataset(documents: datasets.Dataset, encoder: CharEncoder, max_chars: int, stride: int) -> datasets.Dataset:
    """The windows of a documents dataset (columns ``text``, optional ``tags`` and ``type_ids``;
    :func:`documents_dataset`), built by a batched ``datasets.map``: the columns of
    :func:`window_rows`, with ``doc_index`` the row of the document in ``documents``."""

    def to_windows(batch, indices: list[int]) -> dict[str, list]:
        columns = window_rows(batch[TEXT], encoder, max_chars, stride, batch.get(TAGS), batch.get(TYPE_IDS))
        columns["doc_index"] = [indices[k] for k in columns["doc_index"]]
        return columns

    import datasets

    # In memory: otherwise map writes cache files beside the documents' Arrow files, which may be a
    # prepared dataset the run did not create. The fingerprint names the windowing so that datasets
    # need not hash the tokenizer inside the encoder.
    fingerprint = f"windows-{documents._fingerprint}-{max_chars}-{stride}-{len(encoder.tokenizer)}"
    # A progress bar on a terminal only, as every stage draws them (logging_setup).
    quiet = datasets.is_progress_bar_enabled() and not sys.stderr.isatty()
    if quiet:
        datasets.disable_progress_bars()
    try:
        return documents.map(to_windows, batched=True, with_indices=True, remove_columns=documents.column_names,
                             features=window_features(documents), keep_in_memory=True,
                             new_fingerprint=fingerprint, desc="windows")
    finally:
        if quiet:
            datasets.enable_progress_bars()


def window_probs(logits: torch.Tensor | np.ndarray, n_chars: Sequence[int],
                 crf: LinearChainCRF | None = None) -> np.ndarray:
    """Window outputs (row ``r``: ``[CLS]``, its ``n_chars[r]`` characters, then ``[SEP]`` and padding)
    -> ``(rows, positions, 3)`` float32 tag probabilities, wherever they are computed (training
    metrics, the decision fit, the extractor). The head decides: ``crf=None`` is a softmax per
    position; a CRF gives its forward-backward marginals over each row's characters alone (zeros at
    the other positions), under the IOB2 constraint: ``I-KP`` at a window's first character is 0.
    The marginals are renormalised per character, so that their rows sum to 1 as closely as a
    softmax's (``exp`` of float32 forward and backward scores leaves ~1e-6)."""
    import torch

    logits = torch.as_tensor(logits).float()
    if crf is None:
        return torch.softmax(logits, dim=-1).cpu().numpy()
    positions = torch.arange(logits.shape[1])
    mask = (positions >= 1) & (positions <= torch.as_tensor(list(n_chars))[:, None])
    device = crf.transitions.device
    with torch.no_grad():
        probs = crf.marginals(logits.to(device), mask.to(device)).float()
        total = probs.sum(dim=-1, keepdim=True)
        return (probs / torch.where(total > 0, total, torch.ones_like(total))).cpu().numpy()


def write_owned(out: list[np.ndarray], windows: Sequence[Window], values: np.ndarray) -> None:
    """Row ``r`` of ``values`` (``[CLS]`` first) holds ``windows[r]``: its owned characters go into
    ``out[w.doc]``; the rest of the row is left to the windows that own it."""
    for r, w in enumerate(windows):
        out[w.doc][w.lo : w.hi] = values[r, 1 + w.lo - w.start : 1 + w.hi - w.start]


def logits_to_probs(logits: np.ndarray, lengths: Sequence[int], max_chars: int, stride: int,
                    crf: LinearChainCRF | None = None) -> list[np.ndarray]:
    """Outputs for every window of :func:`plan_windows` in its order (the Trainer's predictions over a
    :func:`windows_dataset`, padded) -> ``(length, 3)`` float32 probabilities per document
    (:func:`window_probs` with the head's ``crf``)."""
    out = [np.zeros((n, N_TAGS), dtype=np.float32) for n in lengths]
    windows = plan_windows(lengths, max_chars, stride)
    if len(windows) != len(logits):
        raise ValueError(f"{len(logits)} window outputs for {len(windows)} windows")
    write_owned(out, windows, window_probs(logits, [w.end - w.start for w in windows], crf))
    return out


def reads_token_types(model) -> bool:
    """Whether ``model``'s forward takes ``token_type_ids`` (BERT-family models do, DistilBERT-like
    ones do not): the only models that are sent them, in training and in prediction."""
    return "token_type_ids" in inspect.signature(model.forward).parameters


def pad_rows(rows: Rows, pad_id: int, device: torch.device | str, token_types: bool) -> dict[str, torch.Tensor]:
    """Window rows (``input_ids``, optional ``token_type_ids``) as one padded batch of tensors on
    ``device``. With ``token_types`` (the model reads them, :func:`reads_token_types`) the batch has
    ``token_type_ids``, zeros where the rows have none; without, it has none."""
    import torch

    ids, types = rows["input_ids"], rows.get("token_type_ids")
    shape = (len(ids), max(len(row) for row in ids))
    input_ids = np.full(shape, pad_id, dtype=np.int64)
    mask = np.zeros(shape, dtype=np.int64)
    type_ids = np.zeros(shape, dtype=np.int64)
    for r, row in enumerate(ids):
        input_ids[r, : len(row)] = row
        mask[r, : len(row)] = 1
        if types is not None:
            type_ids[r, : len(row)] = types[r]
    batch = {"input_ids": input_ids, "attention_mask": mask, **({"token_type_ids": type_ids} if token_types else {})}
    return {name: torch.from_numpy(array).to(device) for name, array in batch.items()}


def predict_probs(model, windows: Sequence[Window], rows: Callable[[list[int]], Rows], lengths: Sequence[int],
                  pad_id: int, batch_size: int, device: torch.device | str,
                  crf: LinearChainCRF | None = None, streams: int | None = 1,
                  alongside: Callable[[], None] | None = None) -> list[np.ndarray]:
    """``(length, 3)`` float32 probabilities per document from ``model`` (and its ``crf`` head, if
    any: :func:`window_probs`); ``rows(indices)`` gives the model rows of ``windows[i]`` for each index.

    Windows are sorted by length (longest first, ties in plan order) so a batch pads little, and
    each batch writes only the characters its windows own: memory grows with the batch size (times
    the streams), not with the length of a document. ``streams`` batches run side by side
    (``None``: the device's default; :func:`~keyphrase_tagger.tagger.streams.stream_count`), and
    ``alongside()``, if given, runs while they do (:func:`~keyphrase_tagger.tagger.streams.run_streams`).
    """
    import torch

    out = [np.zeros((n, N_TAGS), dtype=np.float32) for n in lengths]
    order = sorted(range(len(windows)), key=lambda i: windows[i].start - windows[i].end)
    token_types = reads_token_types(model)

    def run(batch: list[int]) -> None:
        chosen = [windows[i] for i in batch]
        with torch.inference_mode():  # per thread: the streams' threads need it as much as this one
            logits = model(**pad_rows(rows(batch), pad_id, device, token_types)).logits
            # Owned ranges never overlap, so streams write disjoint parts of ``out``.
            write_owned(out, chosen, window_probs(logits, [w.end - w.start for w in chosen], crf))

    batches = [order[b : b + batch_size] for b in range(0, len(order), batch_size)]
    device_type = torch.device(device).type
    run_streams(batches, run, stream_count(streams, device_type, torch.get_num_threads(), len(batches)), alongside)
    return out


def text_rows(texts: Sequence[str], encoder: CharEncoder, windows: Sequence[Window],
              type_ids: Sequence[np.ndarray] | None = None) -> Callable[[list[int]], Rows]:
    """``rows`` for :func:`predict_probs` built from the texts on demand, one batch at a time."""
    ids = [encoder.encode(t) for t in texts]

    def rows(indices: list[int]) -> Rows:
        batch = [window_row(ids[w.doc], w.start, w.end, encoder, None, None if type_ids is None else type_ids[w.doc])
                 for w in (windows[i] for i in indices)]
        return {name: [row[name] for row in batch] for name in batch[0]}

    return rows


def dataset_rows(windows_ds: datasets.Dataset) -> Callable[[list[int]], Rows]:
    """``rows`` for :func:`predict_probs` read from a :func:`windows_dataset` (its model inputs)."""
    inputs = windows_ds.select_columns([c for c in windows_ds.column_names if c in ("input_ids", "token_type_ids")])
    return lambda indices: inputs[indices]


def texts_probs(model, encoder: CharEncoder, texts: Sequence[str], max_chars: int, stride: int, batch_size: int,
                device: torch.device | str, type_ids: Sequence[np.ndarray] | None = None,
                crf: LinearChainCRF | None = None, streams: int | None = 1,
                alongside: Callable[[], None] | None = None) -> list[np.ndarray]:
    """The model's ``(len(text), 3)`` float32 probabilities per text (see :func:`predict_probs`)."""
    lengths = [len(t) for t in texts]
    windows = plan_windows(lengths, max_chars, stride)
    return predict_probs(model, windows, text_rows(texts, encoder, windows, type_ids), lengths, encoder.pad_id,
                         batch_size, device, crf, streams, alongside)
