"""The record a finished run leaves: run_info.json, metrics.json, the learning curve, no intermediate
checkpoints, and the ``latest`` link (training/run_info.py, training/run_record.py)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import tomllib
from conftest import REPO

from keyphrase_tagger.training.run_info import run_info
from keyphrase_tagger.training.run_record import (
    finish_run,
    metrics_record,
    update_latest_link,
    wants_latest_link,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def pyproject_dependencies() -> list[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [re.match(r"[A-Za-z0-9._-]+", requirement)[0] for requirement in project["dependencies"]]


def test_run_info_has_the_version_of_every_runtime_dependency_and_the_git_state():
    info = run_info(7, {}, 1.0)
    packages = info["packages"]
    for name in [*pyproject_dependencies(), "tokenizers", "safetensors", "omegaconf", "keyphrase-tagger"]:
        assert packages.get(name), name
    assert {"rjieba", "numpy", "ahocorasick-rs", "hydra-core"} <= set(packages)
    if (REPO / ".git").exists():  # asked of the code's checkout
        assert re.fullmatch(r"[0-9a-f]{40}", info["git_commit"])
        assert isinstance(info["git_dirty"], bool)


def test_run_info_of_a_run_names_its_directory_as_its_stamp(smoke_run):
    info = json.loads((smoke_run / "run_info.json").read_text(encoding="utf-8"))
    # One stamp, the directory's: not a second ${now:...} resolved later.
    assert info["run_stamp"] == smoke_run.name == info["config"]["run_stamp"]
    assert {"rjieba", "numpy", "tokenizers"} <= set(info["packages"]) and "git_dirty" in info


def test_metrics_json_names_the_best_epoch_and_tells_the_two_validation_scores_apart(smoke_run):
    metrics = json.loads((smoke_run / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["best_model_selected_by"] == "eval_phrase_f1"
    assert metrics["best_metric"] == metrics["eval_phrase_f1"]  # the kept model is the one evaluated last
    assert metrics["best_epoch"] > 0 and metrics["best_step"] >= 1
    assert metrics["decision"].startswith("phrase rescorer (")
    assert {"eval_phrase_f1", "eval_tuned_phrase_f1"} <= set(metrics["notes"])
    assert "argmax" in metrics["notes"]["eval_phrase_f1"] and "ships" in metrics["notes"]["eval_tuned_phrase_f1"]
    assert "resumed_from" not in metrics


def test_learning_curve_is_drawn_in_the_run_directory(smoke_run):
    assert (smoke_run / "learning_curve.png").read_bytes()[:8] == PNG_MAGIC


def test_finished_run_keeps_no_intermediate_checkpoint(smoke_run):
    assert list(smoke_run.glob("checkpoints/checkpoint-*")) == []
    assert (smoke_run / "model" / "model.safetensors").is_file()


def fake_run(tmp_path: Path) -> Path:
    run = tmp_path / "outputs" / "smoke" / "2026-01-02_03-04-05"
    for name in ("checkpoint-3", "checkpoint-6", "runs/Jan01"):
        (run / "checkpoints" / name).mkdir(parents=True)
        (run / "checkpoints" / name / "file").write_text("x")
    return run


def test_finishing_removes_only_the_checkpoint_directories_unless_asked_to_keep_them(tmp_path):
    run = fake_run(tmp_path)
    finish_run(run, keep_checkpoints=True, link_latest=False)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["checkpoint-3", "checkpoint-6", "runs"]
    finish_run(run, keep_checkpoints=False, link_latest=False)
    # TensorBoard's event files live under checkpoints/runs: they stay.
    assert [p.name for p in (run / "checkpoints").iterdir()] == ["runs"]
    assert not (run.parent / "latest").exists()


def test_latest_is_a_relative_link_to_the_newest_finished_run(tmp_path):
    older, newer = fake_run(tmp_path), tmp_path / "outputs" / "smoke" / "2026-02-01_00-00-00"
    newer.mkdir()
    finish_run(older, keep_checkpoints=False, link_latest=True)
    link = tmp_path / "outputs" / "smoke" / "latest"
    assert os.readlink(link) == older.name
    finish_run(newer, keep_checkpoints=False, link_latest=True)
    assert os.readlink(link) == newer.name and link.resolve() == newer.resolve()
    assert sorted(p.name for p in link.parent.iterdir()) == [older.name, newer.name, "latest"]


def test_a_latest_that_is_not_a_link_is_left_untouched(tmp_path, caplog):
    run = fake_run(tmp_path)
    mine = run.parent / "latest"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert update_latest_link(run) is None
    assert not mine.is_symlink() and (mine / "notes.txt").read_text() == "mine"
    assert "is not a symbolic link" in caplog.text


def test_only_single_runs_in_their_experiment_directory_update_latest(tmp_path):
    run = fake_run(tmp_path)
    assert wants_latest_link(run, "smoke", multirun=False)
    assert not wants_latest_link(run, "smoke", multirun=True)
    # output_dir=<somewhere of the user's>: nothing is added next to it.
    assert not wants_latest_link(tmp_path / "run", "smoke", multirun=False)


def test_metrics_after_a_resume_say_what_the_train_values_cover():
    state = SimpleNamespace(best_global_step=8, best_metric=0.5,
                            log_history=[{"step": 8, "epoch": 2.0, "eval_phrase_f1": 0.5}])
    record = metrics_record({"train_loss": 0.3, "eval_phrase_f1": 0.5}, state, None, "checkpoint-4")
    assert record["resumed_from"] == "checkpoint-4"
    assert "checkpoint-4" in record["notes"]["train_loss"]
    assert (record["best_epoch"], record["best_step"]) == (2, 8)
    assert type(record["best_epoch"]) is int  # a whole epoch reads as 2 in metrics.json and the sweep summary
    assert "decision" not in record
