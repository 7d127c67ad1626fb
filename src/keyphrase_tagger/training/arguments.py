"""The ``trainer`` config group -> ``TrainingArguments`` (+ the few keys that are not arguments)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from keyphrase_tagger.errors import ConfigError

# Keys of configs/trainer/*.yaml that steer our loop rather than TrainingArguments.
OWN_KEYS = ("early_stopping_patience", "resume_from_checkpoint")
CHECKPOINTS_DIR = "checkpoints"  # the Trainer's checkpoints, under the run directory


def training_arguments(trainer_cfg: Mapping, run_dir: Path, seed: int):
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
