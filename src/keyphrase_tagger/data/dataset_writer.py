"""Labeled documents -> the files of a ``datasets.DatasetDict``, written a batch of rows at a time.

The layout is the one ``DatasetDict.save_to_disk`` writes (``dataset_dict.json``; per split, Arrow
shards of about ``datasets.config.MAX_SHARD_SIZE`` bytes, ``dataset_info.json`` and ``state.json``),
so ``datasets.load_from_disk`` reads it; unlike ``save_to_disk`` it never needs a whole split in
memory. The rows are written by the library's own ``ArrowWriter``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from keyphrase_tagger.data.splits import SPLITS
from keyphrase_tagger.records import LABELS

if TYPE_CHECKING:
    import datasets
    import pyarrow as pa

    from keyphrase_tagger.data.prepare import LabeledDocument


def dataset_features() -> datasets.Features:
    """The columns of a prepared split, one row per document: ``doc_id``, ``text``, ``labels`` (tag
    strings), ``phrases`` (the cleaned list), and what the statistics need beyond those:
    ``raw_phrases`` (the number listed), ``dropped`` (reason and phrase) and ``shadowed``."""
    import datasets

    string = datasets.Value("string")
    return datasets.Features(
        {
            "doc_id": string,
            "text": string,
            "labels": datasets.Sequence(string),
            "phrases": datasets.Sequence(string),
            "raw_phrases": datasets.Value("int32"),
            "dropped": datasets.List({"reason": string, "phrase": string}),
            "shadowed": datasets.Sequence(string),
        }
    )


def document_table(docs: Sequence[LabeledDocument]) -> pa.Table:
    """The rows of ``docs`` as an Arrow table with :func:`dataset_features`' schema."""
    import pyarrow as pa

    schema = dataset_features().arrow_schema
    offsets = np.zeros(len(docs) + 1, dtype=np.int32)
    np.cumsum([len(d.tags) for d in docs], out=offsets[1:])
    tags = np.concatenate([d.tags for d in docs]) if docs else np.zeros(0, dtype=np.int8)
    # Tag ids -> tag strings in Arrow: no Python string per character.
    labels = pa.ListArray.from_arrays(pa.array(offsets), pa.array(LABELS, pa.string()).take(pa.array(tags)))
    columns = {
        "doc_id": [d.document.doc_id for d in docs],
        "text": [d.document.text for d in docs],
        "labels": labels,
        "phrases": [list(d.document.phrases) for d in docs],
        "raw_phrases": [d.stats.raw_phrases for d in docs],
        "dropped": [[{"reason": r, "phrase": p} for r, p in d.stats.dropped] for d in docs],
        "shadowed": [list(d.stats.shadowed) for d in docs],
    }
    arrays = [column if isinstance(column := columns[f.name], pa.Array) else pa.array(column, f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


class SplitWriter:
    """One split's directory, filled a batch of rows at a time."""

    def __init__(self, directory: Path, fingerprint: str) -> None:
        import datasets
        from datasets.utils.py_utils import convert_file_size_to_int

        directory.mkdir()
        self.directory, self.fingerprint = directory, fingerprint
        self.max_shard_bytes = convert_file_size_to_int(datasets.config.MAX_SHARD_SIZE)
        self.pending: list[LabeledDocument] = []
        self.shards: list[Path] = []  # named data-*-of-N once N is known
        self.writer = None
        self.shard_bytes = 0

    def add(self, doc: LabeledDocument) -> None:
        self.pending.append(doc)

    def flush(self) -> None:
        """Write the pending rows as one batch, in a new shard once the current one is full."""
        if self.pending:
            self._flush()

    def _flush(self) -> None:
        from datasets.arrow_writer import ArrowWriter

        if self.writer is None or self.shard_bytes >= self.max_shard_bytes:
            self._finish_shard()
            self.shards.append(self.directory / f"shard-{len(self.shards):05d}.arrow")
            self.writer = ArrowWriter(features=dataset_features(), path=str(self.shards[-1]))
            self.shard_bytes = 0
        table = document_table(self.pending)
        self.writer.write_table(table)
        self.shard_bytes += table.nbytes
        self.pending = []

    def _finish_shard(self) -> None:
        if self.writer is not None:
            self.writer.finalize()
            self.writer.close()
            self.writer = None

    def discard(self) -> None:
        """Close an open shard after a failure (the caller removes the directory)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def close(self) -> None:
        """Write what is pending and the split's ``state.json`` and ``dataset_info.json``."""
        import datasets
        from datasets.utils.py_utils import asdict

        if self.pending or self.writer is None:  # an empty split still gets one (empty) shard
            self._flush()
        self._finish_shard()
        names = [f"data-{i:05d}-of-{len(self.shards):05d}.arrow" for i in range(len(self.shards))]
        for path, name in zip(self.shards, names):
            path.rename(self.directory / name)
        state = {"_data_files": [{"filename": name} for name in names], "_fingerprint": self.fingerprint,
                 "_format_columns": None, "_format_kwargs": {}, "_format_type": None,
                 "_output_all_columns": False, "_split": None}
        info = asdict(datasets.DatasetInfo(features=dataset_features()))
        _write_json(self.directory / "state.json", state, sort_keys=True)
        _write_json(self.directory / "dataset_info.json", {key: info[key] for key in sorted(info)})


def _write_json(path: Path, payload: dict, sort_keys: bool = False) -> None:
    with path.open("w", encoding="utf-8") as f:
        json.dump(payload, f, indent=2, sort_keys=sort_keys)


def write_dataset_dict(directory: Path, rows: Iterable[tuple[str, LabeledDocument]], batch_documents: int,
                       digest: str | None) -> None:
    """Write each ``(split name, document)`` of ``rows`` to its split under ``directory``, in order,
    holding at most ``batch_documents`` documents at once.

    ``digest``: the dataset's fingerprint digest, from which each split's ``datasets`` fingerprint
    (what ``datasets`` names its caches by) is derived; random when there is none.
    """
    (directory / "dataset_dict.json").write_text(json.dumps({"splits": list(SPLITS)}), encoding="utf-8")
    writers = {name: SplitWriter(directory / name, _split_fingerprint(digest, name)) for name in SPLITS}
    try:
        held = 0
        for name, doc in rows:
            writers[name].add(doc)
            held += 1
            if held == batch_documents:  # across the splits: what is held at once is bounded
                for writer in writers.values():
                    writer.flush()
                held = 0
        for writer in writers.values():
            writer.close()
    finally:
        for writer in writers.values():
            writer.discard()


def _split_fingerprint(digest: str | None, name: str) -> str:
    if digest is None:
        return secrets.token_hex(8)
    return hashlib.sha256(f"{digest}/{name}".encode()).hexdigest()[:16]
