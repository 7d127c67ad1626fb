"""What a finished run leaves beside its model: ``metrics.json``, ``learning_curve.png``, the log
history, no intermediate checkpoints (unless kept) and the ``latest`` link next to the run directory.

``run_info.json`` (how the run was made) is :mod:`keyphrase_tagger.training.run_info`'s.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
import uuid
from pathlib import Path

from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.evaluation.report import LEARNING_CURVE_PNG, plot_learning_curve
from keyphrase_tagger.training.arguments import CHECKPOINTS_DIR, checkpoint_dirs

log = logging.getLogger(__name__)

LATEST = "latest"  # the link, next to the run directories, to the newest finished single run
BEST_MODEL_METRIC = "eval_phrase_f1"  # metric_for_best_model "phrase_f1", as the Trainer logs it
DECISION_METRIC = "eval_tuned_phrase_f1"  # the validation F1 of the fitted decision
# What a run with a validation split reports and a sweeper may optimise (optimized_metric).
VALIDATION_METRICS: tuple[str, ...] = (DECISION_METRIC, BEST_MODEL_METRIC, "eval_phrase_precision",
                                       "eval_phrase_recall", "eval_phrase_macro_f1", "eval_entity_f1", "eval_loss")
NOTES = {
    "eval_phrase_f1": "validation phrase micro F1 of the best epoch's model with argmax decoding: the metric "
                      "that chose the best epoch (best_epoch). The decision is fitted once, after training, on "
                      "that epoch's outputs (trainer.best_epoch_by=decision fits it on every epoch's instead)",
    "eval_tuned_phrase_f1": "validation phrase micro F1 of the decision that ships (decision; its settings and "
                            "weights are in model/keyphrase_tagger.json under decoding), tuned on these same "
                            "validation documents, so optimistic: kpt-evaluate on the test split gives the "
                            "unbiased score",
}
# Where trainer.best_epoch_by=decision chose the kept epoch (training/epoch_selection.py).
DECISION_SELECTION_NOTES = {
    "eval_phrase_f1": "validation phrase micro F1 of the kept epoch's model with argmax decoding; the kept epoch "
                      "is the one whose fitted decision scored best on validation (trainer.best_epoch_by=decision)",
    "decision_f1_by_epoch": "validation phrase micro F1 of the decision fitted on each epoch's model; the best "
                            "chose the kept epoch (best_epoch), so the kept one is optimistic twice over",
}


def check_optimized_metric(name: str) -> None:
    """Raise :class:`ConfigError` unless ``name`` is a metric a run reports (:data:`VALIDATION_METRICS`)."""
    if name not in VALIDATION_METRICS:
        raise ConfigError(f"optimized_metric={name}: not a metric kpt-train reports; "
                          f"choose one of {', '.join(VALIDATION_METRICS)}")


def optimized_value(metrics: dict, name: str) -> float | None:
    """``metrics[name]``, the score returned to Hydra sweepers. Where no decision was fitted
    (``decision=argmax``), the decision's F1 is argmax's; ``None`` for a run without a validation split."""
    if name == DECISION_METRIC and name not in metrics:
        name = BEST_MODEL_METRIC
    return metrics.get(name)


def is_multirun_job() -> bool:
    """Whether Hydra runs this process as one job of a ``-m`` sweep."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        return HydraConfig.get().mode == RunMode.MULTIRUN
    except (ImportError, ValueError):
        return False


def run_stamp(run_dir: Path, multirun: bool = False) -> str:
    """The stamp the run's directory carries: its own name, or for a sweep job the sweep directory's.

    The ``run_stamp`` config value is resolved anew wherever it is read (a later ``${now:...}``) and
    is not used at all when ``output_dir`` is given (``make train`` names the directory itself); the
    directory's name is what a user finds on disk.
    """
    return run_dir.parent.name if multirun else run_dir.name


def wants_latest_link(run_dir: Path, experiment_name: str, multirun: bool) -> bool:
    """Whether a finished run updates ``latest``: a single run whose directory sits in the one named
    after its experiment (``outputs/<experiment_name>/<stamp>``, the default layout, as ``make train``
    uses it). Elsewhere the parent directory is the user's, and nothing is added to it."""
    return not multirun and run_dir.parent.name == str(experiment_name)


def write_log_csv(log_history: list[dict], path: Path) -> None:
    """The Trainer's log history, one row per logged event (empty cells where a row lacks a key)."""
    keys = sorted({k for row in log_history for k in row})
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(log_history)


