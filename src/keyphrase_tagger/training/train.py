"""``train(cfg)``: corpus -> labeled splits -> windows -> HF Trainer -> best model in ``run_dir/model``."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from omegaconf import DictConfig, OmegaConf

from keyphrase_tagger.checkpoint import CheckpointSettings
from keyphrase_tagger.config.validate import validate_train_config
from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.data.prepare import LabeledDocument
from keyphrase_tagger.decision.kinds import Argmax
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.evaluation.scoring import score_documents
from keyphrase_tagger.logging_setup import quiet_libraries
from keyphrase_tagger.tagger.build import build_model_and_tokenizer, check_lexicon_features
from keyphrase_tagger.tagger.inputs import WINDOW_POSITION, logits_to_probs, reads_token_types
from keyphrase_tagger.training.arguments import (
    CHECKPOINTS_DIR,
    resume_checkpoint,
    training_arguments,
)
from keyphrase_tagger.training.cross_fit import check_cross_fit, cross_fit_folds, cross_fitted_probs
from keyphrase_tagger.training.epoch_selection import select_epoch_by_decision
from keyphrase_tagger.training.fit_decision import decide
from keyphrase_tagger.training.inputs import TrainingInputs, build_windows, load_inputs, mlm_windows
from keyphrase_tagger.training.model_card import model_card, write_model_card
from keyphrase_tagger.training.pretrain import pretrain_encoder
from keyphrase_tagger.training.run_info import run_info
from keyphrase_tagger.training.run_record import (
    BEST_MODEL_METRIC,
    DECISION_METRIC,
    finish_run,
    is_multirun_job,
    metrics_record,
    run_stamp,
    wants_latest_link,
    write_run_record,
)
from keyphrase_tagger.training.tagger_from import load_tagger, resolve_tagger_from, trained_model_config

if TYPE_CHECKING:
    from keyphrase_tagger.tagger.crf import LinearChainCRF

log = logging.getLogger(__name__)


def make_compute_metrics(docs: list[LabeledDocument], max_chars: int, stride: int, cleaning: CleaningConfig,
                         crf: LinearChainCRF | None = None):
    """Document-level metrics for the Trainer: windows merged back before anything is counted; with
    ``crf`` (``model.head=crf``, the module being trained) from its marginals."""

    def compute_metrics(eval_pred) -> dict[str, float]:
        logits = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
        probs = logits_to_probs(np.asarray(logits), [len(d.document.text) for d in docs], max_chars, stride, crf)
        report = score_documents([d.document for d in docs], [d.tags for d in docs], probs, cleaning)
        micro = report["phrase"]["micro"]
        return {
            "phrase_f1": micro["f1"],
            "phrase_precision": micro["precision"],
            "phrase_recall": micro["recall"],
            "phrase_macro_f1": report["phrase"]["macro"]["f1"],
            "entity_f1": report["entity"]["f1"],
        }

    return compute_metrics


def run_dir_of(cfg: DictConfig) -> Path:
    """Hydra's job directory when Hydra runs us (one per multirun job), else ``cfg.output_dir``."""
    try:
        from hydra.core.hydra_config import HydraConfig

        return Path(HydraConfig.get().runtime.output_dir)
    except (ImportError, ValueError):
        return Path(cfg.output_dir)


