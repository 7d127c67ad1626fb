"""Corpus file -> cleaned, labeled documents -> splits -> ``datasets.DatasetDict`` on disk."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keyphrase_tagger.data.cleaning import CleaningConfig, clean_phrases
from keyphrase_tagger.data.corpus import RawDocument, read_corpus
from keyphrase_tagger.data.fingerprint import Fingerprint
from keyphrase_tagger.data.labeling import label_text, tag_ids_to_strings
from keyphrase_tagger.data.matching import PhraseMatcher
from keyphrase_tagger.data.splits import SPLITS, split_indices, split_settings
from keyphrase_tagger.data.stats import DocumentStats, pool_stats
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
    matcher = PhraseMatcher(cleaned.kept)
    tags, matches = label_text(raw.text, matcher)
    used = {matcher.phrases[i] for i, _, _ in matches}
    dropped = list(cleaned.dropped)
    kept: list[str] = []
    shadowed: list[str] = []
    for phrase in cleaned.kept:
        if phrase in used:
            kept.append(phrase)
        elif phrase in raw.text:
            kept.append(phrase)
            shadowed.append(phrase)
        elif on_missing == "error":
            raise CorpusFormatError(path, raw.phrases_line, f'phrase "{phrase}" does not occur in its document')
        else:
            dropped.append(("missing", phrase))
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


def prepare_corpus(data_cfg: Mapping, fingerprint: Fingerprint | None = None) -> PreparedCorpus:
    """Read, clean, label and split the corpus that ``data_cfg`` names (the ``data`` config group).

    ``fingerprint``: the corpus and settings as the caller found them before this call; by default
    taken here, before the file is read.
    """
    on_missing = data_cfg.get("on_missing_phrase", "warn")
    if on_missing not in ("warn", "error"):
        raise ConfigError(f"data.on_missing_phrase must be 'warn' or 'error', got {on_missing!r}")
    if data_cfg.get("overlap", "leftmost_longest") != "leftmost_longest":
        raise ConfigError(f"data.overlap must be 'leftmost_longest', got {data_cfg.get('overlap')!r}")
    fingerprint = fingerprint or Fingerprint.of(data_cfg)
    path = Path(data_cfg["corpus_path"])
    cleaning = CleaningConfig.from_dict(data_cfg.get("cleaning"))
    labeled = [label_document(raw, cleaning, on_missing, path) for raw in read_corpus(path)]
    if not labeled:
        raise CorpusFormatError(path, None, "no documents in the file")
    warn_missing(path, labeled)
    return PreparedCorpus(labeled, corpus_splits(data_cfg, len(labeled)), path, fingerprint)


def warn_missing(path: Path, labeled: list[LabeledDocument]) -> None:
    """One warning with the number of listed phrases that occur nowhere in their documents."""
    missing = sum(1 for d in labeled for reason, _ in d.stats.dropped if reason == "missing")
    if missing:
        log.warning("%s: %d listed phrases do not occur in their documents and were dropped", path, missing)


def corpus_splits(data_cfg: Mapping, n_documents: int) -> dict[str, list[int]]:
    """The document indices of each split, as ``data.split`` assigns them to ``n_documents`` documents."""
    return split_indices(n_documents, **split_settings(data_cfg.get("split")))


def split_dataset(prepared: PreparedCorpus, name: str):
    """One split as a ``datasets.Dataset``, one row per document: ``doc_id``, ``text``, ``labels``
    (tag strings), ``phrases`` (the cleaned list), and what the statistics need beyond those:
    ``raw_phrases`` (the number listed), ``dropped`` (reason and phrase) and ``shadowed``."""
    import datasets

    string = datasets.Value("string")
    features = datasets.Features(
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
    docs = prepared.split(name)
    rows = {
        "doc_id": [d.document.doc_id for d in docs],
        "text": [d.document.text for d in docs],
        "labels": [tag_ids_to_strings(d.tags) for d in docs],
        "phrases": [list(d.document.phrases) for d in docs],
        "raw_phrases": [d.stats.raw_phrases for d in docs],
        "dropped": [[{"reason": r, "phrase": p} for r, p in d.stats.dropped] for d in docs],
        "shadowed": [list(d.stats.shadowed) for d in docs],
    }
    return datasets.Dataset.from_dict(rows, features=features)


def to_dataset_dict(prepared: PreparedCorpus):
    """The train, validation and test splits as one ``datasets.DatasetDict``."""
    import datasets

    return datasets.DatasetDict({name: split_dataset(prepared, name) for name in SPLITS})


def save_prepared(prepared: PreparedCorpus, processed_dir: str | Path, config: Mapping | None = None) -> dict:
    """Write the dataset and ``stats.json`` (with the dataset's fingerprint) to ``processed_dir``;
    return the stats.

    ``processed_dir`` is replaced as a whole, and only if it is new, empty or an earlier dataset of
    this program (see :func:`keyphrase_tagger.outputs.replace_directory`).
    """
    stats = prepared.stats()

    def write(tmp: Path) -> None:
        import datasets

        datasets.disable_progress_bars()
        # The layout DatasetDict.save_to_disk writes, one split at a time: the rows of one split
        # are in memory at once, not the whole corpus twice (Python lists and Arrow tables).
        (tmp / "dataset_dict.json").write_text(json.dumps({"splits": list(SPLITS)}), encoding="utf-8")
        for name in SPLITS:
            split = split_dataset(prepared, name)
            # datasets writes an empty split as zero shards, which load_from_disk cannot read back:
            # give an empty split one (empty) shard explicitly.
            split.save_to_disk(str(tmp / name), num_shards=1 if split.num_rows == 0 else None)
            del split
        payload = {"config": dict(config or {}), "splits": stats,
                   "fingerprint": prepared.fingerprint.record() if prepared.fingerprint else None}
        (tmp / "stats.json").write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")

    inputs = [("the corpus", prepared.corpus_path)] if prepared.corpus_path is not None else []
    replace_directory(processed_dir, PREPARED_DATASET, write, key="data.processed_dir", inputs=inputs)
    return stats
