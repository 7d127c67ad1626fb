"""``trainer.best_epoch_by=decision``: keep the epoch whose fitted decision scores best on validation.

By default the Trainer keeps the epoch with the best validation phrase F1 of the tagger's own argmax
decoding (``eval_phrase_f1``), and the decision is fitted once, on that epoch's model. What ships,
though, is the decision over the tagger's probabilities, and the two need not peak at the same epoch.
With ``best_epoch_by=decision`` every epoch's checkpoint is kept while training, the decision is
fitted on each (by the same :func:`~keyphrase_tagger.training.fit_decision.decide` as the final
model), and the checkpoint whose decision has the best validation phrase F1 is restored, the
earlier epoch on a tie. Each fit costs about one decision fit of a default run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from keyphrase_tagger.decision.base import Decision
from keyphrase_tagger.training.arguments import checkpoint_dirs
from keyphrase_tagger.training.fit_decision import decide
from keyphrase_tagger.training.inputs import TrainingInputs
from keyphrase_tagger.training.run_record import BEST_MODEL_METRIC, DECISION_METRIC

log = logging.getLogger(__name__)

BEST_EPOCH_BY = ("tagger", "decision")  # trainer.best_epoch_by: the metric that chooses the kept epoch


@dataclass(frozen=True)
class EpochFit:
    """One epoch's checkpoint, the decision fitted on its model and that decision's validation F1."""

    checkpoint: Path
    step: int
    epoch: float
    decision: Decision
    f1: float


def checkpoint_epoch(checkpoint: Path) -> tuple[int, float]:
    """``(global_step, epoch)`` of a Trainer checkpoint, from its ``trainer_state.json``."""
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    return int(state["global_step"]), float(state["epoch"])


def argmax_f1(log_history: list[dict], step: int) -> float:
    """The tagger's validation phrase F1 (argmax decoding) the Trainer logged at ``step``."""
    found = [row[BEST_MODEL_METRIC] for row in log_history if row.get("step") == step and BEST_MODEL_METRIC in row]
    return found[-1] if found else float("nan")


def fit_each_epoch(cfg: DictConfig, trainer, inputs: TrainingInputs, train_ds, val_ds,
                   train_probs: list | None = None) -> list[EpochFit]:
    """The decision fitted on the model of each of the run's checkpoints, oldest first (the rescorer
    on ``train_probs`` where given, as :func:`~keyphrase_tagger.training.fit_decision.decide`)."""
    fits = []
    for checkpoint in reversed(checkpoint_dirs(Path(trainer.args.output_dir))):
        step, epoch = checkpoint_epoch(checkpoint)
        trainer._load_from_checkpoint(str(checkpoint))  # the weights (and a CRF head's), as resuming reads them
        scores = {BEST_MODEL_METRIC: argmax_f1(trainer.state.log_history, step)}
        decision = decide(cfg, trainer, inputs, train_ds, val_ds, scores, train_probs)
        fits.append(EpochFit(checkpoint, step, epoch, decision, scores[DECISION_METRIC]))
        log.info("best_epoch_by=decision: epoch %g (%s): validation phrase F1 %.4f", epoch, checkpoint.name,
                 scores[DECISION_METRIC])
    return fits


def select_epoch_by_decision(cfg: DictConfig, trainer, inputs: TrainingInputs, train_ds, val_ds,
                             train_probs: list | None = None) -> tuple[Decision, dict]:
    """Fit the decision on every epoch's checkpoint, restore the best one into ``trainer.model`` and
    mark it as the Trainer's best; ``(its decision, metrics)``, the metrics holding its validation F1
    (``eval_tuned_phrase_f1``) and every epoch's (``decision_f1_by_epoch``)."""
    fits = fit_each_epoch(cfg, trainer, inputs, train_ds, val_ds, train_probs)
    if not fits:
        raise RuntimeError(f"trainer.best_epoch_by=decision: no checkpoint under {trainer.args.output_dir}")
    best = max(fits, key=lambda fit: (fit.f1, -fit.step))  # the earlier epoch on a tie
    trainer._load_from_checkpoint(str(best.checkpoint))
    trainer.state.best_model_checkpoint = str(best.checkpoint)
    trainer.state.best_global_step = best.step
    trainer.state.best_metric = best.f1
    log.info("best_epoch_by=decision: kept epoch %g (%s), validation phrase F1 %.4f", best.epoch,
             best.checkpoint.name, best.f1)
    by_epoch = {f"{fit.epoch:g}": fit.f1 for fit in fits}
    return best.decision, {DECISION_METRIC: best.f1, "decision_f1_by_epoch": by_epoch}
