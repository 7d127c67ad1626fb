"""Sweeps through Hydra's submitit launcher (``hydra/launcher=submitit_local`` here; ``submitit_slurm``
on a cluster runs the same code in the job): one directory per job, the sweep summary, the config
checked before anything is submitted, and a job's error as one line in the launching process."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CORPUS, REPO, hide_module
from hydra import compose, initialize_config_dir
from hydra.core.utils import JobReturn, JobStatus
from omegaconf import open_dict

from keyphrase_tagger.cli.arguments import check_arguments
from keyphrase_tagger.config.hydra_callback import sweep_job_overrides
from keyphrase_tagger.training.sweep_summary import SUMMARY_JSON, SweepSummary, scanned_jobs

BIN = Path(sys.executable).parent
LOCAL = ["hydra/launcher=submitit_local", "hydra.launcher.timeout_min=10", "hydra.launcher.cpus_per_task=1"]
# threads=1: submitit_local starts every job at once, and this machine has few cores.
SMOKE = ["experiment=smoke", "threads=1", f"data.corpus_path={CORPUS}"]


def kpt_train(args: list[str], cwd: Path, timeout: int = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run([str(BIN / "kpt-train"), "-m", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def multirun_config(task_overrides: list[str], sweep_dir: Path | None = None):
    """``configs/train.yaml`` with its ``hydra`` node, as a multirun's callbacks receive it."""
    cfg = compose("train", return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.overrides.task = task_overrides
        if sweep_dir is not None:
            cfg.hydra.sweep.dir = str(sweep_dir)
    return cfg


def make_job(sweep_dir: Path, name: str, overrides: list[str], f1: float | None = None) -> Path:
    job = sweep_dir / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides), encoding="utf-8")
    if f1 is not None:
        (job / "metrics.json").write_text(json.dumps({"eval_phrase_f1": f1}), encoding="utf-8")
    return job


def test_the_jobs_of_a_sweep_are_expanded_as_the_basic_sweeper_runs_them():
    with initialize_config_dir(version_base="1.3", config_dir=str(REPO / "configs")):
        jobs = sweep_job_overrides(multirun_config(["experiment=smoke", "seed=1,2", "data.split.fold=range(2)",
                                                    "data.split.kfold=5"]))
    assert sorted(jobs) == sorted([["experiment=smoke", f"seed={s}", f"data.split.fold={f}", "data.split.kfold=5"]
                                   for s in (1, 2) for f in (0, 1)])


def test_the_summary_scan_skips_submitits_folder(tmp_path):
    make_job(tmp_path, "seed=1", ["seed=1"], f1=0.5)
    make_job(tmp_path / ".submitit", "4242", ["seed=9"])  # nothing submitit writes, but hidden all the same
    (tmp_path / ".submitit" / "4242" / "4242_0_log.out").write_text("log", encoding="utf-8")
    assert [(r["job"], r["status"]) for r in scanned_jobs(tmp_path)] == [("seed=1", "completed")]


def test_a_job_in_a_process_of_its_own_summarises_the_other_jobs_from_the_sweep_directory(tmp_path):
    with initialize_config_dir(version_base="1.3", config_dir=str(REPO / "configs")):
        cfg = multirun_config(["seed=1,2"], sweep_dir=tmp_path)
    callback = SweepSummary()
    callback.on_multirun_start(cfg)  # in the launching process
    make_job(tmp_path, "seed=1", ["seed=1"], f1=0.5)  # finished earlier, in another job's process
    job = make_job(tmp_path, "seed=2", ["seed=2"], f1=0.25)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(job)
        cfg.hydra.overrides.task = ["seed=2"]
    # The job ends in a process of its own, with a copy of the callback (as submitit's job has).
    child = multiprocessing.get_context("fork").Process(
        target=callback.on_job_end, args=(cfg, JobReturn(status=JobStatus.COMPLETED, _return_value=0.25)))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    data = json.loads((tmp_path / SUMMARY_JSON).read_text(encoding="utf-8"))
    assert [(j["job"], j["status"], j["metrics"]) for j in data["jobs"]] == [
        ("seed=1", "completed", {"eval_phrase_f1": 0.5}), ("seed=2", "completed", {"eval_phrase_f1": 0.25})]


def test_a_submitit_launcher_without_the_plugin_is_one_line_naming_the_extra(monkeypatch):
    args = ["-m", "hydra/launcher=submitit_slurm", "seed=1,2"]
    assert check_arguments(args, "train", "kpt-train") is None  # installed here (the dev extra)
    hide_module(monkeypatch, "hydra_plugins.hydra_submitit_launcher")
    assert check_arguments(args, "train", "kpt-train") == (
        "hydra/launcher=submitit_slurm needs Hydra's submitit launcher, which is not installed: "
        "pip install 'keyphrase-tagger[cluster]' (or hydra-submitit-launcher)")


