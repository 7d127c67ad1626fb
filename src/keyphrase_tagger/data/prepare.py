"""Corpus file -> cleaned, labeled documents -> splits -> ``datasets.DatasetDict`` on disk."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keyphrase_tagger.data.cleaning import CleaningConfig, clean_phrases
from keyphrase_tagger.data.corpus import RawDocument, iter_corpus, read_corpus
from keyphrase_tagger.data.dataset_writer import dataset_features, document_table, write_dataset_dict
from keyphrase_tagger.data.fingerprint import Fingerprint
from keyphrase_tagger.data.labeling import label_text
from keyphrase_tagger.data.matching import PhraseMatcher
from keyphrase_tagger.data.splits import SPLITS, split_indices, split_settings
from keyphrase_tagger.data.stats import DocumentStats, StatsPool, pool_stats
from keyphrase_tagger.errors import ConfigError, CorpusFormatError
from keyphrase_tagger.outputs import replace_directory
from keyphrase_tagger.records import Document

log = logging.getLogger(__name__)
PREPARED_DATASET = "prepared_dataset"  # the kind named in the output directory's marker


@dataclass(frozen=True)
class LabeledDocument:
    document: Document
    tags: np.ndarray  # int8 tag ids, one per character
    stats: DocumentStats


@dataclass(frozen=True)
class PreparedCorpus:
    documents: list[LabeledDocument]
    splits: dict[str, list[int]]
    corpus_path: Path | None = None  # the file read: the output directory must not hold it
    fingerprint: Fingerprint | None = None  # what the documents were prepared from

    def split(self, name: str) -> list[LabeledDocument]:
        if name == "all":
            return list(self.documents)
        return [self.documents[i] for i in self.splits[name]]

    def stats(self) -> dict[str, dict]:
        out = {"all": pool_stats(d.stats for d in self.documents)}
        for name in SPLITS:
            out[name] = pool_stats(d.stats for d in self.split(name))
        return out


def label_document(raw: RawDocument, cleaning: CleaningConfig, on_missing: str, path: object) -> LabeledDocument:
    """Clean one phrase list and tag every occurrence of every kept phrase."""
    cleaned = clean_phrases(raw.raw_phrases, cleaning)
    # A phrase absent from the text never matches, so matching the whole cleaned list gives the
    # same tags as matching only the phrases that occur. Only phrases that were never chosen need a
    # substring check (missing or shadowed): no loop over the whole list for long documents.
    tags, matches = label_text(raw.text, PhraseMatcher(cleaned.kept))
    # The kept list has no empty or repeated phrase, so the matcher's phrase k is cleaned.kept[k].
    unused = np.ones(len(cleaned.kept), dtype=bool)
    unused[matches[:, 0]] = False
    dropped = list(cleaned.dropped)
    shadowed: list[str] = []
    missing: set[str] = set()
    for phrase in map(cleaned.kept.__getitem__, np.flatnonzero(unused).tolist()):
        if phrase in raw.text:
            shadowed.append(phrase)
        elif on_missing == "error":
            raise CorpusFormatError(path, raw.phrases_line, f'phrase "{phrase}" does not occur in its document')
        else:
            missing.add(phrase)
            dropped.append(("missing", phrase))
    kept = [p for p in cleaned.kept if p not in missing] if missing else cleaned.kept
    stats = DocumentStats(
        characters=len(raw.text),
        raw_phrases=len(raw.raw_phrases),
        kept_phrases=len(kept),
        tagged_spans=len(matches),
        tagged_characters=int(np.count_nonzero(tags)),
        dropped=dropped,
        shadowed=shadowed,
    )
    return LabeledDocument(Document(raw.doc_id, raw.text, tuple(kept)), tags, stats)


def _checked(data_cfg: Mapping) -> tuple[Path, CleaningConfig, str]:
    """``(corpus path, cleaning, on_missing_phrase)`` of ``data_cfg``, the labeling choices checked."""
    on_missing = data_cfg.get("on_missing_phrase", "warn")
    if on_missing not in ("warn", "error"):
        raise ConfigError(f"data.on_missing_phrase must be 'warn' or 'error', got {on_missing!r}")
    if data_cfg.get("overlap", "leftmost_longest") != "leftmost_longest":
        raise ConfigError(f"data.overlap must be 'leftmost_longest', got {data_cfg.get('overlap')!r}")
    return Path(data_cfg["corpus_path"]), CleaningConfig.from_dict(data_cfg.get("cleaning")), on_missing


def prepare_corpus(data_cfg: Mapping, fingerprint: Fingerprint | None = None) -> PreparedCorpus:
    """Read, clean, label and split the corpus that ``data_cfg`` names (the ``data`` config group),
    keeping every labeled document in memory (:func:`prepare_to_disk` keeps none).

    ``fingerprint``: the corpus and settings as the caller found them before this call; by default
    taken here, before the file is read.
    """
    path, cleaning, on_missing = _checked(data_cfg)
    fingerprint = fingerprint or Fingerprint.of(data_cfg)
    labeled = [label_document(raw, cleaning, on_missing, path) for raw in read_corpus(path)]
    if not labeled:
        raise CorpusFormatError(path, None, "no documents in the file")
    warn_missing(path, labeled)
    return PreparedCorpus(labeled, corpus_splits(data_cfg, len(labeled)), path, fingerprint)


def warn_missing(path: Path, labeled: list[LabeledDocument]) -> None:
    """One warning with the number of listed phrases that occur nowhere in their documents."""
    log_missing(path, sum(1 for d in labeled for reason, _ in d.stats.dropped if reason == "missing"))


def log_missing(path: Path, missing: int) -> None:
    if missing:
        log.warning("%s: %d listed phrases do not occur in their documents and were dropped", path, missing)


def corpus_splits(data_cfg: Mapping, n_documents: int) -> dict[str, list[int]]:
    """The document indices of each split, as ``data.split`` assigns them to ``n_documents`` documents."""
    return split_indices(n_documents, **split_settings(data_cfg.get("split")))


def split_dataset(prepared: PreparedCorpus, name: str):
    """One split as a ``datasets.Dataset``, one row per document (the columns of
    :func:`~keyphrase_tagger.data.dataset_writer.dataset_features`)."""
    import datasets
    from datasets.table import InMemoryTable

    table = InMemoryTable(document_table(prepared.split(name)))
    return datasets.Dataset(table, info=datasets.DatasetInfo(features=dataset_features()))


def to_dataset_dict(prepared: PreparedCorpus):
    """The train, validation and test splits as one ``datasets.DatasetDict``."""
    import datasets

    return datasets.DatasetDict({name: split_dataset(prepared, name) for name in SPLITS})


def _batch_documents(config: Mapping) -> int:
    value = config.get("write_batch_documents")
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"data.write_batch_documents must be an integer >= 1, got {value!r}")
    return value


def _write_stats(tmp: Path, config: Mapping, stats: dict, fingerprint: Fingerprint | None) -> None:
    payload = {"config": dict(config), "splits": stats, "fingerprint": fingerprint.record() if fingerprint else None}
    (tmp / "stats.json").write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")


def save_prepared(prepared: PreparedCorpus, processed_dir: str | Path, config: Mapping) -> dict:
    """Write the dataset and ``stats.json`` (with the dataset's fingerprint) to ``processed_dir``;
    return the stats. ``config``: the ``data`` group, recorded in ``stats.json``; its
    ``write_batch_documents`` rows are turned into Arrow at a time.

    ``processed_dir`` is replaced as a whole, and only if it is new, empty or an earlier dataset of
    this program (see :func:`keyphrase_tagger.outputs.replace_directory`).
    """
    stats = prepared.stats()
    batch = _batch_documents(config)
    split_of = _split_names(prepared.splits, len(prepared.documents))

    def write(tmp: Path) -> None:
        rows = ((SPLITS[split_of[i]], doc) for i, doc in enumerate(prepared.documents))
        write_dataset_dict(tmp, rows, batch, prepared.fingerprint.digest if prepared.fingerprint else None)
        _write_stats(tmp, config, stats, prepared.fingerprint)

    inputs = [("the corpus", prepared.corpus_path)] if prepared.corpus_path is not None else []
    replace_directory(processed_dir, PREPARED_DATASET, write, key="data.processed_dir", inputs=inputs)
    return stats


def _split_names(splits: Mapping[str, list[int]], n_documents: int) -> np.ndarray:
    """For each document index, the position of its split in ``SPLITS``."""
    split_of = np.full(n_documents, -1, dtype=np.int8)
    for k, name in enumerate(SPLITS):
        split_of[splits[name]] = k
    return split_of


def prepare_to_disk(data_cfg: Mapping, processed_dir: str | Path, config: Mapping) -> dict:
    """What :func:`prepare_corpus` then :func:`save_prepared` write, with a working set of one batch
    of documents: a first pass over the file counts the documents (and finds any format error), so
    that the splits are known; the second labels each document and writes it to its split at once.
    """
    path, cleaning, on_missing = _checked(data_cfg)
    fingerprint = Fingerprint.of(data_cfg)
    batch = _batch_documents(config)
    n_documents = sum(1 for _ in iter_corpus(path))
    if not n_documents:
        raise CorpusFormatError(path, None, "no documents in the file")
    split_of = _split_names(corpus_splits(data_cfg, n_documents), n_documents)
    pools = {name: StatsPool() for name in ("all", *SPLITS)}

    def labeled() -> Iterator[tuple[str, LabeledDocument]]:
        changed = CorpusFormatError(path, None, "the file changed while it was being prepared")
        for i, raw in enumerate(iter_corpus(path)):
            if i >= n_documents:
                raise changed
            doc = label_document(raw, cleaning, on_missing, path)
            name = SPLITS[split_of[i]]
            pools["all"].add(doc.stats)
            pools[name].add(doc.stats)
            yield name, doc
        if pools["all"].documents != n_documents:
            raise changed

    def write(tmp: Path) -> None:
        write_dataset_dict(tmp, labeled(), batch, fingerprint.digest)
        log_missing(path, pools["all"].dropped["missing"]["count"])
        _write_stats(tmp, config, {name: pool.result() for name, pool in pools.items()}, fingerprint)

    replace_directory(processed_dir, PREPARED_DATASET, write, key="data.processed_dir",
                      inputs=[("the corpus", path)])
    return {name: pool.result() for name, pool in pools.items()}
