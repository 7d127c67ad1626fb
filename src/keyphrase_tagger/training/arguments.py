"""The ``trainer`` config group -> ``TrainingArguments`` (+ the few keys that are not arguments),
and the Trainer's checkpoint directories a run resumes from."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from keyphrase_tagger.config.checking import check_bounds, check_value, type_hints
from keyphrase_tagger.errors import ConfigError

log = logging.getLogger(__name__)

# Keys of configs/trainer/*.yaml that steer our loop rather than TrainingArguments, with their types.
OWN_TYPES = {"early_stopping_patience": int | None, "resume_from_checkpoint": bool | Path | None,
             "keep_checkpoints": bool, "best_epoch_by": Literal["tagger", "decision"], "rescorer_cross_fit": int}
OWN_KEYS = tuple(OWN_TYPES)
CHECKPOINTS_DIR = "checkpoints"  # the Trainer's checkpoints, under the run directory
# Ranges TrainingArguments does not check itself: a wrong value would fail, or quietly do nothing,
# only once training runs.
TRAINER_BOUNDS = {
    "learning_rate": {"gt": 0},
    "num_train_epochs": {"gt": 0},
    "per_device_train_batch_size": {"ge": 1},
    "per_device_eval_batch_size": {"ge": 1},
    "gradient_accumulation_steps": {"ge": 1},
    "weight_decay": {"ge": 0},
    "save_total_limit": {"ge": 1},
    "dataloader_num_workers": {"ge": 0},
    "early_stopping_patience": {"ge": 0},
    "rescorer_cross_fit": {"ge": 0},
}


def check_trainer_config(trainer_cfg: Mapping) -> None:
    """Each key of the ``trainer`` group against the type ``TrainingArguments`` declares for it (ours:
    :data:`OWN_TYPES`) and :data:`TRAINER_BOUNDS`; an unknown key is left to :func:`training_arguments`."""
    from transformers import TrainingArguments

    hints = type_hints(TrainingArguments)
    for name, value in trainer_cfg.items():
        annotation = OWN_TYPES.get(name, hints.get(name))
        if annotation is not None:
            check_value(f"trainer.{name}", value, annotation)
            check_bounds(f"trainer.{name}", value, TRAINER_BOUNDS.get(name, {}))


def training_arguments(trainer_cfg: Mapping, run_dir: Path, seed: int):
    """``TrainingArguments`` for ``trainer_cfg``; what they refuse (an unknown key, strategies that do
    not match, bf16 on a machine without it) is a :class:`ConfigError`."""
    from transformers import TrainingArguments

    allowed = {f.name for f in dataclasses.fields(TrainingArguments)}
    kwargs = {k: v for k, v in dict(trainer_cfg).items() if k not in OWN_KEYS}
    unknown = sorted(set(kwargs) - allowed)
    if unknown:
        raise ConfigError(f"trainer: unknown TrainingArguments field(s) {unknown}")
    # Every parameter of a token classifier gets a gradient (BERT is built without its pooler), so
    # DDP need not search the graph for unused ones each step.
    kwargs.setdefault("ddp_find_unused_parameters", False)
    if isinstance(kwargs.get("report_to"), (list, tuple)):
        kwargs["report_to"] = list(kwargs["report_to"])
    try:
        return TrainingArguments(
            output_dir=str(run_dir / CHECKPOINTS_DIR),
            seed=seed,
            # Document-level phrase F1 picks the best epoch; windows stay in dataset order for it.
            metric_for_best_model="phrase_f1",
            greater_is_better=True,
            remove_unused_columns=False,
            label_names=["labels"],
            **{k: v for k, v in kwargs.items() if k not in ("metric_for_best_model", "greater_is_better", "seed")},
        )
    except ValueError as err:
        raise ConfigError("trainer: " + " ".join(line.strip() for line in str(err).splitlines())) from None


# What a checkpoint needs for an exact resume -> the names the Trainer may give it (sharded weights,
# accelerate's optimizer file, one RNG state per process of a distributed run).
CHECKPOINT_FILES = {
    "model.safetensors": r"model\.safetensors(\.index\.json)?",
    "optimizer.pt": r"optimizer\.(pt|bin)",
    "scheduler.pt": r"scheduler\.pt",
    "rng_state.pth": r"rng_state(_\d+)?\.pth",
    "trainer_state.json": r"trainer_state\.json",
}


def checkpoint_dirs(checkpoints_dir: Path) -> list[Path]:
    """The Trainer's ``checkpoint-<step>`` directories under ``checkpoints_dir``, newest first."""
    if not checkpoints_dir.is_dir():
        return []
    found = [(int(m[1]), p) for p in checkpoints_dir.iterdir()
             if (m := re.fullmatch(r"checkpoint-(\d+)", p.name)) and p.is_dir()]
    return [p for _, p in sorted(found, reverse=True)]


def missing_checkpoint_files(checkpoint: Path) -> list[str]:
    """What ``checkpoint`` lacks for the Trainer to resume from it exactly (``[]``: complete).

    The Trainer saves the weights, the optimizer and scheduler states and each process's RNG state,
    and ``trainer_state.json`` last: a directory without a readable one was cut short while saving.
    """
    names = [p.name for p in checkpoint.iterdir()] if checkpoint.is_dir() else []
    missing = [part for part, pattern in CHECKPOINT_FILES.items() if not any(re.fullmatch(pattern, n) for n in names)]
    if "trainer_state.json" not in missing:
        try:
            json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            missing.append("trainer_state.json")  # cut short while being written
    return missing


def resume_checkpoint(resume: object, checkpoints_dir: Path) -> str | None:
    """``trainer.resume_from_checkpoint`` -> the checkpoint directory to resume from (``None``: start fresh).

    ``true`` means the newest complete checkpoint of this run directory: one a kill cut short while
    it was being saved is skipped, with a warning. None at all is a user error, not a silent fresh
    start, so that a mistyped ``output_dir`` cannot restart a long run from scratch. A path must
    name a complete checkpoint.
    """
    if resume in (None, False):
        return None
    if resume is True:
        skipped = []
        for path in checkpoint_dirs(checkpoints_dir):
            missing = missing_checkpoint_files(path)
            if not missing:
                for name, lacking in skipped:
                    log.warning("resume: skipping the incomplete %s (no %s)", name, ", ".join(lacking))
                log.info("resuming from %s", path)
                return str(path)
            skipped.append((path.name, missing))
        incomplete = "".join(f"; {name} is incomplete (no {', '.join(lacking)})" for name, lacking in skipped)
        raise ConfigError(f"trainer.resume_from_checkpoint=true: no {'complete ' if skipped else ''}checkpoint under "
                          f"{checkpoints_dir}{incomplete} (pass the interrupted run's output_dir=)")
    path = Path(str(resume))
    missing = missing_checkpoint_files(path)
    if len(missing) == len(CHECKPOINT_FILES):  # none of a checkpoint's files: some other directory
        raise ConfigError(f"trainer.resume_from_checkpoint={resume}: not a Trainer checkpoint directory "
                          "(expected <run>/checkpoints/checkpoint-<step>)")
    if missing:
        raise ConfigError(f"trainer.resume_from_checkpoint={resume}: incomplete checkpoint, no {', '.join(missing)} "
                          "(its save was cut short); name an earlier one, or pass true for the newest complete one")
    return str(path)
