"""``objective_folds=[...]``: one ``kpt-train`` job trains every listed fold and returns their mean.

A hyperparameter search (``configs/hparams_search/``) scores each trial by a validation metric;
on one fold's few validation documents that score is mostly noise, so a trial trains the listed
folds of ``data.split.kfold`` one after another, each in ``<run dir>/data.split.fold=<f>`` (a
complete run: checkpoint, metrics, model card), and returns the mean of their validation metrics.
Test splits are never read. The trial's directory is then a cross-validation sweep directory:
``kpt-cv-report sweep_dir=<it>`` scores the chosen trial's folds on their test splits.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.training.run_record import VALIDATION_METRICS

log = logging.getLogger(__name__)

OBJECTIVE_FILE = "metrics.json"  # the trial's, where kpt-train's sweep summary reads a job's scores


def objective_folds(cfg: Mapping) -> list[int]:
    """The folds a job trains (``objective_folds``), checked against ``data.split.kfold``; ``[]``
    for an ordinary run. ``cfg``: the config, or its plain values (the checks before a run)."""
    folds = cfg.get("objective_folds")
    if not folds:
        return []
    folds = [int(f) for f in folds]
    kfold = ((cfg.get("data") or {}).get("split") or {}).get("kfold")
    if not kfold:
        raise ConfigError(f"objective_folds={folds}: needs data.split.kfold (the folds are those of a k-fold split)")
    if any(not 0 <= f < int(kfold) for f in folds) or len(set(folds)) != len(folds):
        raise ConfigError(f"objective_folds={folds}: distinct folds of data.split.kfold={kfold} (0..{int(kfold) - 1})")
    if (cfg.get("trainer") or {}).get("resume_from_checkpoint"):
        raise ConfigError("objective_folds and trainer.resume_from_checkpoint: each fold is a run of its own")
    return folds


def fold_config(cfg: DictConfig, fold: int) -> DictConfig:
    """``cfg`` for one fold: ``data.split.fold`` set, ``objective_folds`` cleared."""
    one = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
    with open_dict(one):
        one.data.split.fold = fold
        one.objective_folds = None
    return one


def mean_metrics(per_fold: list[dict]) -> dict:
    """The mean of each validation metric every fold reports."""
    keys = [k for k in VALIDATION_METRICS if all(isinstance(m.get(k), (int, float)) for m in per_fold)]
    return {k: sum(float(m[k]) for m in per_fold) / len(per_fold) for k in keys}


def train_over_folds(cfg: DictConfig, run_dir: Path, train_fn: Callable[..., dict]) -> dict:
    """Train every fold of ``objective_folds`` with ``train_fn(fold_cfg, run_dir=...)`` (``train``)
    and return the mean validation metrics; ``run_dir/metrics.json`` holds them with each fold's."""
    folds = objective_folds(cfg)
    if (run_dir / OBJECTIVE_FILE).exists():
        raise ConfigError(f"{run_dir}: holds a finished run's {OBJECTIVE_FILE}; objective_folds writes into a new "
                          "run directory")
    started = time.time()
    per_fold = []
    for fold in folds:
        log.info("objective fold %d (%d of %d)", fold, len(per_fold) + 1, len(folds))
        per_fold.append(dict(train_fn(fold_config(cfg, fold), run_dir=run_dir / f"data.split.fold={fold}")))
    mean = mean_metrics(per_fold)
    record = {**mean, "objective_folds": folds, "kfold": int(cfg.data.split.kfold),
              "folds": [{"fold": f, **{k: m[k] for k in mean}} for f, m in zip(folds, per_fold)],
              "note": f"means over the validation splits of folds {folds} of a {int(cfg.data.split.kfold)}-fold "
                      "split; each fold's run is in data.split.fold=<f>/ (kpt-cv-report sweep_dir=<this "
                      "directory> scores them on their test splits)"}
    info = {"wall_time_s": round(time.time() - started, 1), "objective_folds": folds}
    for name, value in ((OBJECTIVE_FILE, record), ("run_info.json", info)):
        (run_dir / name).write_text(json.dumps(value, ensure_ascii=False, indent=2), encoding="utf-8")
    log.info("objective over folds %s: %s", folds, json.dumps({k: round(v, 4) for k, v in mean.items()}))
    return mean
