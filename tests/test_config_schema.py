"""Every value a user sets is checked before any work: one ConfigError that names the key, nothing created."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CORPUS, REPO, compose

from keyphrase_tagger.config.validate import (
    check_train_config,
    validate_cv_report_config,
    validate_evaluate_config,
    validate_predict_config,
    validate_prepare_config,
    validate_train_config,
)
from keyphrase_tagger.errors import ConfigError

BIN = Path(sys.executable).parent
VALIDATORS = {
    "train": validate_train_config,
    "prepare": validate_prepare_config,
    "evaluate": validate_evaluate_config,
    "predict": validate_predict_config,
    "cv_report": validate_cv_report_config,
}

# (config, overrides, the error message as a regular expression); TMP is the test's directory, which
# holds a regular file named a_file.
BAD_VALUES = [
    ("train", "data.window.max_chars=abc", r"^data\.window\.max_chars: expected an integer, got 'abc'$"),
    ("train", "data.window.max_chars=0", r"^data\.window\.max_chars must be >= 1"),
    ("train", "data.window.stride=254", r"^data\.window\.stride must be in \[0, max_chars\)"),
    ("train", "data.cleaning.min_chars=abc", r"^data\.cleaning\.min_chars: expected an integer, got 'abc'$"),
    ("train", "data.cleaning.min_chars=-1", r"^data\.cleaning\.min_chars=-1: must be >= 0$"),
    ("train", "data.split.ratios=[1,1]", r"^data\.split\.ratios must be three non-negative numbers"),
    ("train", "data.split.kfold=abc", r"^data\.split\.kfold must be null or an integer >= 2, got 'abc'$"),
    ("train", "data.split.kfold=1", r"^data\.split\.kfold must be null or an integer >= 2, got 1$"),
    ("train", "data.split.kfold=3 data.split.fold=3", r"^data\.split\.fold=3 must be in 0\.\.2"),
    ("train", "data.corpus_path=null", r"^data\.corpus_path: expected a path \(a non-empty string\), got None$"),
    ("train", "data.max_documents=0", r"^data\.max_documents=0: must be >= 1$"),
    ("train", "+data.corpus=x", r"^data\.corpus: unknown key; data takes corpus_path, "),
    ("train", "seed=abc", r"^seed: expected an integer, got 'abc'$"),
    ("train", "threads=0", r"^threads=0: must be >= 1$"),
    ("train", "model.hidden_size=abc", r"^model\.hidden_size: expected an integer or null, got 'abc'$"),
    ("train", "decision.rescore_features=[document,typo]",
     r"^decision\.rescore_features\[1\]: expected one of 'document', .*, got 'typo'$"),
    ("train", "decision.o_scale=0", r"^decision\.o_scale=0: must be > 0$"),
    ("train", "decision.kind=beam", r"^decision\.kind: expected one of 'argmax', 'prior_fusion', 'rescorer', got 'beam'$"),
    # A kind set by hand on top of another option lacks the keys it reads.
    ("train", "decision=argmax decision.kind=rescorer",
     r"^decision\.kind=rescorer: decision\.o_scale is not set \(decision=rescorer selects a complete "),
    ("train", "features.rate_edges=abc", r"^features\.rate_edges: expected a list, got 'abc'$"),
    ("train", "optimized_metric=eval_f1", r"^optimized_metric=eval_f1: not a metric kpt-train reports; choose one of "),
    ("train", "trainer.learning_rate=abc", r"^trainer\.learning_rate: expected a number, got 'abc'$"),
    ("train", "trainer.learning_rate=0", r"^trainer\.learning_rate=0: must be > 0$"),
    ("train", "trainer.num_train_epochs=0", r"^trainer\.num_train_epochs=0: must be > 0$"),
    ("train", "trainer.per_device_train_batch_size=0", r"^trainer\.per_device_train_batch_size=0: must be >= 1$"),
    ("train", "trainer.per_device_eval_batch_size=abc", r"^trainer\.per_device_eval_batch_size: expected an integer"),
    ("train", "trainer.lr_scheduler_type=linearr", r"^trainer\.lr_scheduler_type: expected one of 'linear', "),
    ("train", "trainer.early_stopping_patience=abc", r"^trainer\.early_stopping_patience: expected an integer"),
    ("train", "trainer.resume_from_checkpoint=5", r"^trainer\.resume_from_checkpoint: expected true or false or a"),
    # A rule of TrainingArguments' own, reported before any data is read.
    ("train", "trainer.eval_strategy=no", r"^trainer: .*load_best_model_at_end requires the save and eval strategy"),
    ("train", "output_dir=TMP/a_file/run", r"^output_dir=.*a_file/run: cannot be created: .*a_file is not a dir"),
    ("prepare", "data.cleaning.min_chars=abc", r"^data\.cleaning\.min_chars: expected an integer, got 'abc'$"),
    ("prepare", "data.processed_dir=TMP/a_file/processed", r"^data\.processed_dir=.*: cannot be created: "),
    ("prepare", "data.write_batch_documents=0", r"^data\.write_batch_documents=0: must be >= 1$"),
    ("evaluate", "batch_size=abc", r"^batch_size: expected an integer, got 'abc'$"),
    ("evaluate", "data.corpus_path=''", r"^data\.corpus_path: expected a path \(a non-empty string\) or null, got ''$"),
    ("evaluate", "output_dir=TMP/a_file/report", r"^output_dir=.*: cannot be created: "),
    ("predict", "top_k=abc", r"^top_k: expected an integer or null, got 'abc'$"),
    ("predict", "top_k=-1", r"^top_k=-1: must be >= 0$"),
    ("predict", "min_score=abc", r"^min_score: expected a number, got 'abc'$"),
    ("predict", "documents_per_chunk=0", r"^documents_per_chunk=0: must be >= 1$"),
    ("predict", "unique=maybe", r"^unique: expected true or false, got 'maybe'$"),
    ("predict", "output=TMP/a_file/phrases.jsonl", r"^output=.*: cannot be created: "),
    ("predict", "device=gpu", r"^device=gpu: "),
    ("cv_report", "sweep_dir=[a]", r"^sweep_dir: expected a path \(a non-empty string\) or null, got \['a'\]$"),
]


@pytest.mark.parametrize("config,overrides,message", BAD_VALUES, ids=[f"{c}:{o}" for c, o, _ in BAD_VALUES])
def test_a_bad_value_is_a_config_error_naming_its_key(config, overrides, message, tmp_path):
    (tmp_path / "a_file").write_text("", encoding="utf-8")
    overrides = overrides.replace("TMP", str(tmp_path)).split()
    if config == "train" and not any(o.startswith("output_dir=") for o in overrides):
        overrides.append(f"output_dir={tmp_path / 'run'}")
    with pytest.raises(ConfigError, match=message):
        VALIDATORS[config](compose(config, overrides))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file"]


def test_an_output_directory_under_a_directory_without_write_permission_is_refused(tmp_path, monkeypatch):
    # Root may write anywhere, so the permission answer is what this machine's user would get.
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != locked and real_access(path, mode))
    with pytest.raises(ConfigError, match=r"^output_dir=.*locked/run: cannot be created: no permission to write in "):
        validate_train_config(compose("train", [f"output_dir={locked / 'run'}"]))


def test_an_interpolation_that_cannot_be_resolved_names_its_key():
    with pytest.raises(ConfigError, match=r"^seed: Interpolation key 'nowhere' not found$"):
        check_train_config(compose("train", ["seed=${nowhere}"]))


def _names(group: str) -> list[str]:
    return sorted(p.stem for p in (REPO / "configs" / group).glob("*.yaml"))


TRAIN_OPTIONS = [[]] + [[f"{group}={option}"] for group in ("experiment", "model", "features", "decision", "trainer")
                        for option in _names(group)]


@pytest.mark.parametrize("overrides", TRAIN_OPTIONS, ids=[" ".join(o) or "defaults" for o in TRAIN_OPTIONS])
def test_every_shipped_train_config_passes_the_schema(overrides):
    # TrainingArguments are not built here: trainer=gpu asks for bf16, which a CPU machine refuses.
    check_train_config(compose("train", overrides))


@pytest.mark.parametrize("name", ["prepare", "evaluate", "predict", "cv_report"])
def test_every_shipped_command_config_passes_the_schema(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # data.processed_dir is relative to the working directory
    VALIDATORS[name](compose(name))
    assert list(tmp_path.iterdir()) == []


def run_cli(command: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run([str(BIN / command), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_kpt_train_refuses_a_bad_value_in_one_line_before_creating_the_run_directory(tmp_path):
    result = run_cli("kpt-train", ["experiment=smoke", f"data.corpus_path={CORPUS}", "data.window.max_chars=abc",
                                   f"output_dir={tmp_path / 'run'}"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: data.window.max_chars: expected an integer, got 'abc'"]
    assert list(tmp_path.iterdir()) == []


def test_kpt_train_reports_an_output_dir_that_cannot_be_created_in_one_line(tmp_path):
    (tmp_path / "a_file").write_text("", encoding="utf-8")
    run_dir = tmp_path / "a_file" / "run"
    result = run_cli("kpt-train", ["experiment=smoke", f"data.corpus_path={CORPUS}", f"output_dir={run_dir}"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: output_dir={run_dir}: cannot be created: {tmp_path / 'a_file'} is not a directory"]


def test_kpt_predict_refuses_a_bad_top_k_in_one_line_and_writes_nothing(tmp_path):
    (tmp_path / "docs.txt").write_text("服务业\n", encoding="utf-8")
    result = run_cli("kpt-predict", ["checkpoint=model", "input=docs.txt", "output=out/phrases.jsonl", "top_k=abc"],
                     tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: top_k: expected an integer or null, got 'abc'"]
    assert [p.name for p in tmp_path.iterdir()] == ["docs.txt"]
