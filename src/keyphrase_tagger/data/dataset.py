"""Labeled documents for every command: read from ``data.processed_dir`` when the dataset there was
prepared from this corpus with these settings, prepared (and saved there) otherwise.

The dataset is the one ``kpt-prepare`` writes; its ``stats.json`` records its
:class:`~keyphrase_tagger.data.fingerprint.Fingerprint`. Which dataset was used, or why the corpus
was labeled again, is logged: a stale dataset is never used silently.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from keyphrase_tagger.data.fingerprint import Fingerprint
from keyphrase_tagger.data.prepare import (
    PREPARED_DATASET,
    LabeledDocument,
    PreparedCorpus,
    corpus_splits,
    prepare_corpus,
    save_prepared,
    warn_missing,
)
from keyphrase_tagger.data.splits import SPLITS
from keyphrase_tagger.data.stats import DocumentStats
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.outputs import check_replaceable_directory, read_marker
from keyphrase_tagger.records import LABELS, B, Document

log = logging.getLogger(__name__)
KEY = "data.processed_dir"
_BATCH_ROWS = 256  # rows turned into Python objects at a time: the split itself stays memory-mapped


def _split_documents(split_dir: Path) -> list[LabeledDocument]:
    """The rows of one saved split as labeled documents, in the split's order."""
    import datasets
    import pyarrow as pa
    import pyarrow.compute as pc

    out = []
    for batch in datasets.load_from_disk(str(split_dir)).with_format("arrow").iter(batch_size=_BATCH_ROWS):
        labels = batch.column("labels").combine_chunks()
        ids = pc.index_in(labels.flatten(), value_set=pa.array(LABELS))
        if ids.null_count:
            raise ValueError(f"{split_dir}: a label outside {LABELS}")
        tags = ids.to_numpy(zero_copy_only=False).astype(np.int8)
        ends = np.cumsum(labels.value_lengths().to_numpy(zero_copy_only=False))
        columns = {name: batch.column(name).to_pylist() for name in
                   ("doc_id", "text", "phrases", "raw_phrases", "dropped", "shadowed")}
        for k, (start, end) in enumerate(zip([0, *ends[:-1]], ends)):
            out.append(_labeled(tags[start:end], **{name: values[k] for name, values in columns.items()}))
    return out


def _labeled(tags: np.ndarray, doc_id: str, text: str, phrases: list[str], raw_phrases: int,
             dropped: list[dict], shadowed: list[str]) -> LabeledDocument:
    if len(tags) != len(text):
        raise ValueError(f"{doc_id}: {len(tags)} labels for {len(text)} characters")
    # Counts that follow from the text, the kept list and the tags are not stored: every tagged span
    # starts with the one B of its match, so the spans are the B tags.
    stats = DocumentStats(
        characters=len(text),
        raw_phrases=raw_phrases,
        kept_phrases=len(phrases),
        tagged_spans=int(np.count_nonzero(tags == B)),
        tagged_characters=int(np.count_nonzero(tags)),
        dropped=[(d["reason"], d["phrase"]) for d in dropped],
        shadowed=list(shadowed),
    )
    return LabeledDocument(Document(doc_id, text, tuple(phrases)), tags, stats)


def read_prepared(directory: str | Path, data_cfg: Mapping, fingerprint: Fingerprint) -> PreparedCorpus:
    """The documents of a saved dataset, in corpus order, with the splits ``data_cfg`` gives them.

    ``fingerprint`` must be the dataset's: the splits are computed again, not read, and must hold
    the number of rows each saved split has (``ValueError`` otherwise).
    """
    directory = Path(directory)
    by_split = {name: _split_documents(directory / name) for name in SPLITS}
    splits = corpus_splits(data_cfg, sum(len(docs) for docs in by_split.values()))
    documents: list[LabeledDocument | None] = [None] * sum(len(docs) for docs in by_split.values())
    for name, docs in by_split.items():
        if len(docs) != len(splits[name]):
            raise ValueError(f"{directory}: {len(docs)} documents in split {name!r}, the settings give it "
                             f"{len(splits[name])}")
        for index, doc in zip(splits[name], docs):
            documents[index] = doc
    path = Path(data_cfg["corpus_path"])
    warn_missing(path, documents)
    return PreparedCorpus(documents, splits, path, fingerprint)


