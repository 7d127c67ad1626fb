"""``sweep_summary.md`` / ``sweep_summary.json``: every job of a ``kpt-train -m`` sweep side by side.

:class:`SweepSummary` is the Hydra callback ``configs/train.yaml`` installs. It rewrites both files
into the sweep directory after each job, so they hold every job finished so far even when a later
job fails or the sweep is stopped. A job's row: its directory (named by its settings), the
settings that set it apart, the validation scores of its ``metrics.json``, the test scores of an
``evaluation_test/report.json`` if one exists, and its wall time.

Launchers that run each job in a process of its own (``hydra/launcher=submitit_local``,
``submitit_slurm``) hand every job a copy of this callback: a job's copy has seen no other job, so
it reads the others from the sweep directory, and the launching process rewrites both files from
the sweep directory once every job has ended.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)

SUMMARY_JSON = "sweep_summary.json"
SUMMARY_MD = "sweep_summary.md"
# Read from each job's metrics.json when present; a column appears when some job has the key.
METRIC_KEYS = ("eval_phrase_f1", "eval_tuned_phrase_f1", "eval_entity_f1", "best_epoch")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def job_test_scores(job_dir: Path) -> dict | None:
    """Phrase micro P/R/F1 and entity F1 of ``evaluation_test/report.json``, if the job has one."""
    report = _read_json(job_dir / "evaluation_test" / "report.json")
    try:
        micro = report["phrase"]["micro"]
        return {"test_phrase_f1": micro["f1"], "test_phrase_precision": micro["precision"],
                "test_phrase_recall": micro["recall"], "test_entity_f1": report["entity"]["f1"]}
    except (KeyError, TypeError):
        return None


def job_row(sweep_dir: Path, job_dir: Path, overrides: list[str], status: str,
            wall_time_s: float | None = None) -> dict:
    """One job of the summary, read from what its directory holds."""
    metrics = _read_json(job_dir / "metrics.json")
    if wall_time_s is None:
        wall_time_s = _read_json(job_dir / "run_info.json").get("wall_time_s")
    try:
        name = str(job_dir.resolve().relative_to(sweep_dir.resolve()))
    except ValueError:
        name = str(job_dir)  # a job of a swept experiment lives under that experiment's directory
    return {"job": name, "dir": str(job_dir), "overrides": list(overrides), "status": status,
            "metrics": {k: metrics[k] for k in METRIC_KEYS if k in metrics},
            "test": job_test_scores(job_dir), "wall_time_s": None if wall_time_s is None else round(wall_time_s, 1)}


def summary(sweep_dir: Path, jobs: list[dict]) -> dict:
    """The JSON document: the jobs, and the settings every job shares (``experiment=...``)."""
    shared = [o for o in jobs[0]["overrides"] if all(o in j["overrides"] for j in jobs)] if jobs else []
    return {"sweep_dir": str(sweep_dir), "n_jobs": len(jobs), "shared_overrides": shared, "jobs": jobs}


def _cell(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def markdown_summary(data: dict) -> str:
    """A table with a row per job: what sets it apart, its status, scores and wall time."""
    jobs = data["jobs"]
    metric_keys = [k for k in METRIC_KEYS if any(k in j["metrics"] for j in jobs)]
    test_keys = ["test_phrase_f1", "test_entity_f1"] if any(j["test"] for j in jobs) else []
    shared = " ".join(f"`{o}`" for o in data["shared_overrides"]) or "none"
    lines = [f"# Sweep: {data['sweep_dir']}", "",
             f"{data['n_jobs']} jobs. Settings every job shares: {shared}.", "",
             "| job | overrides | status | " + " | ".join(metric_keys + test_keys + ["wall time (s)"]) + " |",
             "|" + "---|" * (4 + len(metric_keys) + len(test_keys))]
    for j in jobs:
        own = " ".join(o for o in j["overrides"] if o not in data["shared_overrides"]) or "–"
        cells = [_cell(j["metrics"].get(k)) for k in metric_keys] + [_cell((j["test"] or {}).get(k)) for k in test_keys]
        lines.append(f"| {j['job']} | {own} | {j['status']} | " + " | ".join(cells + [_cell(j["wall_time_s"], 1)]) + " |")
    if not test_keys:
        lines += ["", "Test scores: `kpt-cv-report sweep_dir=<this directory>` evaluates every job on its test split "
                      "(a search's trial trains several folds: `sweep_dir=<this directory>/<trial>`)."]
    return "\n".join(lines) + "\n"


def write_summary(sweep_dir: Path, jobs: list[dict]) -> Path:
    """Both files, each replaced whole; returns the Markdown file's path."""
    from keyphrase_tagger.outputs import replacing_file

    data = summary(sweep_dir, jobs)
    with replacing_file(sweep_dir / SUMMARY_JSON, "hydra.sweep.dir") as f:
        f.write(json.dumps(data, ensure_ascii=False, indent=2))
    with replacing_file(sweep_dir / SUMMARY_MD, "hydra.sweep.dir") as f:
        f.write(markdown_summary(data))
    return sweep_dir / SUMMARY_MD


