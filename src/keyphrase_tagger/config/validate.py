"""Every value a user sets, checked before a command does any work: one :class:`ConfigError` naming the key.

Each command calls its ``validate_*_config`` first. Types and ranges come from the schemas
(:mod:`keyphrase_tagger.config.schema`); rules across keys come from the code that applies them,
so each rule is written once. What only the data can tell (a corpus's format, ``kfold`` against
its number of documents) is checked where the data is read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from keyphrase_tagger.config.checking import check_fields, plain
from keyphrase_tagger.config.schema import (
    CvReportSchema,
    EvaluateSchema,
    ModelSchema,
    PredictSchema,
    PrepareSchema,
    TrainSchema,
)
from keyphrase_tagger.data.splits import check_folds, check_ratios
from keyphrase_tagger.decision.fit import check_decision
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.tagger.lexicon_inputs import LexiconFeatureConfig
from keyphrase_tagger.tagger.windows import check_window
from keyphrase_tagger.training.arguments import check_trainer_config, training_arguments
from keyphrase_tagger.training.fold_objective import objective_folds
from keyphrase_tagger.training.run_record import check_optimized_metric


def check_data(data: Mapping) -> None:
    """The rules of the ``data`` group that span keys (its types are :class:`DataSchema`'s)."""
    window = data.get("window") or {}
    if "max_chars" in window and "stride" in window:
        check_window(window["max_chars"], window["stride"])
    split = data.get("split") or {}
    if "ratios" in split:
        check_ratios(split["ratios"])
    check_folds(split.get("kfold"), split.get("fold"))


def check_creatable(key: str, path: str | Path) -> None:
    """Raise unless ``path`` exists or can be created: its nearest existing ancestor is a directory
    this process may write in. Nothing is created here."""
    target = Path(path).absolute()
    existing = next(p for p in (target, *target.parents) if p.exists())
    if existing == target:
        return  # what may replace or write into it is the writer's rule (keyphrase_tagger.outputs)
    if not existing.is_dir():
        raise ConfigError(f"{key}={path}: cannot be created: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{key}={path}: cannot be created: no permission to write in {existing}")


def check_device(device: str | int) -> None:
    """``auto`` needs no torch; any other value is judged by the extractor's own parser."""
    if device == "auto":
        return
    from keyphrase_tagger.inference.extractor import resolve_device

    resolve_device(device)


def check_train_config(cfg: Mapping) -> dict:
    """Types, ranges and cross-key rules of a ``kpt-train`` config, without touching the file system
    or the machine; returns the config as plain values."""
    values = plain(cfg)
    # data.window and trainer read model.finetune by interpolation: the model group goes first so
    # that a bad value set there is named where it was set, not where it arrived.
    if isinstance(values.get("model"), Mapping):
        check_fields("model", values["model"], ModelSchema)
    check_fields("", values, TrainSchema)
    check_data(values.get("data") or {})
    if isinstance(values.get("features"), Mapping):
        LexiconFeatureConfig.from_dict(values["features"])  # its cross-key rule
    if "decision" in values:
        check_decision(values["decision"])
    if "optimized_metric" in values:
        check_optimized_metric(values["optimized_metric"])
    objective_folds(values)
    check_trainer_config(values.get("trainer") or {})
    return values


def validate_train_config(cfg: Mapping) -> None:
    """:func:`check_train_config`, then the output directory, then ``TrainingArguments`` built once
    (its own rules: strategies that must match, bf16 without a GPU that has it, ...)."""
    values = check_train_config(cfg)
    if "output_dir" in values:
        check_creatable("output_dir", values["output_dir"])
    training_arguments(values.get("trainer") or {}, Path(str(values.get("output_dir", "."))), values.get("seed", 42))


def validate_prepare_config(cfg: Mapping) -> None:
    """``kpt-prepare``: the ``data`` group, and a ``data.processed_dir`` that can be created."""
    values = plain(cfg)
    check_fields("", values, PrepareSchema)
    data = values.get("data") or {}
    check_data(data)
    if data.get("processed_dir") is not None:
        check_creatable("data.processed_dir", data["processed_dir"])


def validate_evaluate_config(cfg: Mapping) -> None:
    """``kpt-evaluate``: types and ranges, an ``output_dir`` that can be created, the device."""
    values = plain(cfg)
    check_fields("", values, EvaluateSchema)
    if values.get("output_dir") is not None:
        check_creatable("output_dir", values["output_dir"])
    check_device(values.get("device", "auto"))


def validate_predict_config(cfg: Mapping) -> None:
    """``kpt-predict``: types and ranges, an ``output`` file that can be created, the device."""
    values = plain(cfg)
    check_fields("", values, PredictSchema)
    if values.get("output") not in (None, "-"):
        check_creatable("output", values["output"])
    check_device(values.get("device", "auto"))


def validate_cv_report_config(cfg: Mapping) -> None:
    """``kpt-cv-report``: types and the device (the sweep directory is read by ``cv_report``)."""
    values = plain(cfg)
    check_fields("", values, CvReportSchema)
    check_device(values.get("device", "auto"))