def _stored(directory: Path, fingerprint: Fingerprint) -> tuple[str, str]:
    """``(verdict, why)``: ``current`` (our dataset, this fingerprint), ``stale``, ``absent`` or ``foreign``."""
    if (not directory.exists() and not directory.is_symlink()) or (directory.is_dir() and not any(directory.iterdir())):
        return "absent", "no prepared dataset there"
    marker = read_marker(directory) if directory.is_dir() else None
    if marker is None or marker.get("kind") != PREPARED_DATASET:
        return "foreign", "not a dataset keyphrase-tagger prepared"
    try:
        stored = json.loads((directory / "stats.json").read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError, AttributeError):
        stored = None
    if fingerprint.matches(stored):
        return "current", f"prepared from this corpus with these settings, fingerprint {fingerprint.digest[:12]}"
    return "stale", f"stale: {fingerprint.changes(stored)}"


def _why_not_saved(directory: Path, data_cfg: Mapping, write: bool) -> str | None:
    if not write:
        return "reading only"
    try:
        check_replaceable_directory(directory, PREPARED_DATASET, KEY, [("the corpus", data_cfg["corpus_path"])])
    except ConfigError as err:
        return str(err)
    return None


def _plain(data_cfg: Mapping) -> dict:
    from omegaconf import DictConfig, OmegaConf

    return OmegaConf.to_container(data_cfg, resolve=True) if isinstance(data_cfg, DictConfig) else dict(data_cfg)


def load_prepared(data_cfg: Mapping, write: bool = True) -> PreparedCorpus:
    """The labeled documents and splits of the corpus ``data_cfg`` (the ``data`` group) names.

    Read from ``data.processed_dir`` when the dataset there carries the fingerprint of the corpus
    file as it is now and of the cleaning, overlap, missing-phrase and split settings. Otherwise the
    corpus is prepared and, with ``write``, saved there for the next run, replacing a stale dataset
    of this program; a directory holding anything else is left untouched and the corpus labeled in
    memory. Commands that only read a corpus (evaluation, notebooks) pass ``write=False``.
    """
    fingerprint = Fingerprint.of(data_cfg)
    if not data_cfg.get("processed_dir"):
        log.info("prepared dataset: no %s, labeling %s in memory", KEY, data_cfg["corpus_path"])
        return prepare_corpus(data_cfg, fingerprint)
    directory = Path(data_cfg["processed_dir"])
    verdict, why = _stored(directory, fingerprint)
    if verdict == "current":
        try:
            prepared = read_prepared(directory, data_cfg, fingerprint)
        except (OSError, ValueError, KeyError) as err:  # pyarrow's errors are ValueErrors or OSErrors
            verdict, why = "stale", f"unreadable ({str(err).splitlines()[0] if str(err) else type(err).__name__})"
        else:
            log.info("prepared dataset: reading %s (%s)", directory, why)
            return prepared
    not_saved = _why_not_saved(directory, data_cfg, write)
    if not_saved is None:
        log.info("prepared dataset: %s: %s; labeling %s and saving it there", directory, why, data_cfg["corpus_path"])
    else:
        level = logging.WARNING if write else logging.INFO
        log.log(level, "prepared dataset: %s: %s; labeling %s in memory, nothing written (%s)", directory, why,
                data_cfg["corpus_path"], not_saved)
    prepared = prepare_corpus(data_cfg, fingerprint)
    if not_saved is None:
        try:
            save_prepared(prepared, directory, _plain(data_cfg))
        except (ConfigError, OSError) as err:  # e.g. another process replacing it at the same moment
            log.warning("prepared dataset: not saved to %s (%s); going on with the documents in memory", directory, err)
    return prepared
