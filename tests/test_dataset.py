"""data/dataset.py: documents come back from the prepared dataset exactly as labeling made them, and a
dataset that no longer matches its corpus or settings is prepared again, never used."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import CORPUS, compose, tiny_corpus_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from keyphrase_tagger.data import prepare as prepare_module
from keyphrase_tagger.data.dataset import load_prepared, read_prepared
from keyphrase_tagger.data.fingerprint import Fingerprint
from keyphrase_tagger.data.prepare import PreparedCorpus, prepare_corpus, prepare_to_disk, save_prepared
from keyphrase_tagger.outputs import write_marker

LOGGER = "keyphrase_tagger.data.dataset"
# Every labeling outcome: too short, empty once stripped, a duplicate once stripped, a phrase missing
# from its text, "物流园" shadowed by "现代物流园区", and a document with an empty list.
RULES_CORPUS = (
    "推进现代物流园区和服务业发展工作\n"
    "[服务业,的,、,服务业，,港口,现代物流园区,物流园]\n"
    "发展跨境电商\n"
    "[]\n"
    "养老服务体系建设\n"
    "[养老服务,体系建设]\n"
)


def data_config(tmp_path: Path, content: str | None = None, *overrides: str, corpus: Path | None = None):
    """The ``data`` group for a corpus written into ``tmp_path`` (or ``corpus``), dataset in ``tmp_path/processed``."""
    if corpus is None:
        corpus = tmp_path / "corpus.txt"
        corpus.write_text(content, encoding="utf-8")
    return compose("prepare", [f"data.corpus_path={corpus}", f"data.processed_dir={tmp_path / 'processed'}",
                               *overrides]).data


def assert_same_corpus(read: PreparedCorpus, expected: PreparedCorpus) -> None:
    assert read.splits == expected.splits
    assert len(read.documents) == len(expected.documents)
    for got, want in zip(read.documents, expected.documents):
        assert got.document == want.document
        assert got.tags.dtype == want.tags.dtype == np.int8
        np.testing.assert_array_equal(got.tags, want.tags, err_msg=want.document.doc_id)
        assert got.stats == want.stats, want.document.doc_id
    assert read.stats() == expected.stats()


def forbid_labeling(monkeypatch) -> None:
    def labeled_again(*args, **kwargs):
        raise AssertionError("the corpus was labeled again")

    monkeypatch.setattr(prepare_module, "label_document", labeled_again)


def file_contents(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_the_embedded_corpus_reads_back_exactly_as_labeling_made_it(tmp_path, monkeypatch, caplog):
    cfg = data_config(tmp_path, corpus=CORPUS)
    expected = prepare_corpus(cfg)
    prepare_to_disk(cfg, cfg.processed_dir, OmegaConf.to_container(cfg))  # as kpt-prepare writes it
    forbid_labeling(monkeypatch)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        read = load_prepared(cfg)
    assert_same_corpus(read, expected)
    assert f"prepared dataset: reading {cfg.processed_dir} (prepared from this corpus" in caplog.text


def test_every_labeling_outcome_reads_back_with_its_statistics(tmp_path):
    cfg = data_config(tmp_path, RULES_CORPUS)
    expected = prepare_corpus(cfg)
    save_prepared(expected, cfg.processed_dir, OmegaConf.to_container(cfg))
    assert_same_corpus(read_prepared(cfg.processed_dir, cfg, expected.fingerprint), expected)
    assert {reason for d in expected.documents for reason, _ in d.stats.dropped} == {
        "too_short", "empty", "duplicate", "missing"}
    assert any(d.stats.shadowed for d in expected.documents)


ALPHABET = "服务业现代物流跨境电商养老体系、，。 的"


@st.composite
def corpora(draw) -> str:
    """Corpus files of 1-6 documents whose lists mix substrings of their text, other strings and noise."""
    lines = []
    for _ in range(draw(st.integers(1, 6))):
        text = draw(st.text(ALPHABET, min_size=1, max_size=40).filter(str.strip))
        cut = st.tuples(st.integers(0, len(text)), st.integers(0, len(text)))
        substrings = cut.map(lambda se: text[min(se) : max(se)])
        phrases = draw(st.lists(st.one_of(substrings, st.text(ALPHABET, max_size=4)), max_size=6))
        lines += [text, "[" + ",".join(phrases) + "]"]
    return "\n".join(lines) + "\n"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=corpora())
def test_any_corpus_reads_back_as_prepare_corpus_labels_it(content):
    with tempfile.TemporaryDirectory() as tmp:
        cfg = data_config(Path(tmp), content, "data.write_batch_documents=2")
        expected = prepare_corpus(cfg)
        prepare_to_disk(cfg, cfg.processed_dir, OmegaConf.to_container(cfg))
        assert_same_corpus(read_prepared(cfg.processed_dir, cfg, expected.fingerprint), expected)


def test_a_second_run_reads_the_dataset_the_first_one_saved(tmp_path, monkeypatch):
    cfg = data_config(tmp_path, tiny_corpus_text())
    first = load_prepared(cfg)
    stats = json.loads((tmp_path / "processed" / "stats.json").read_text(encoding="utf-8"))
    assert stats["fingerprint"]["digest"] == Fingerprint.of(cfg).digest
    forbid_labeling(monkeypatch)
    assert_same_corpus(load_prepared(cfg), first)


def test_an_edited_corpus_is_labeled_again_and_replaces_the_stale_dataset(tmp_path, monkeypatch, caplog):
    cfg = data_config(tmp_path, RULES_CORPUS)
    load_prepared(cfg)
    (tmp_path / "corpus.txt").write_text(RULES_CORPUS + "建设海外仓\n[海外仓]\n", encoding="utf-8")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        rebuilt = load_prepared(cfg)
    assert "stale: the corpus file's content differs; labeling" in caplog.text
    assert_same_corpus(rebuilt, prepare_corpus(cfg))
    assert len(rebuilt.documents) == 4
    forbid_labeling(monkeypatch)  # the dataset now on disk is the edited corpus's
    assert_same_corpus(load_prepared(cfg), rebuilt)


def test_a_changed_cleaning_setting_is_labeled_again(tmp_path, caplog):
    load_prepared(data_config(tmp_path, RULES_CORPUS))
    cfg = data_config(tmp_path, RULES_CORPUS, "data.cleaning.min_chars=4")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        rebuilt = load_prepared(cfg)
    assert "stale: data.cleaning.min_chars 2 -> 4" in caplog.text
    assert all(len(p) >= 4 for d in rebuilt.documents for p in d.document.phrases)
    assert_same_corpus(rebuilt, prepare_corpus(cfg))


@pytest.mark.parametrize("override", ["data.split.seed=7", "data.on_missing_phrase=error"])
def test_other_split_or_missing_phrase_settings_are_not_read_from_the_dataset(tmp_path, override, caplog):
    load_prepared(data_config(tmp_path, tiny_corpus_text()))
    with caplog.at_level(logging.INFO, logger=LOGGER):
        load_prepared(data_config(tmp_path, tiny_corpus_text(), override))
    assert f"stale: {override.split('=')[0]} " in caplog.text


def test_an_unreadable_dataset_is_labeled_again(tmp_path, caplog):
    cfg = data_config(tmp_path, tiny_corpus_text())
    expected = load_prepared(cfg)
    for shard in (tmp_path / "processed" / "train").glob("*.arrow"):
        shard.write_bytes(b"not arrow")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert_same_corpus(load_prepared(cfg), expected)
    assert "unreadable" in caplog.text


def test_reading_only_never_writes_a_dataset(tmp_path, caplog):
    cfg = data_config(tmp_path, RULES_CORPUS)
    with caplog.at_level(logging.INFO, logger=LOGGER):
        prepared = load_prepared(cfg, write=False)
    assert not (tmp_path / "processed").exists()
    assert "labeling" in caplog.text and "in memory, nothing written" in caplog.text
    assert_same_corpus(prepared, prepare_corpus(cfg))


@pytest.mark.parametrize("kind", [None, "evaluation_report"])
def test_a_directory_this_program_did_not_prepare_is_left_untouched(tmp_path, kind, caplog):
    cfg = data_config(tmp_path, RULES_CORPUS)
    (tmp_path / "processed").mkdir()
    (tmp_path / "processed" / "notes.md").write_text("mine", encoding="utf-8")
    if kind:
        write_marker(tmp_path / "processed", kind)
    before = file_contents(tmp_path / "processed")
    with caplog.at_level(logging.INFO, logger=LOGGER):
        prepared = load_prepared(cfg)
    assert_same_corpus(prepared, prepare_corpus(cfg))
    assert file_contents(tmp_path / "processed") == before
    (record,) = [r for r in caplog.records if r.name == LOGGER]
    assert record.levelno == logging.WARNING and "nothing written" in record.getMessage()


def test_training_goes_on_beside_a_foreign_processed_dir_and_leaves_it_untouched(tiny_corpus, tmp_path):
    from keyphrase_tagger.training.train import train

    (tmp_path / "processed").mkdir()
    (tmp_path / "processed" / "notes.md").write_text("mine", encoding="utf-8")
    metrics = train(compose("train", ["experiment=smoke", f"data.corpus_path={tiny_corpus}",
                                      f"data.processed_dir={tmp_path / 'processed'}",
                                      f"output_dir={tmp_path / 'run'}"]))
    assert 0.0 <= metrics["eval_phrase_f1"] <= 1.0
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()
    assert file_contents(tmp_path / "processed") == {"notes.md": b"mine"}


def test_training_takes_max_documents_from_the_prepared_splits(tmp_path):
    from keyphrase_tagger.training.inputs import load_inputs

    cfg = compose("train", ["experiment=smoke", f"data.corpus_path={CORPUS}",
                            f"data.processed_dir={tmp_path / 'processed'}"])
    inputs = load_inputs(cfg)
    assert (tmp_path / "processed" / "stats.json").is_file()  # saved for the next run
    prepared = load_prepared(cfg.data)
    assert [d.document for d in inputs.train_docs] == [d.document for d in prepared.split("train")[:3]]
    assert [d.document for d in inputs.val_docs] == [d.document for d in prepared.split("validation")[:1]]