def scanned_jobs(sweep_dir: Path) -> list[dict]:
    """The jobs found under ``sweep_dir`` (``.hydra/overrides.yaml``): for launchers that run the
    jobs in other processes, where :class:`SweepSummary` does not see them end.

    Hidden folders are not jobs: submitit keeps its pickles and logs in ``.submitit/``."""
    from omegaconf import OmegaConf

    rows = []
    for path in sorted(sweep_dir.glob("**/.hydra/overrides.yaml")):
        job_dir = path.parent.parent
        if any(part.startswith(".") for part in job_dir.relative_to(sweep_dir).parts):
            continue
        status = "completed" if (job_dir / "metrics.json").is_file() else "unfinished"
        rows.append(job_row(sweep_dir, job_dir, [str(o) for o in OmegaConf.load(path)], status))
    return rows


def swept_unnamed_keys(config: DictConfig) -> list[str]:
    """Keys a sweep varies although job directory names leave them out
    (``hydra.job.config.override_dirname.exclude_keys``): jobs differing only there would share one
    directory. ``experiment`` is the exception: each experiment has a sweep directory of its own."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    excluded = set(config.hydra.job.config.override_dirname.exclude_keys) - {"experiment"}
    overrides = OverridesParser.create().parse_overrides([str(o) for o in config.hydra.overrides.task])
    return [o.key_or_group for o in overrides if o.is_sweep_override() and o.key_or_group in excluded]


class SweepSummary(Callback):
    """Writes the sweep summary of a multirun (see the module docstring); does nothing in a single run.

    Before the first job it stops a sweep whose jobs would share a directory (see
    :func:`swept_unnamed_keys`), with one line, as the command line reports its errors.
    """

    def __init__(self) -> None:
        self.sweep_dir: Path | None = None
        self.jobs: list[dict] = []
        self._started = 0.0
        self._sweep_pid: int | None = None  # the process that started the sweep

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        swept = swept_unnamed_keys(config)
        if swept:
            from keyphrase_tagger.cli.common import fail

            fail(f"-m sweeps over {swept[0]}, which job directory names leave out: its jobs would share one "
                 f"directory; run one sweep per value of {swept[0]}")
        # Under torchrun every rank runs the sweep; rank 0 writes (it alone writes metrics.json).
        if int(os.environ.get("RANK", "0")) == 0:
            self.sweep_dir = Path(str(config.hydra.sweep.dir))
        self._sweep_pid = os.getpid()

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._started = time.perf_counter()

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        # RANK is read again here: a submitit job of several tasks learns its ranks inside the job.
        if self.sweep_dir is None or int(os.environ.get("RANK", "0")) != 0:
            return
        status = job_return.status.name.lower()
        if status == "failed":
            status += f" ({type(job_return._return_value).__name__})"
        row = job_row(self.sweep_dir, Path(config.hydra.runtime.output_dir),
                      [str(o) for o in config.hydra.overrides.task], status, time.perf_counter() - self._started)
        if os.getpid() == self._sweep_pid:
            self.jobs.append(row)
            write_summary(self.sweep_dir, self.jobs)
        else:  # a job process of its own: the other jobs are known from the sweep directory alone
            others = [r for r in scanned_jobs(self.sweep_dir) if r["job"] != row["job"]]
            write_summary(self.sweep_dir, sorted([*others, row], key=lambda r: r["job"]))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        if self.sweep_dir is None:
            return
        jobs = self.jobs or scanned_jobs(self.sweep_dir)
        if jobs:
            log.info("sweep summary: %s", write_summary(self.sweep_dir, jobs))