def resolved_config(cfg: DictConfig, run_dir: Path, stamp: str) -> dict:
    """The config with every interpolation resolved; ``.hydra/config.yaml`` keeps them unresolved
    (``${now:...}`` would name another time), so this records what the run actually used: its
    directory and the stamp that directory carries (:func:`~keyphrase_tagger.training.run_record.run_stamp`)."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    resolved["output_dir"] = str(run_dir)  # in a multirun, Hydra's job directory
    resolved["run_stamp"] = stamp
    return resolved


def build_model_and_windows(cfg: DictConfig, inputs: TrainingInputs, tagger_from: Path | None = None):
    """``(model, tokenizer, crf, train_ds, val_ds)``: the configured model and head (``crf``: a new
    :class:`LinearChainCRF` for ``model.head=crf``, else ``None``), or the saved tagger and head of
    ``tagger_from``, and :func:`build_windows`."""
    from keyphrase_tagger.tagger.crf import LinearChainCRF

    features = inputs.features
    if tagger_from is not None:
        model, tokenizer, crf = load_tagger(tagger_from, inputs.max_chars)
        head = "crf" if crf is not None else "softmax"
        if head != cfg.model.head:
            log.warning("tagger_from=%s: its tagger has a %s head, kept as it is (model.head=%s is not used)",
                        tagger_from, head, cfg.model.head)
    else:
        model, tokenizer = build_model_and_tokenizer(cfg.model, [d.document.text for d in inputs.train_docs],
                                                     inputs.max_chars,
                                                     n_token_types=features.n_types if features.enabled else None)
        crf = LinearChainCRF() if cfg.model.head == "crf" else None
    # BERT's forward takes **kwargs but its loss is a plain per-batch mean that ignores
    # num_items_in_batch; left on, the Trainer would multiply that mean by the world size under DDP
    # (gradients and eval_loss twice too large with 2 processes) and skip the division by the
    # gradient-accumulation steps.
    model.accepts_loss_kwargs = False
    return model, tokenizer, crf, *build_windows(inputs, tokenizer)


def model_columns(windows, model):
    """The columns of a windows dataset that ``model`` reads: without the windows' positions, and
    without ``token_type_ids`` for a model whose forward takes none. The Trainer passes on every
    column it is given (``remove_unused_columns`` is off, ``training.arguments``)."""
    unread = [*WINDOW_POSITION, *([] if reads_token_types(model) else ["token_type_ids"])]
    return windows.remove_columns([c for c in unread if c in windows.column_names])


def build_trainer(trainer_cfg: dict, inputs: TrainingInputs, model, tokenizer, train_ds, val_ds, run_dir: Path,
                  seed: int, callbacks: Sequence, crf: LinearChainCRF | None = None):
    """The ``Trainer``: evaluation and best-model selection by document phrase F1 where there is a
    validation split, early stopping where configured; a :class:`CRFTrainer` given a ``crf`` head."""
    from transformers import (
        DataCollatorForTokenClassification,
        EarlyStoppingCallback,
        Trainer,
    )

    from keyphrase_tagger.training.crf_trainer import CRFTrainer

    args = training_arguments(trainer_cfg, run_dir, seed)
    has_val = len(inputs.val_docs) > 0
    if not has_val:
        log.warning("no validation documents: training without evaluation or best-model selection")
        args.eval_strategy = "no"
        args.load_best_model_at_end = False
    callbacks = list(callbacks)
    if trainer_cfg.get("best_epoch_by") == "decision":
        args.save_total_limit = None  # every epoch's checkpoint, for its decision fit (epoch_selection.py)
    patience = trainer_cfg.get("early_stopping_patience")
    if patience and has_val:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=int(patience)))
    trainer_class, head = (Trainer, {}) if crf is None else (CRFTrainer, {"crf": crf})
    return trainer_class(
        model=model,
        args=args,
        train_dataset=model_columns(train_ds, model),
        eval_dataset=model_columns(val_ds, model) if has_val else None,
        data_collator=DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=8),
        processing_class=tokenizer,
        compute_metrics=(make_compute_metrics(inputs.val_docs, inputs.max_chars, inputs.stride, inputs.cleaning, crf)
                         if has_val else None),
        callbacks=callbacks,
        **head,
    )


def fit(cfg: DictConfig, trainer, inputs: TrainingInputs, train_ds, val_ds, resume: str | None,
        tagger_from: Path | None, run_dir: Path):
    """Train (unless the tagger comes from ``tagger_from``), evaluate the kept model on validation
    and fit the decision; ``(metrics, decision)``, the decision ``None`` without validation documents."""
    metrics = {}
    if tagger_from is None:
        train_output = trainer.train(resume_from_checkpoint=resume)
        metrics = {"train_" + k if not k.startswith("train_") else k: v for k, v in train_output.metrics.items()}
    if not inputs.val_docs:
        return metrics, None
    k = cross_fit_folds(cfg)
    train_probs = cross_fitted_probs(cfg, inputs, train_ds, val_ds, run_dir, int(cfg.seed), k) if k else None
    if tagger_from is None and cfg.trainer.get("best_epoch_by") == "decision":
        decision, chosen = select_epoch_by_decision(cfg, trainer, inputs, train_ds, val_ds, train_probs)
        metrics.update(trainer.evaluate())
        metrics.update(chosen)
        return metrics, decision
    metrics.update(trainer.evaluate())
    return metrics, decide(cfg, trainer, inputs, train_ds, val_ds, metrics, train_probs)


def train(cfg: DictConfig, callbacks: Sequence = (), run_dir: Path | None = None) -> dict:
    """Train the configured model and fit its decision; return the final validation metrics (``eval_*``).

    With ``tagger_from`` set, the tagger of that checkpoint is kept as it is and only the decision
    is fitted (``training/tagger_from.py``). ``callbacks``: extra ``transformers.TrainerCallback``
    objects (progress hooks, tests). ``run_dir``: where the run is written, if not Hydra's job
    directory (:func:`run_dir_of`; a fold of ``objective_folds`` runs inside it).
    """
    import torch
    from transformers import set_seed

    validate_train_config(cfg)
    quiet_libraries(bool(cfg.get("verbose", False)))
    started = time.time()
    run_dir = Path(run_dir) if run_dir is not None else run_dir_of(cfg)
    # Checked first: a resume or a tagger source that cannot work fails before minutes of data preparation.
    resume = resume_checkpoint(cfg.trainer.get("resume_from_checkpoint"), run_dir / CHECKPOINTS_DIR)
    if cfg.get("tagger_from") and cfg.trainer.get("best_epoch_by") == "decision":
        raise ConfigError("tagger_from and trainer.best_epoch_by=decision: a refit trains no epochs to choose from")
    check_cross_fit(cfg, run_dir)
    tagger_from = resolve_tagger_from(cfg) if cfg.get("tagger_from") else None
    if tagger_from is not None and resume:
        raise ConfigError("tagger_from and trainer.resume_from_checkpoint: a refit trains nothing to resume")
    if tagger_from is None and cfg.features.enabled:
        check_lexicon_features(cfg.model)
    run_dir.mkdir(parents=True, exist_ok=True)
    seed = int(cfg.seed)
    set_seed(seed)
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))

    inputs = load_inputs(cfg)
    if tagger_from is not None and not inputs.val_docs:
        raise ConfigError(f"tagger_from={tagger_from}: the decision is fitted on a validation split, and this "
                          "data split has none")
    model, tokenizer, crf, train_ds, val_ds = build_model_and_windows(cfg, inputs, tagger_from)
    trainer_cfg = OmegaConf.to_container(cfg.trainer, resolve=True)
    pretrained = {}
    # A resumed run's weights come from its checkpoint.
    if tagger_from is None and not resume and cfg.pretrain.mlm_epochs > 0:
        mlm_ds = mlm_windows(inputs, tokenizer, train_ds, cfg.pretrain.texts)
        pretrained = pretrain_encoder(model, tokenizer, mlm_ds, cfg.pretrain, trainer_cfg, seed)
    trainer = build_trainer(trainer_cfg, inputs, model, tokenizer, train_ds, val_ds, run_dir, seed, callbacks, crf)
    metrics, decision = fit(cfg, trainer, inputs, train_ds, val_ds, resume, tagger_from, run_dir)
    metrics.update(pretrained)
    save_run(cfg, trainer, inputs, run_dir, decision, metrics, started, resume, tagger_from,
             bool(trainer_cfg.get("keep_checkpoints")), (len(train_ds), len(val_ds)))
    return metrics


def save_run(cfg: DictConfig, trainer, inputs: TrainingInputs, run_dir: Path, decision, metrics: dict,
             started: float, resume: str | None, tagger_from: Path | None, keep_checkpoints: bool,
             n_windows: tuple[int, int]) -> None:
    """The checkpoint in ``run_dir/model`` (weights, tokenizer, settings with the decision, lexicon)
    and the run's records beside it."""
    model_dir = run_dir / "model"
    # Every rank calls save_model (sharded setups gather weights in it); only rank 0 writes.
    trainer.save_model(str(model_dir))  # the best model: load_best_model_at_end restored it
    if not trainer.is_world_process_zero():
        return
    trainer.processing_class.save_pretrained(str(model_dir))
    data_cfg = OmegaConf.to_container(cfg.data, resolve=True)
    # Absolute, so kpt-evaluate rebuilds the same splits from any working directory.
    data_cfg["corpus_path"] = str(Path(data_cfg["corpus_path"]).resolve())
    CheckpointSettings(inputs.max_chars, inputs.stride, inputs.cleaning, data_cfg, inputs.features.to_dict(),
                       decision=decision.to_dict() if decision is not None else {},
                       head="crf" if getattr(trainer, "crf", None) is not None else "softmax").save(model_dir)
    inputs.lexicon.save(model_dir)
    log.info("model saved to %s", model_dir)
    multirun = is_multirun_job()
    stamp = run_stamp(run_dir_of(cfg), multirun)  # a fold of objective_folds: its trial's
    info = run_info(int(cfg.seed), inputs.prepared.stats(), time.time() - started,
                    {"run_stamp": stamp, "n_train_windows": n_windows[0], "n_validation_windows": n_windows[1],
                     "n_parameters": int(trainer.model.num_parameters()),
                     "best_checkpoint": trainer.state.best_model_checkpoint,
                     "tagger_from": str(tagger_from) if tagger_from is not None else None,
                     "run_dir": str(run_dir), "config": resolved_config(cfg, run_dir, stamp)})
    record = metrics_record(metrics, trainer.state, decision.describe() if decision else None,
                            Path(resume).name if resume else None,
                            DECISION_METRIC if "decision_f1_by_epoch" in metrics else BEST_MODEL_METRIC)
    write_card(cfg, inputs, model_dir, decision, record, tagger_from)
    write_run_record(run_dir, trainer.state.log_history, record, info)
    finish_run(run_dir, keep_checkpoints=keep_checkpoints,
               link_latest=wants_latest_link(run_dir, cfg.experiment_name, multirun))


def write_card(cfg: DictConfig, inputs: TrainingInputs, model_dir: Path, decision, record: dict,
               tagger_from: Path | None) -> Path:
    """``model/README.md`` (:mod:`~keyphrase_tagger.training.model_card`) from the run's final record.

    A kept tagger (``tagger_from``) is described by the model config it was trained with, where its
    run recorded one: this run's ``model`` group was not used."""
    data_cfg = cfg.data
    model = trained_model_config(tagger_from) if tagger_from is not None else None
    model = model or OmegaConf.to_container(cfg.model, resolve=True)
    text = model_card(model=model, head=CheckpointSettings.load(model_dir).head, data_stats=inputs.prepared.stats(),
                      lexicon_features=inputs.features.to_dict(),
                      decision_kind=decision.kind if decision is not None else Argmax.kind,
                      decision_line=decision.describe() if decision is not None else Argmax().describe(),
                      metrics=record, corpus=Path(str(data_cfg.corpus_path)).name,
                      max_documents=data_cfg.get("max_documents"), max_chars=inputs.max_chars,
                      tagger_from=str(tagger_from) if tagger_from is not None else None)
    return write_model_card(model_dir, text)
