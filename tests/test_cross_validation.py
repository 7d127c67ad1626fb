"""evaluation/cross_validation.py: the folds' test reports -> mean ± std, and kpt-cv-report."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.evaluation.cross_validation import (
    aggregate,
    cv_report,
    fold_reports,
    markdown_cv,
    sweep_design,
)

KPT_CV_REPORT = str(Path(sys.executable).with_name("kpt-cv-report"))


def scores(f1: float) -> dict:
    # Precision and recall are derived from F1 so each fold's numbers differ in a known way.
    return {"micro": {"precision": f1 + 0.1, "recall": f1 - 0.1, "f1": f1},
            "macro": {"precision": f1, "recall": f1, "f1": f1 / 2}}


def fake_report(model_f1: float, gazetteer_f1: float, entity_f1: float) -> dict:
    return {
        "n_documents": 4,
        "entity": {"precision": entity_f1, "recall": entity_f1, "f1": entity_f1},
        "phrase": scores(model_f1),
        "baselines": {"gazetteer": {"phrase": scores(gazetteer_f1)},
                      "calibrated_gazetteer": {"phrase": scores(gazetteer_f1 + 0.05)}},
        "per_document": [],
    }


FOLDS = {"0": fake_report(0.2, 0.3, 0.1), "1": fake_report(0.4, 0.3, 0.3), "2": fake_report(0.6, 0.3, 0.5)}


def split_settings(kfold: int | None = None, fold: int = 0, seed: int = 42) -> dict:
    """A checkpoint's ``data`` settings as training saves them: what fixes its test split."""
    return {"corpus_path": "/corpora/policy.txt",
            "split": {"seed": seed, "ratios": [0.8, 0.1, 0.1], "kfold": kfold, "fold": fold}}


def make_sweep(root: Path, reports: dict[str, dict], data: dict[str, dict] | None = None) -> Path:
    """A sweep directory as ``kpt-train -m`` leaves it, each job with its ``evaluation_test/report.json``
    and, in ``model/keyphrase_tagger.json``, the data settings ``data[job]`` (default: job i is fold i
    of a K-fold cross-validation over the jobs)."""
    for i, (job, report) in enumerate(reports.items()):
        (root / job / "model").mkdir(parents=True)
        (root / job / "model" / "config.json").write_text("{}", encoding="utf-8")
        settings = (data or {}).get(job, split_settings(kfold=len(reports) if len(reports) > 1 else None, fold=i))
        (root / job / "model" / "keyphrase_tagger.json").write_text(json.dumps({"data": settings}), encoding="utf-8")
        (root / job / "evaluation_test").mkdir()
        (root / job / "evaluation_test" / "report.json").write_text(json.dumps(report), encoding="utf-8")
    (root / "multirun.yaml").write_text("{}\n", encoding="utf-8")
    return root


def test_aggregate_gives_mean_and_sample_std_over_folds():
    summary = aggregate([(Path(job), report) for job, report in FOLDS.items()])
    model = summary["systems"]["model"]
    assert summary["n_runs"] == 3
    # 0.2, 0.4, 0.6: mean 0.4, sample std sqrt((0.04 + 0 + 0.04) / 2) = 0.2.
    assert model["phrase_micro_f1"]["mean"] == pytest.approx(0.4)
    assert model["phrase_micro_f1"]["std"] == pytest.approx(0.2)
    assert model["phrase_micro_f1"]["values"] == [0.2, 0.4, 0.6]
    assert model["phrase_micro_precision"]["mean"] == pytest.approx(0.5)
    assert model["phrase_micro_recall"]["mean"] == pytest.approx(0.3)
    assert model["phrase_macro_f1"]["mean"] == pytest.approx(0.2)
    assert model["phrase_macro_f1"]["std"] == pytest.approx(0.1)
    assert model["entity_f1"]["mean"] == pytest.approx(0.3)
    assert model["entity_f1"]["std"] == pytest.approx(0.2)
    gazetteer = summary["systems"]["gazetteer"]
    assert gazetteer["phrase_micro_f1"]["mean"] == pytest.approx(0.3)
    assert gazetteer["phrase_micro_f1"]["std"] == pytest.approx(0.0)
    assert summary["systems"]["calibrated_gazetteer"]["phrase_micro_f1"]["mean"] == pytest.approx(0.35)


def test_one_fold_has_zero_std():
    summary = aggregate([(Path("0"), FOLDS["0"])])
    assert summary["systems"]["model"]["phrase_micro_f1"] == {"mean": 0.2, "std": 0.0, "values": [0.2]}


def test_nothing_to_aggregate_is_a_config_error():
    with pytest.raises(ConfigError):
        aggregate([])


def test_markdown_shows_mean_plus_minus_std_per_system():
    md = markdown_cv(aggregate([(Path(job), report) for job, report in FOLDS.items()]))
    assert "| model | 0.4000 ± 0.2000 | 0.5000 ± 0.2000 | 0.3000 ± 0.2000 | 0.2000 ± 0.1000 | 0.3000 ± 0.2000 |" in md
    assert "| gazetteer | 0.3000 ± 0.0000 |" in md
    assert "| calibrated_gazetteer | 0.3500 ± 0.0000 |" in md


def test_fold_reports_takes_jobs_in_hydra_numeric_order(tmp_path):
    reports = {str(k): fake_report(0.1 * (k % 5), 0.3, 0.1) for k in (0, 1, 2, 10)}
    make_sweep(tmp_path, reports, {str(k): split_settings(seed=k) for k in (0, 1, 2, 10)})
    assert [job.name for job, _ in fold_reports(tmp_path)] == ["0", "1", "2", "10"]