@pytest.mark.parametrize("launcher", [[], LOCAL], ids=["basic", "submitit_local"])
def test_a_mistake_in_any_job_stops_the_sweep_before_anything_is_created(tmp_path, launcher):
    sweep = tmp_path / "sweep"
    result = kpt_train([*launcher, *SMOKE, "seed=1,2", "trainer.learning_rate=0.001,-1", f"hydra.sweep.dir={sweep}"],
                       cwd=tmp_path, timeout=300)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr == "error: trainer.learning_rate=-1: must be > 0\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # a submitit job process that reads the corpus: ~20 s
def test_an_error_inside_a_submitit_job_comes_back_as_one_line(tmp_path):
    sweep = tmp_path / "sweep"
    # kfold against the number of documents is known once the job has read the corpus.
    result = kpt_train([*LOCAL, *SMOKE, "seed=1", "data.split.kfold=50", "data.split.fold=0",
                        f"hydra.sweep.dir={sweep}", f"data.processed_dir={tmp_path / 'processed'}"], cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "\nerror: data.split.kfold=50 exceeds the 40 documents of the corpus" in result.stderr
    [job] = json.loads((sweep / SUMMARY_JSON).read_text(encoding="utf-8"))["jobs"]
    assert job["status"] == "failed (JobError)"
    assert "error: data.split.kfold=50" in (Path(job["dir"]) / "train.log").read_text(encoding="utf-8")


def assert_trained_job(job: Path) -> dict:
    for name in ("model/config.json", "model/model.safetensors", "model/keyphrase_tagger.json", "metrics.json",
                 "run_info.json"):
        assert (job / name).is_file(), job / name
    assert not (job / "checkpoints").exists()
    return json.loads((job / "run_info.json").read_text(encoding="utf-8"))


@pytest.mark.slow  # two smoke trainings, each in a submitit job process of its own: ~1 min
def test_a_seed_sweep_on_submitit_local_runs_one_job_per_seed_each_in_its_own_directory(tmp_path):
    sweep = tmp_path / "sweep"
    result = kpt_train([*LOCAL, *SMOKE, "seed=1,2", f"hydra.sweep.dir={sweep}",
                        f"data.processed_dir={tmp_path / 'processed'}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == [".submitit", "seed=1", "seed=2"]
    assert len(list((sweep / ".submitit").glob("*/*_0_result.pkl"))) == 2  # two submitit jobs ran
    for seed in (1, 2):
        info = assert_trained_job(sweep / f"seed={seed}")
        assert info["seed"] == seed and info["run_stamp"] == sweep.name and info["run_dir"] == str(sweep / f"seed={seed}")
    assert not (tmp_path / "outputs").exists()  # no run directory outside the sweep, no `latest` link
    data = json.loads((sweep / SUMMARY_JSON).read_text(encoding="utf-8"))
    assert [(j["job"], j["status"]) for j in data["jobs"]] == [("seed=1", "completed"), ("seed=2", "completed")]
    assert all("eval_tuned_phrase_f1" in j["metrics"] for j in data["jobs"])


@pytest.mark.slow  # one job of two CPU tasks (gloo): ~1 min
def test_a_submitit_job_of_two_tasks_trains_one_model_over_both(tmp_path):
    sweep = tmp_path / "sweep"
    result = kpt_train([*LOCAL, "hydra.launcher.tasks_per_node=2", *SMOKE, "seed=1", "trainer.ddp_backend=gloo",
                        "decision=argmax", f"hydra.sweep.dir={sweep}", f"data.processed_dir={tmp_path / 'processed'}"],
                       cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert sorted(p.name for p in sweep.iterdir() if p.is_dir()) == [".submitit", "decision=argmax,seed=1,trainer.ddp_backend=gloo"]
    job = sweep / "decision=argmax,seed=1,trainer.ddp_backend=gloo"
    info = assert_trained_job(job)
    metrics = json.loads((job / "metrics.json").read_text(encoding="utf-8"))
    # Two ranks: each of the smoke run's 6 steps took 2 x 8 windows.
    assert metrics["train_epoch"] == pytest.approx(6 / math.ceil(info["n_train_windows"] / 16))
    logs = sorted((sweep / ".submitit").glob("*/*_log.out"))
    assert len(logs) == 2 and "global_rank=1(2)" in logs[1].read_text(encoding="utf-8")
    [row] = json.loads((sweep / SUMMARY_JSON).read_text(encoding="utf-8"))["jobs"]
    assert row["status"] == "completed"
