"""training/sweep_summary.py and the sweep settings of configs/train.yaml: job directories named by
their overrides, and sweep_summary.md / .json with every job's scores."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CORPUS, REPO
from omegaconf import OmegaConf, open_dict

from keyphrase_tagger.training.sweep_summary import (
    SUMMARY_JSON,
    SUMMARY_MD,
    job_row,
    markdown_summary,
    summary,
    swept_unnamed_keys,
    write_summary,
)

BIN = Path(sys.executable).parent


def train_config_with_hydra(overrides: list[str] | None = None):
    """``configs/train.yaml`` composed with its ``hydra`` node, as a job sees it."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(version_base="1.3", config_dir=str(REPO / "configs")):
        return compose("train", overrides or [], return_hydra_config=True)


def job_dirname(overrides: list[str]) -> str:
    """What ``hydra.sweep.subdir`` names the job with these overrides."""
    return train_config_with_hydra(overrides).hydra.job.override_dirname


def test_a_job_directory_is_named_by_its_own_settings():
    assert job_dirname(["experiment=smoke", "seed=1"]) == "seed=1"
    assert job_dirname(["data.split.kfold=5", "data.split.fold=3"]) == "data.split.fold=3,data.split.kfold=5"
    # Paths and settings that do not change the result stay out of the name.
    assert job_dirname(["seed=2", f"data.corpus_path={CORPUS}", "output_dir=/tmp/x", "threads=2",
                        "trainer.disable_tqdm=true"]) == "seed=2"


def test_the_sweep_subdirectory_is_the_override_dirname():
    cfg = train_config_with_hydra()
    assert OmegaConf.to_container(cfg.hydra.sweep)["subdir"] == "${hydra:job.override_dirname}"
    assert cfg.hydra.callbacks.sweep_summary._target_ == "keyphrase_tagger.training.sweep_summary.SweepSummary"


def sweep_config(task_overrides: list[str]):
    cfg = train_config_with_hydra()
    with open_dict(cfg):
        cfg.hydra.overrides.task = task_overrides
    return cfg


def test_a_sweep_over_a_key_left_out_of_job_names_is_found():
    assert swept_unnamed_keys(sweep_config(["data.corpus_path=a.txt,b.txt", "seed=1,2"])) == ["data.corpus_path"]
    assert swept_unnamed_keys(sweep_config(["data.corpus_path=a.txt", "seed=1,2"])) == []
    # Each experiment has its own sweep directory (outputs/<experiment_name>/multirun/...).
    assert swept_unnamed_keys(sweep_config(["experiment=smoke,plain"])) == []


def make_job(job_dir: Path, metrics: dict | None = None, report: dict | None = None, wall: float | None = None) -> Path:
    job_dir.mkdir(parents=True)
    if metrics is not None:
        (job_dir / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    if report is not None:
        (job_dir / "evaluation_test").mkdir()
        (job_dir / "evaluation_test" / "report.json").write_text(json.dumps(report), encoding="utf-8")
    if wall is not None:
        (job_dir / "run_info.json").write_text(json.dumps({"wall_time_s": wall}), encoding="utf-8")
    return job_dir


def test_a_job_row_reads_metrics_test_report_and_wall_time_defensively(tmp_path):
    report = {"phrase": {"micro": {"precision": 0.6, "recall": 0.4, "f1": 0.48}}, "entity": {"f1": 0.3}}
    done = make_job(tmp_path / "seed=1", {"eval_phrase_f1": 0.41, "eval_tuned_phrase_f1": 0.45, "eval_loss": 1.0,
                                          "best_epoch": 3}, report, wall=12.34)
    row = job_row(tmp_path, done, ["experiment=smoke", "seed=1"], "completed")
    assert row["job"] == "seed=1" and row["wall_time_s"] == 12.3
    assert row["metrics"] == {"eval_phrase_f1": 0.41, "eval_tuned_phrase_f1": 0.45, "best_epoch": 3}
    assert row["test"] == {"test_phrase_f1": 0.48, "test_phrase_precision": 0.6, "test_phrase_recall": 0.4,
                           "test_entity_f1": 0.3}
    broken = make_job(tmp_path / "seed=2")
    (broken / "metrics.json").write_text("{not json", encoding="utf-8")
    row = job_row(tmp_path, broken, ["seed=2"], "failed (ValueError)", wall_time_s=1.0)
    assert row["metrics"] == {} and row["test"] is None and row["wall_time_s"] == 1.0


def test_the_summary_table_lists_every_job_with_what_sets_it_apart(tmp_path):
    rows = [job_row(tmp_path, make_job(tmp_path / f"seed={s}", {"eval_phrase_f1": f1, "eval_tuned_phrase_f1": f1 + 0.1}),
                    ["experiment=smoke", f"seed={s}"], "completed", wall_time_s=10.0 * s)
            for s, f1 in ((1, 0.25), (2, 0.5))]
    md = markdown_summary(summary(tmp_path, rows))
    assert "2 jobs. Settings every job shares: `experiment=smoke`." in md
    assert "| job | overrides | status | eval_phrase_f1 | eval_tuned_phrase_f1 | wall time (s) |" in md
    assert "| seed=1 | seed=1 | completed | 0.2500 | 0.3500 | 10.0 |" in md
    assert "| seed=2 | seed=2 | completed | 0.5000 | 0.6000 | 20.0 |" in md
    assert "kpt-cv-report" in md  # no test scores yet: where they come from


def test_write_summary_writes_markdown_and_json_into_the_sweep(tmp_path):
    rows = [job_row(tmp_path, make_job(tmp_path / "seed=1", {"eval_phrase_f1": 0.3}), ["seed=1"], "completed")]
    write_summary(tmp_path, rows)
    data = json.loads((tmp_path / SUMMARY_JSON).read_text(encoding="utf-8"))
    assert data["n_jobs"] == 1 and data["jobs"][0]["metrics"] == {"eval_phrase_f1": 0.3}
    assert (tmp_path / SUMMARY_MD).read_text(encoding="utf-8") == markdown_summary(data)


def test_kpt_train_refuses_a_sweep_whose_jobs_would_share_a_directory(tmp_path):
    result = subprocess.run([str(BIN / "kpt-train"), "-m", "data.corpus_path=a.txt,b.txt",
                             f"hydra.sweep.dir={tmp_path / 'sweep'}"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error: -m sweeps over data.corpus_path") and result.stderr.count("\n") == 1
    assert not (tmp_path / "sweep").exists()


@pytest.mark.slow
def test_a_seed_sweep_writes_one_directory_per_seed_and_a_summary_of_both(tmp_path):
    sweep = tmp_path / "sweep"
    result = subprocess.run([str(BIN / "kpt-train"), "-m", "experiment=smoke", "seed=1,2", f"data.corpus_path={CORPUS}",
                             f"hydra.sweep.dir={sweep}"], cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (sweep / "seed=1" / "model" / "config.json").is_file()
    assert (sweep / "seed=2" / "model" / "config.json").is_file()
    data = json.loads((sweep / SUMMARY_JSON).read_text(encoding="utf-8"))
    assert [j["job"] for j in data["jobs"]] == ["seed=1", "seed=2"]
    assert all(j["status"] == "completed" and "eval_phrase_f1" in j["metrics"] for j in data["jobs"])
    md = (sweep / SUMMARY_MD).read_text(encoding="utf-8")
    assert "| seed=1 | seed=1 | completed |" in md and "| seed=2 | seed=2 | completed |" in md