def test_fold_reports_takes_jobs_named_by_their_overrides_in_fold_order(tmp_path):
    names = {fold: f"data.split.fold={fold},data.split.kfold=12" for fold in (10, 2, 0)}
    make_sweep(tmp_path, {names[f]: fake_report(0.3, 0.3, 0.1) for f in names},
               {names[f]: split_settings(kfold=12, fold=f) for f in names})
    assert [job.name for job, _ in fold_reports(tmp_path)] == [names[0], names[2], names[10]]


def test_a_kfold_sweep_states_k_and_the_folds_present_and_missing(tmp_path):
    jobs = {"data.split.fold=0,data.split.kfold=5": 0, "data.split.fold=1,data.split.kfold=5": 1}
    make_sweep(tmp_path, {job: FOLDS[str(f)] for job, f in jobs.items()},
               {job: split_settings(kfold=5, fold=f) for job, f in jobs.items()})
    summary = cv_report(tmp_path)
    assert summary["design"]["folds_present"] == [0, 1] and summary["design"]["folds_missing"] == [2, 3, 4]
    md = (tmp_path / "cv_report.md").read_text(encoding="utf-8")
    assert md.startswith("# 5-fold cross-validation: 2 of 5 folds present (0, 1); missing 2, 3, 4\n")
    assert "over the 2 folds' test reports" in md


def test_a_complete_kfold_sweep_misses_nothing():
    design = sweep_design([split_settings(kfold=3, fold=f) for f in (2, 0, 1)])
    assert design["text"] == "3-fold cross-validation: 3 of 3 folds present (0, 1, 2)"
    assert design["folds_missing"] == []


def test_jobs_sharing_one_test_split_are_a_seed_sweep_not_folds(tmp_path):
    make_sweep(tmp_path, {"seed=1": FOLDS["0"], "seed=2": FOLDS["1"]},
               {"seed=1": split_settings(seed=42), "seed=2": split_settings(seed=42)})
    md = markdown_cv(cv_report(tmp_path))
    assert md.startswith("# Seed sweep: 2 runs on one test split, not cross-validation folds\n")
    assert "over the 2 runs' test reports" in md and "folds'" not in md


def test_runs_of_one_fold_are_a_seed_sweep_too():
    design = sweep_design([split_settings(kfold=5, fold=3), split_settings(kfold=5, fold=3)])
    assert design == {"kind": "one_split",
                      "text": "seed sweep: 2 runs on one test split (fold 3 of 5), not cross-validation folds"}


def test_jobs_on_different_test_splits_are_not_called_a_cross_validation():
    # A different split seed draws other test documents: neither folds of one partition nor one split.
    design = sweep_design([split_settings(seed=1), split_settings(seed=2)])
    assert design["kind"] == "mixed" and "2 different test splits" in design["text"]
    design = sweep_design([split_settings(kfold=5, fold=0, seed=1), split_settings(kfold=5, fold=1, seed=2)])
    assert design["kind"] == "mixed"


def test_a_job_without_recorded_split_makes_the_design_unknown():
    assert sweep_design([split_settings(), None])["kind"] == "unknown"


def test_markdown_lists_every_job_with_its_own_scores(tmp_path):
    make_sweep(tmp_path, {"data.split.fold=0": FOLDS["0"], "data.split.fold=1": FOLDS["1"],
                          "data.split.fold=2": FOLDS["2"]})
    md = markdown_cv(cv_report(tmp_path))
    assert "| job | model | gazetteer | calibrated_gazetteer | entity F1 |" in md
    assert "| data.split.fold=0 | 0.2000 | 0.3000 | 0.3500 | 0.1000 |" in md
    assert "| data.split.fold=2 | 0.6000 | 0.3000 | 0.3500 | 0.5000 |" in md


def test_cv_report_writes_json_and_markdown_into_the_sweep(tmp_path):
    make_sweep(tmp_path, FOLDS)
    summary = cv_report(tmp_path)
    assert json.loads((tmp_path / "cv_report.json").read_text(encoding="utf-8")) == summary
    assert summary["jobs"] == [str(tmp_path / job) for job in ("0", "1", "2")]
    assert summary["design"]["text"] == "3-fold cross-validation: 3 of 3 folds present (0, 1, 2)"
    assert "0.4000 ± 0.2000" in (tmp_path / "cv_report.md").read_text(encoding="utf-8")


def test_a_job_without_a_report_is_evaluated_on_its_test_split(smoke_checkpoint, tmp_path):
    make_sweep(tmp_path, {"0": FOLDS["0"]})
    shutil.copytree(smoke_checkpoint, tmp_path / "1" / "model")
    reports = dict((job.name, report) for job, report in fold_reports(tmp_path, device="cpu"))
    assert set(reports) == {"0", "1"}
    assert (tmp_path / "1" / "evaluation_test" / "report.md").is_file()
    assert reports["1"]["split"] == "test" and reports["1"]["n_documents"] > 0


def test_sweep_without_trained_jobs_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="no trained job"):
        fold_reports(tmp_path)
    with pytest.raises(ConfigError, match="not found"):
        fold_reports(tmp_path / "nowhere")


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([KPT_CV_REPORT, *args], cwd=cwd, env=dict(os.environ), capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_kpt_cv_report_prints_the_table_and_writes_the_files(tmp_path):
    sweep = make_sweep(tmp_path / "sweep", FOLDS)
    result = run_cli([f"sweep_dir={sweep}"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "| model | 0.4000 ± 0.2000 |" in result.stdout
    assert (sweep / "cv_report.md").is_file() and (sweep / "cv_report.json").is_file()


@pytest.mark.slow
def test_kpt_cv_report_reports_a_missing_sweep_in_one_line(tmp_path):
    result = run_cli([f"sweep_dir={tmp_path / 'nowhere'}"], cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "nowhere" in lines[0], result.stderr
