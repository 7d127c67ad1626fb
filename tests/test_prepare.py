"""Corpus -> labeled documents -> splits -> DatasetDict on disk, and ``kpt-prepare`` end to end."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import datasets
import pytest
from conftest import CORPUS, compose
from omegaconf import OmegaConf
from test_cleaning import PINNED_STRIP_CHARS
from test_labeling import naive_leftmost_longest

from keyphrase_tagger.data.dataset_writer import dataset_features
from keyphrase_tagger.data.labeling import tag_ids_to_strings
from keyphrase_tagger.data.prepare import prepare_corpus, prepare_to_disk, save_prepared, to_dataset_dict
from keyphrase_tagger.data.splits import SPLITS
from keyphrase_tagger.errors import ConfigError, CorpusFormatError

KPT_PREPARE = Path(sys.executable).parent / "kpt-prepare"
# What save_prepared needs of the data group: two documents per Arrow batch, so batches are exercised.
WRITE = {"write_batch_documents": 2}
COLUMNS = ["doc_id", "text", "labels", "phrases", "raw_phrases", "dropped", "shadowed"]

THREE_DOCUMENTS = (
    "发展服务业和现代物流，推进服务业升级\n"
    "[服务业,现代物流,的]\n"
    "\n"
    "支持跨境电商发展\n"
    "[跨境电商、,电商]\n"
    "养老服务体系建设\n"
    "[养老服务,体系建设]\n"
)


def write_corpus(directory: Path, content: str | bytes, name: str = "corpus.txt") -> Path:
    path = directory / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def prepared(tmp_path: Path, content: str, *overrides: str):
    cfg = compose("prepare", [f"data.corpus_path={write_corpus(tmp_path, content)}", *overrides])
    return prepare_corpus(cfg.data)


def run_prepare(cwd: Path, *overrides: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [str(KPT_PREPARE), *overrides], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


# --- prepare_corpus ---------------------------------------------------------------------------


def test_documents_carry_cleaned_phrases_and_one_tag_per_character(tmp_path):
    docs = prepared(tmp_path, THREE_DOCUMENTS).documents
    assert [d.document.doc_id for d in docs] == ["doc-0000", "doc-0001", "doc-0002"]
    assert [d.document.phrases for d in docs] == [("服务业", "现代物流"), ("跨境电商", "电商"), ("养老服务", "体系建设")]
    first = docs[0]
    assert len(first.tags) == len(first.document.text)
    assert "".join(t[0] for t in tag_ids_to_strings(first.tags)) == "OOBIIOBIIIOOOBIIOO"


def test_shadowed_phrase_stays_in_the_gold_list_but_is_counted(tmp_path):
    doc = prepared(tmp_path, THREE_DOCUMENTS).documents[1]
    # "电商" only occurs inside "跨境电商": kept as gold, never tagged.
    assert "电商" in doc.document.phrases
    assert doc.stats.shadowed == ["电商"]


def test_missing_phrase_warns_drops_and_counts_by_default(tmp_path, caplog):
    with caplog.at_level(logging.WARNING):
        corpus = prepared(tmp_path, "发展服务业\n[服务业,港口]\n")
    assert corpus.documents[0].document.phrases == ("服务业",)
    assert corpus.stats()["all"]["dropped"]["missing"] == {"count": 1, "examples": ["港口"]}
    assert any("do not occur" in r.getMessage() for r in caplog.records)


def test_missing_phrase_with_on_missing_error_names_the_list_line(tmp_path):
    with pytest.raises(CorpusFormatError) as info:
        prepared(tmp_path, THREE_DOCUMENTS + "\n发展服务业\n[服务业,港口]\n", "data.on_missing_phrase=error")
    assert info.value.line == 10
    assert str(info.value).endswith(':10: phrase "港口" does not occur in its document')


def test_phrase_missing_only_before_cleaning_is_not_missing(tmp_path):
    corpus = prepared(tmp_path, "发展服务业\n[服务业。]\n", "data.on_missing_phrase=error")
    assert corpus.documents[0].document.phrases == ("服务业",)


@pytest.mark.parametrize("override", ["data.on_missing_phrase=ignore", "data.overlap=shortest"])
def test_unknown_policies_are_config_errors(tmp_path, override):
    with pytest.raises(ConfigError):
        prepared(tmp_path, THREE_DOCUMENTS, override)


def test_corpus_without_documents_is_an_error(tmp_path):
    with pytest.raises(CorpusFormatError, match="no documents"):
        prepared(tmp_path, "\n\n")


@pytest.mark.parametrize("n", [1, 2])
def test_tiny_corpora_prepare_with_empty_splits_and_a_warning(tmp_path, n, caplog):
    content = "".join(f"第{i}份文件发展服务业\n[服务业]\n" for i in range(n))
    with caplog.at_level(logging.WARNING):
        corpus = prepared(tmp_path, content)
    dataset = to_dataset_dict(corpus)
    assert sum(dataset[name].num_rows for name in SPLITS) == n
    assert any(dataset[name].num_rows == 0 for name in SPLITS)
    assert any("is empty" in r.getMessage() for r in caplog.records)
    save_prepared(corpus, tmp_path / "out", WRITE)
    assert datasets.load_from_disk(str(tmp_path / "out"))["train"].num_rows == n


def test_kfold_config_gives_the_fold_as_test_split(tmp_path):
    content = "".join(f"第{i}份文件发展服务业\n[服务业]\n" for i in range(10))
    folds = [prepared(tmp_path, content, "data.split.kfold=5", f"data.split.fold={i}").splits for i in range(5)]
    assert sorted(i for f in folds for i in f["test"]) == list(range(10))


# --- writing ----------------------------------------------------------------------------------


# Replacing, refusing and cleaning up in general: test_outputs.py. Here: what it means for a dataset.


def test_rerun_replaces_its_own_earlier_dataset(tmp_path):
    save_prepared(prepared(tmp_path, THREE_DOCUMENTS), tmp_path / "out", WRITE)
    save_prepared(prepared(tmp_path, "发展服务业\n[服务业]\n"), tmp_path / "out", WRITE)
    dataset = datasets.load_from_disk(str(tmp_path / "out"))
    assert sum(dataset[name].num_rows for name in SPLITS) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "out"]


def test_saved_dataset_loads_back_as_the_dataset_dict(tmp_path):
    corpus = prepared(tmp_path, THREE_DOCUMENTS)
    save_prepared(corpus, tmp_path / "out", WRITE)
    loaded = datasets.load_from_disk(str(tmp_path / "out"))
    expected = to_dataset_dict(corpus)
    assert sorted(loaded) == sorted(SPLITS)
    assert all(loaded[name].to_list() == expected[name].to_list() for name in SPLITS)


def one_table_split(corpus, name: str) -> datasets.Dataset:
    """A split as one in-memory table of Python rows: what the batched writer must reproduce."""
    docs = corpus.split(name)
    rows = {
        "doc_id": [d.document.doc_id for d in docs],
        "text": [d.document.text for d in docs],
        "labels": [tag_ids_to_strings(d.tags) for d in docs],
        "phrases": [list(d.document.phrases) for d in docs],
        "raw_phrases": [d.stats.raw_phrases for d in docs],
        "dropped": [[{"reason": r, "phrase": p} for r, p in d.stats.dropped] for d in docs],
        "shadowed": [list(d.stats.shadowed) for d in docs],
    }
    return datasets.Dataset.from_dict(rows, features=dataset_features())


def without_fingerprint(path: Path) -> dict:
    state = json.loads(path.read_text(encoding="utf-8"))
    return {key: value for key, value in state.items() if key != "_fingerprint"}


def test_batched_writing_gives_the_dataset_of_one_table_per_split(tmp_path):
    # The embedded corpus (40 documents, missing and shadowed phrases) in batches of 3: every split
    # spans several batches, the last one partial.
    cfg = compose("prepare", [f"data.corpus_path={CORPUS}", f"data.processed_dir={tmp_path / 'streamed'}",
                              "data.write_batch_documents=3"]).data
    config = OmegaConf.to_container(cfg)
    stats = prepare_to_disk(cfg, cfg.processed_dir, config)
    corpus = prepare_corpus(cfg)
    assert stats == corpus.stats()
    for name in SPLITS:
        expected = one_table_split(corpus, name)
        expected.save_to_disk(str(tmp_path / "one_table" / name))
        loaded = datasets.load_from_disk(str(tmp_path / "streamed" / name))
        assert loaded.num_rows == len(corpus.splits[name]) > 3
        assert loaded.features == expected.features
        assert loaded.to_list() == expected.to_list()
        for written in ("dataset_info.json", "state.json"):
            got, want = tmp_path / "streamed" / name / written, tmp_path / "one_table" / name / written
            assert without_fingerprint(got) == without_fingerprint(want)
        assert (tmp_path / "streamed" / name / "dataset_info.json").read_bytes() == (
            tmp_path / "one_table" / name / "dataset_info.json").read_bytes()
    saved = json.loads((tmp_path / "streamed" / "stats.json").read_text(encoding="utf-8"))
    assert saved["splits"] == corpus.stats()
    assert saved["fingerprint"] == corpus.fingerprint.record()
    # The documents held in memory, written by save_prepared: the same files, byte for byte.
    save_prepared(corpus, tmp_path / "saved", config)
    assert file_bytes(tmp_path / "saved") == file_bytes(tmp_path / "streamed")


def test_a_split_larger_than_a_shard_is_written_as_shards_that_load_as_one_split(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "MAX_SHARD_SIZE", "200KB")
    cfg = compose("prepare", [f"data.corpus_path={CORPUS}", f"data.processed_dir={tmp_path / 'out'}",
                              "data.write_batch_documents=3"]).data
    prepare_to_disk(cfg, cfg.processed_dir, OmegaConf.to_container(cfg))
    shards = sorted(p.name for p in (tmp_path / "out" / "train").iterdir() if p.suffix == ".arrow")
    assert len(shards) > 1
    assert shards == [f"data-{i:05d}-of-{len(shards):05d}.arrow" for i in range(len(shards))]
    loaded = datasets.load_from_disk(str(tmp_path / "out"))
    corpus = prepare_corpus(cfg)
    assert all(loaded[name].to_list() == one_table_split(corpus, name).to_list() for name in SPLITS)


def file_bytes(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("where", ["corpus folder", "its parent"])
def test_processed_dir_holding_the_corpus_is_refused_and_the_corpus_kept(tmp_path, where):
    (tmp_path / "raw").mkdir()
    corpus = prepared(tmp_path / "raw", THREE_DOCUMENTS)
    target = tmp_path / "raw" if where == "corpus folder" else tmp_path
    with pytest.raises(ConfigError, match=r"^data\.processed_dir=.*: holds the corpus"):
        save_prepared(corpus, target, WRITE)
    assert (tmp_path / "raw" / "corpus.txt").read_text(encoding="utf-8") == THREE_DOCUMENTS
    assert [p.name for p in tmp_path.iterdir()] == ["raw"]


def test_processed_dir_with_files_the_program_did_not_write_is_refused(tmp_path):
    corpus = prepared(tmp_path, THREE_DOCUMENTS)
    (tmp_path / "processed").mkdir()
    (tmp_path / "processed" / "notes.md").write_text("mine")
    with pytest.raises(ConfigError, match=r"^data\.processed_dir=.*processed: holds files keyphrase-tagger did not"):
        save_prepared(corpus, tmp_path / "processed", WRITE)
    assert [p.name for p in (tmp_path / "processed").iterdir()] == ["notes.md"]


def test_more_folds_than_documents_is_a_config_error_naming_both(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.split\.kfold=5 exceeds the 3 documents"):
        prepared(tmp_path, THREE_DOCUMENTS, "data.split.kfold=5")


def test_ratios_that_are_not_three_numbers_are_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.split\.ratios must be three"):
        prepared(tmp_path, THREE_DOCUMENTS, "data.split.ratios=[1,1]")


# --- kpt-prepare end to end -------------------------------------------------------------------


def test_kpt_prepare_writes_dataset_dict_and_stats(tmp_path):
    write_corpus(tmp_path, THREE_DOCUMENTS)
    result = run_prepare(tmp_path, "data.corpus_path=corpus.txt", "data.processed_dir=processed/policy")
    assert result.returncode == 0, result.stderr

    dataset = datasets.load_from_disk(str(tmp_path / "processed" / "policy"))
    assert sorted(dataset) == sorted(SPLITS)
    rows = [row for name in SPLITS for row in dataset[name]]
    assert all(dataset[name].column_names == COLUMNS for name in SPLITS)
    assert sorted(r["doc_id"] for r in rows) == ["doc-0000", "doc-0001", "doc-0002"]
    for row in rows:
        assert len(row["labels"]) == len(row["text"])
        assert set(row["labels"]) <= {"O", "B-KP", "I-KP"}
    by_id = {r["doc_id"]: r for r in rows}
    assert by_id["doc-0001"]["phrases"] == ["跨境电商", "电商"]
    assert by_id["doc-0001"]["labels"] == ["O", "O", "B-KP", "I-KP", "I-KP", "I-KP", "O", "O"]

    stats = json.loads((tmp_path / "processed" / "policy" / "stats.json").read_text(encoding="utf-8"))
    assert stats["splits"]["all"]["documents"] == 3
    assert stats["splits"]["all"]["shadowed"] == {"count": 1, "examples": ["电商"]}
    assert sum(stats["splits"][name]["documents"] for name in SPLITS) == 3
    assert stats["config"]["corpus_path"] == "corpus.txt"
    assert stats["fingerprint"]["settings"]["cleaning"]["min_chars"] == 2  # what kpt-train compares before reading it

    table = result.stdout
    assert "tagged_fraction" in table and "dropped: too_short" in table
    assert all(name in table for name in SPLITS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.txt", "processed"]


MALFORMED = {
    "odd_line_count": ("发展服务业\n[服务业]\n推进物流\n", 3, []),
    "document_without_list": ("发展服务业\n[服务业]\n推进物流\n支持电商\n[电商]\n", 4, []),
    "list_not_bracketed": ("发展服务业\n服务业,发展\n", 2, []),
    "list_missing_closing_bracket": ("发展服务业\n[服务业]\n推进物流\n[物流\n", 4, []),
    "invalid_utf8": ("发展服务业\n[服务业]\n推进".encode() + b"\xff" + "物流\n[物流]\n".encode(), 3, []),
    "missing_phrase_error": ("发展服务业\n[服务业]\n推进物流\n[物流,港口]\n", 4, ["data.on_missing_phrase=error"]),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_kpt_prepare_reports_a_malformed_corpus_in_one_line_and_writes_nothing(tmp_path, case):
    content, line, overrides = MALFORMED[case]
    write_corpus(tmp_path, content)
    result = run_prepare(tmp_path, "data.corpus_path=corpus.txt", "data.processed_dir=processed/policy", *overrides)
    assert result.returncode != 0
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"error: corpus.txt:{line}: ")
    assert "Traceback" not in result.stderr + result.stdout
    # Nothing written: no dataset, no parent directory, no Hydra outputs/ or .hydra/.
    assert [p.name for p in tmp_path.iterdir()] == ["corpus.txt"]


def test_kpt_prepare_reports_a_missing_corpus_file(tmp_path):
    result = run_prepare(tmp_path, "data.corpus_path=nowhere.txt", "data.processed_dir=processed")
    assert result.returncode != 0
    assert result.stderr.splitlines() == ["error: nowhere.txt: file not found"]
    assert list(tmp_path.iterdir()) == []


def test_failed_kpt_prepare_leaves_an_earlier_dataset_untouched(tmp_path):
    write_corpus(tmp_path, "发展服务业\n")
    (tmp_path / "processed").mkdir()
    (tmp_path / "processed" / "dataset_dict.json").write_text("{}")
    result = run_prepare(tmp_path, "data.corpus_path=corpus.txt", "data.processed_dir=processed")
    assert result.returncode != 0
    assert [p.name for p in (tmp_path / "processed").iterdir()] == ["dataset_dict.json"]


def file_contents(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_kpt_prepare_refuses_the_working_directory_and_leaves_every_file(tmp_path):
    write_corpus(tmp_path, THREE_DOCUMENTS)
    (tmp_path / "notes.md").write_text("mine")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print('mine')\n")
    before = file_contents(tmp_path)
    result = run_prepare(tmp_path, "data.corpus_path=corpus.txt", "data.processed_dir=.")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: data.processed_dir=.: is the working directory or holds it; name a directory of its own"]
    assert file_contents(tmp_path) == before


def test_kpt_prepare_refuses_more_folds_than_the_embedded_corpus_has_documents(tmp_path):
    result = run_prepare(tmp_path, f"data.corpus_path={CORPUS}", "data.processed_dir=processed", "data.split.kfold=60")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: data.split.kfold=60 exceeds the 40 documents of the corpus: every fold needs a test document"]
    assert list(tmp_path.iterdir()) == []


# --- the embedded corpus, every tag checked ---------------------------------------------------


def independent_documents(path: Path) -> list[tuple[str, list[str]]]:
    """(text, cleaned phrases) per document, read and cleaned without the package's code."""
    lines = [ln.rstrip("\r") for ln in path.read_text(encoding="utf-8-sig").split("\n") if ln.strip()]
    documents = []
    for text, phrase_line in zip(lines[0::2], lines[1::2]):
        phrases = [p.strip(PINNED_STRIP_CHARS) for p in phrase_line.strip()[1:-1].split(",")]
        cleaned = [p for p in dict.fromkeys(phrases) if len(p) >= 2 and p in text]
        documents.append((text, cleaned))
    return documents


@pytest.fixture(scope="module")
def embedded_dataset(tmp_path_factory) -> datasets.DatasetDict:
    cwd = tmp_path_factory.mktemp("embedded")
    result = run_prepare(cwd, f"data.corpus_path={CORPUS}", "data.processed_dir=processed")
    assert result.returncode == 0, result.stderr
    return datasets.load_from_disk(str(cwd / "processed"))


def test_embedded_corpus_splits_forty_documents_80_10_10(embedded_dataset):
    assert [embedded_dataset[name].num_rows for name in SPLITS] == [32, 4, 4]


def test_every_tag_of_the_embedded_corpus_follows_the_pinned_rule(embedded_dataset):
    rows = {row["doc_id"]: row for name in SPLITS for row in embedded_dataset[name]}
    expected = independent_documents(CORPUS)
    assert len(expected) == 40 and len(rows) == 40
    for k, (text, phrases) in enumerate(expected):
        row = rows[f"doc-{k:04d}"]
        assert row["text"] == text
        assert row["phrases"] == phrases, row["doc_id"]
        assert row["labels"] == naive_leftmost_longest(text, phrases), row["doc_id"]