def best_epoch(state, selected_by: str = BEST_MODEL_METRIC) -> dict:
    """The epoch the kept model comes from (``TrainerState`` after training) and the metric that
    chose it (``selected_by``); ``{}`` when none was chosen."""
    step = state.best_global_step
    if step is None:
        return {}
    epochs = [row["epoch"] for row in state.log_history if row.get("step") == step and BEST_MODEL_METRIC in row]
    epoch = epochs[0] if epochs else None
    if isinstance(epoch, float) and epoch.is_integer():  # the Trainer logs epoch 4 as 4.0
        epoch = int(epoch)
    return {"best_epoch": epoch, "best_step": int(step),
            "best_model_selected_by": selected_by, "best_metric": state.best_metric}


def metrics_record(metrics: dict, state, decision: str | None, resumed_from: str | None,
                   selected_by: str = BEST_MODEL_METRIC) -> dict:
    """``metrics.json``: the final metrics, the best epoch and what chose it (``selected_by``), the
    decision that ships, and notes on how to read them."""
    record = {**metrics, **best_epoch(state, selected_by)}
    notes = {**NOTES, **(DECISION_SELECTION_NOTES if selected_by == DECISION_METRIC else {})}
    notes = {k: v for k, v in notes.items() if k in metrics}
    if decision is not None:
        record["decision"] = decision
    if resumed_from is not None:
        record["resumed_from"] = resumed_from
        notes["train_loss"] = (f"train_loss, train_runtime and the other train_* values cover only the steps "
                               f"run after resuming from {resumed_from}, not the whole run; "
                               "logs/log_history.csv has every logged step")
    record["notes"] = notes
    return record


def write_learning_curve(run_dir: Path, decision_f1: float | None, best_step: int | None) -> Path | None:
    """``<run>/learning_curve.png`` from ``logs/log_history.csv``; ``None`` when nothing was logged."""
    path = run_dir / LEARNING_CURVE_PNG
    return path if plot_learning_curve(run_dir, path, decision_f1, best_step) else None


def write_run_record(run_dir: Path, log_history: list[dict], record: dict, info: dict) -> None:
    """``logs/log_history.csv``, ``learning_curve.png``, ``run_info.json`` (``info``) and, last, as the
    mark of a finished run, ``metrics.json`` (``record``: :func:`metrics_record`)."""
    (run_dir / "logs").mkdir(exist_ok=True)
    write_log_csv(log_history, run_dir / "logs" / "log_history.csv")
    curve = write_learning_curve(run_dir, record.get("eval_tuned_phrase_f1"), record.get("best_step"))
    if curve is not None:
        log.info("learning curve: %s", curve)
    (run_dir / "run_info.json").write_text(json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8")
    (run_dir / "metrics.json").write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")


def finish_run(run_dir: Path, keep_checkpoints: bool, link_latest: bool) -> None:
    """After everything is written: the intermediate checkpoints go (unless ``keep_checkpoints``),
    and ``<parent>/latest`` points at this run (``link_latest``: a single run, not a sweep job)."""
    if not keep_checkpoints:
        removed = remove_checkpoints(run_dir)
        if removed:
            log.info("removed %d intermediate checkpoint(s) under %s (trainer.keep_checkpoints=true keeps them)",
                     removed, run_dir / CHECKPOINTS_DIR)
    if link_latest:
        link = update_latest_link(run_dir)
        if link is not None:
            log.info("%s -> %s", link, run_dir.name)


def remove_checkpoints(run_dir: Path) -> int:
    """Delete the Trainer's ``checkpoint-<step>`` directories of a finished run; return how many.

    The rest of ``checkpoints/`` (TensorBoard's ``runs/``) stays; so does the directory if it holds it.
    """
    removed = checkpoint_dirs(run_dir / CHECKPOINTS_DIR)
    for path in removed:
        shutil.rmtree(path)
    try:
        (run_dir / CHECKPOINTS_DIR).rmdir()
    except OSError:
        pass  # not empty, or absent
    return len(removed)


def update_latest_link(run_dir: Path) -> Path | None:
    """Point ``<parent>/latest`` at ``run_dir`` (a relative link); return it, or ``None`` when a
    ``latest`` that is not a link is in the way (it is left alone, with a warning)."""
    link = run_dir.parent / LATEST
    if run_dir.name == LATEST:
        return None
    if os.path.lexists(link) and not link.is_symlink():
        log.warning("%s exists and is not a symbolic link: left as it is, no link to the newest run", link)
        return None
    # A new link renamed over the old one: there is a `latest` at every moment, never a half-made one.
    tmp = run_dir.parent / f".{LATEST}.{uuid.uuid4().hex}"
    os.symlink(run_dir.name, tmp, target_is_directory=True)
    try:
        os.replace(tmp, link)
    except OSError as err:  # a directory named `latest` made meanwhile: the finished run stays finished
        tmp.unlink()
        log.warning("no link %s to the newest run: %s", link, err.strerror)
        return None
    return link
