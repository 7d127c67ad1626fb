"""Aggregate the folds of a ``kpt-train -m data.split.kfold=K data.split.fold=0,...`` sweep."""

from __future__ import annotations

import json
import logging
import statistics
from pathlib import Path

from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.evaluation.evaluate import build_report, write_report

log = logging.getLogger(__name__)


def fold_reports(sweep_dir: str | Path, device: str = "auto") -> list[tuple[Path, dict]]:
    """Each job's test report: ``evaluation_test/report.json``, evaluated now if missing."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise ConfigError(f"{sweep_dir}: sweep directory not found")
    jobs = sorted((p.parent.parent for p in sweep_dir.glob("*/model/config.json")), key=_job_order)
    if not jobs:
        raise ConfigError(f"{sweep_dir}: no trained job (*/model/config.json) in the sweep directory")
    reports = []
    for job in jobs:
        path = job / "evaluation_test" / "report.json"
        if not path.is_file():
            log.info("evaluating %s on its test split", job)
            write_report(build_report(job / "model", "test", device=device), path.parent)
        reports.append((job, json.loads(path.read_text(encoding="utf-8"))))
    return reports


def _job_order(job: Path) -> tuple[int, int, str]:
    """Hydra numbers sweep jobs 0, 1, ..., 10: job 10 comes after job 9, not after job 1."""
    return (0, int(job.name), "") if job.name.isdigit() else (1, 0, job.name)


def _mean_std(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "values": values}


def aggregate(reports: list[tuple[Path, dict]]) -> dict:
    """Mean ± std (sample std over folds) of the headline scores, model and baselines."""
    if not reports:
        raise ConfigError("no fold report to aggregate")
    systems = {"model": lambda r: r["phrase"]}
    for name in reports[0][1]["baselines"]:
        systems[name] = lambda r, n=name: r["baselines"][n]["phrase"]
    out: dict = {"n_folds": len(reports), "folds": [str(job) for job, _ in reports], "systems": {}}
    for name, get in systems.items():
        out["systems"][name] = {
            "phrase_micro_f1": _mean_std([get(r)["micro"]["f1"] for _, r in reports]),
            "phrase_micro_precision": _mean_std([get(r)["micro"]["precision"] for _, r in reports]),
            "phrase_micro_recall": _mean_std([get(r)["micro"]["recall"] for _, r in reports]),
            "phrase_macro_f1": _mean_std([get(r)["macro"]["f1"] for _, r in reports]),
        }
    out["systems"]["model"]["entity_f1"] = _mean_std([r["entity"]["f1"] for _, r in reports])
    return out


def markdown_cv(summary: dict) -> str:
    lines = [f"# Cross-validation: {summary['n_folds']} folds", "",
             "Mean ± sample standard deviation over the folds' test reports.", "",
             "| system | phrase micro F1 | micro P | micro R | macro F1 | entity F1 |", "|---|---|---|---|---|---|"]
    for name, s in summary["systems"].items():
        cell = lambda k: f"{s[k]['mean']:.4f} ± {s[k]['std']:.4f}" if k in s else "–"  # noqa: E731
        lines.append(f"| {name} | {cell('phrase_micro_f1')} | {cell('phrase_micro_precision')} | "
                     f"{cell('phrase_micro_recall')} | {cell('phrase_macro_f1')} | {cell('entity_f1')} |")
    lines += ["", "Folds:", *(f"- {job}" for job in summary["folds"])]
    return "\n".join(lines) + "\n"


def cv_report(sweep_dir: str | Path, device: str = "auto") -> dict:
    summary = aggregate(fold_reports(sweep_dir, device))
    sweep_dir = Path(sweep_dir)
    (sweep_dir / "cv_report.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    (sweep_dir / "cv_report.md").write_text(markdown_cv(summary), encoding="utf-8")
    return summary
