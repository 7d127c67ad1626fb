"""``train(cfg)``: corpus -> labeled splits -> windows -> HF Trainer -> best model in ``run_dir/model``."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from keyphrase_tagger.candidates import needs_word_stats
from keyphrase_tagger.checkpoint import SETTINGS_FILE, CheckpointSettings
from keyphrase_tagger.config.validate import validate_train_config
from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.data.dataset import load_prepared
from keyphrase_tagger.data.prepare import LabeledDocument, PreparedCorpus
from keyphrase_tagger.encoding import CharEncoder
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.evaluation.scoring import score_documents
from keyphrase_tagger.lexicon import Lexicon, build_lexicon
from keyphrase_tagger.lexicon_features import (
    LexiconFeatureConfig,
    LexiconFeaturizer,
    leave_one_out_lexicons,
    training_type_ids,
)
from keyphrase_tagger.logging_setup import quiet_libraries
from keyphrase_tagger.modeling.build import build_model_and_tokenizer
from keyphrase_tagger.modeling.inputs import (
    PREDICT_BATCH_SIZE,
    WINDOW_POSITION,
    dataset_rows,
    documents_dataset,
    logits_to_probs,
    plan_windows,
    windows_dataset,
)
from keyphrase_tagger.modeling.inputs import predict_probs as predict_window_probs
from keyphrase_tagger.recipe import DecodingSettings, fits_decision, tune_decoding
from keyphrase_tagger.training.arguments import CHECKPOINTS_DIR, resume_checkpoint, training_arguments
from keyphrase_tagger.training.run_info import run_info
from keyphrase_tagger.training.run_record import (
    finish_run,
    is_multirun_job,
    metrics_record,
    run_stamp,
    wants_latest_link,
    write_run_record,
)

log = logging.getLogger(__name__)


def make_compute_metrics(docs: list[LabeledDocument], max_chars: int, stride: int, cleaning: CleaningConfig):
    """Document-level metrics for the Trainer: windows merged back before anything is counted."""

    def compute_metrics(eval_pred) -> dict[str, float]:
        logits = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
        probs = logits_to_probs(np.asarray(logits), [len(d.document.text) for d in docs], max_chars, stride)
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


def predict_probs(trainer, ds, docs: list[LabeledDocument], max_chars: int, stride: int) -> list[np.ndarray]:
    """The model's per-document probabilities over ``ds``, the windows of ``docs``: batched and
    merged as the extractor does, so the decision is fitted on the probabilities it will get."""
    # Without the mixed-precision wrapper the Trainer puts on the model's forward: the shipped
    # checkpoint runs in full precision.
    model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False).eval()
    lengths = [len(d.document.text) for d in docs]
    return predict_window_probs(model, plan_windows(lengths, max_chars, stride), dataset_rows(ds), lengths,
                                trainer.processing_class.pad_token_id, PREDICT_BATCH_SIZE, trainer.args.device)


@dataclass
class TrainingInputs:
    """What training and the decision read, built once from the config: the labeled splits, the
    training lexicon and each training document's lexicon without it."""

    prepared: PreparedCorpus
    train_docs: list[LabeledDocument]
    val_docs: list[LabeledDocument]
    max_chars: int
    stride: int
    cleaning: CleaningConfig
    features: LexiconFeatureConfig
    lexicon: Lexicon
    loo_lexicons: list[Lexicon] | None
    rescore: bool


def load_inputs(cfg: DictConfig) -> TrainingInputs:
    """The corpus split and labeled (the prepared dataset, see :func:`load_prepared`), and the lexicons
    the input features and the rescorer read."""
    # Under torchrun every process loads the documents; one writes the dataset.
    prepared = load_prepared(cfg.data, write=os.environ.get("RANK", "0") == "0")
    train_docs, val_docs = prepared.split("train"), prepared.split("validation")
    max_docs = cfg.data.get("max_documents")
    if max_docs:  # smoke runs: a handful of documents
        train_docs, val_docs = train_docs[:max_docs], val_docs[: max(1, max_docs // 2)]
    if not train_docs:
        raise ConfigError("the training split is empty: the corpus needs more documents for this split config")
    features = LexiconFeatureConfig.from_dict(cfg.features)
    rescore = cfg.decision.kind == "rescorer"
    # Word statistics only where the rescorer's word features read them.
    with_words = rescore and needs_word_stats(cfg.decision.rescore_features)
    lexicon = build_lexicon((d.document for d in train_docs), with_words=with_words)
    # Each training document's lexicon without it: shared by the input features and the rescorer
    # (the same objects, so each one's matcher is built once).
    loo_lexicons = (leave_one_out_lexicons(lexicon, [d.document for d in train_docs])
                    if features.enabled or rescore else None)
    return TrainingInputs(prepared, train_docs, val_docs, int(cfg.data.window.max_chars), int(cfg.data.window.stride),
                          CleaningConfig.from_dict(cfg.data.get("cleaning")), features, lexicon, loo_lexicons, rescore)


def build_windows(inputs: TrainingInputs, tokenizer):
    """``(train_ds, val_ds)``: the windows of both splits (``modeling.inputs.windows_dataset``), with
    the lexicon input features where the model reads them: leave-one-out on the training documents."""
    train_docs, val_docs, features = inputs.train_docs, inputs.val_docs, inputs.features
    train_types = val_types = None
    if features.enabled:
        train_types = training_type_ids(inputs.lexicon, [d.document for d in train_docs], features,
                                        inputs.loo_lexicons)
        featurizer = LexiconFeaturizer(inputs.lexicon, features)
        val_types = [featurizer.type_ids(d.document.text) for d in val_docs]
    encoder = CharEncoder(tokenizer)
    train_ds, val_ds = (
        windows_dataset(documents_dataset([d.document.text for d in docs], [d.tags for d in docs], types),
                        encoder, inputs.max_chars, inputs.stride)
        for docs, types in ((train_docs, train_types), (val_docs, val_types)))
    log.info("%d training windows from %d documents, %d validation windows from %d documents",
             len(train_ds), len(train_docs), len(val_ds), len(val_docs))
    return train_ds, val_ds


def build_model_and_windows(cfg: DictConfig, inputs: TrainingInputs):
    """``(model, tokenizer, train_ds, val_ds)``: the configured model and :func:`build_windows`."""
    features = inputs.features
    model, tokenizer = build_model_and_tokenizer(cfg.model, [d.document.text for d in inputs.train_docs],
                                                 inputs.max_chars,
                                                 n_token_types=features.n_types if features.enabled else 2)
    # BERT's forward takes **kwargs but its loss is a plain per-batch mean that ignores
    # num_items_in_batch; left on, the Trainer would multiply that mean by the world size under DDP
    # (gradients and eval_loss twice too large with 2 processes) and skip the division by the
    # gradient-accumulation steps.
    model.accepts_loss_kwargs = False
    return model, tokenizer, *build_windows(inputs, tokenizer)


def build_trainer(trainer_cfg: dict, inputs: TrainingInputs, model, tokenizer, train_ds, val_ds, run_dir: Path,
                  seed: int, callbacks: Sequence):
    """The ``Trainer``: evaluation and best-model selection by document phrase F1 where there is a
    validation split, early stopping where configured."""
    from transformers import DataCollatorForTokenClassification, EarlyStoppingCallback, Trainer

    args = training_arguments(trainer_cfg, run_dir, seed)
    has_val = len(inputs.val_docs) > 0
    if not has_val:
        log.warning("no validation documents: training without evaluation or best-model selection")
        args.eval_strategy = "no"
        args.load_best_model_at_end = False
    callbacks = list(callbacks)
    patience = trainer_cfg.get("early_stopping_patience")
    if patience and has_val:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=int(patience)))
    return Trainer(
        model=model,
        args=args,
        train_dataset=train_ds.remove_columns(list(WINDOW_POSITION)),
        eval_dataset=val_ds.remove_columns(list(WINDOW_POSITION)) if has_val else None,
        data_collator=DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=8),
        processing_class=tokenizer,
        compute_metrics=(make_compute_metrics(inputs.val_docs, inputs.max_chars, inputs.stride, inputs.cleaning)
                         if has_val else None),
        callbacks=callbacks,
    )


def decide(cfg: DictConfig, trainer, inputs: TrainingInputs, train_ds, val_ds, metrics: dict) -> DecodingSettings:
    """The decision that ships, chosen on validation with the best model's probabilities (the O
    prior and gazetteer fusion, or the phrase rescorer); adds ``eval_tuned_phrase_f1`` to ``metrics``."""
    log.info("decision: predicting the %d validation windows with the best model", len(val_ds))
    val_probs = predict_probs(trainer, val_ds, inputs.val_docs, inputs.max_chars, inputs.stride)
    rescore_train = []
    if inputs.rescore:
        # The phrase rescorer learns on the training documents as the model saw them: with
        # leave-one-out input features (train_ds holds them) and a leave-one-out lexicon.
        log.info("decision: predicting the %d training windows for the phrase rescorer", len(train_ds))
        train_probs = predict_probs(trainer, train_ds, inputs.train_docs, inputs.max_chars, inputs.stride)
        rescore_train = list(zip([d.document for d in inputs.train_docs], train_probs, inputs.loo_lexicons))
    decoding, tuned_f1 = tune_decoding([d.document for d in inputs.val_docs], val_probs, inputs.lexicon,
                                       inputs.cleaning, OmegaConf.to_container(cfg.decision, resolve=True),
                                       train=rescore_train, show_progress=not trainer.args.disable_tqdm)
    metrics["eval_tuned_phrase_f1"] = tuned_f1
    log.info("decision: %s; validation phrase F1 %.4f (argmax, best epoch) -> %.4f (settings and weights: "
             "model/%s, key decoding)", decoding.describe(), metrics.get("eval_phrase_f1", float("nan")),
             tuned_f1, SETTINGS_FILE)
    return decoding


def train(cfg: DictConfig, callbacks: Sequence = ()) -> dict:
    """Train the configured model; return the final validation metrics (``eval_*``).

    ``callbacks``: extra ``transformers.TrainerCallback`` objects (progress hooks, tests).
    """
    import torch
    from transformers import set_seed

    validate_train_config(cfg)
    quiet_libraries(bool(cfg.get("verbose", False)))
    started = time.time()
    run_dir = run_dir_of(cfg)
    # Checked first: a resume that cannot work fails before minutes of data preparation.
    resume = resume_checkpoint(cfg.trainer.get("resume_from_checkpoint"), run_dir / CHECKPOINTS_DIR)
    run_dir.mkdir(parents=True, exist_ok=True)
    seed = int(cfg.seed)
    set_seed(seed)
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))

    inputs = load_inputs(cfg)
    model, tokenizer, train_ds, val_ds = build_model_and_windows(cfg, inputs)
    trainer_cfg = OmegaConf.to_container(cfg.trainer, resolve=True)
    trainer = build_trainer(trainer_cfg, inputs, model, tokenizer, train_ds, val_ds, run_dir, seed, callbacks)
    train_output = trainer.train(resume_from_checkpoint=resume)
    metrics = {"train_" + k if not k.startswith("train_") else k: v for k, v in train_output.metrics.items()}
    has_val = len(inputs.val_docs) > 0
    if has_val:
        metrics.update(trainer.evaluate())
    decision = None
    if has_val and fits_decision(cfg.decision):
        decision = decide(cfg, trainer, inputs, train_ds, val_ds, metrics)

    model_dir = run_dir / "model"
    # Every rank calls save_model (sharded setups gather weights in it); only rank 0 writes.
    trainer.save_model(str(model_dir))  # the best model: load_best_model_at_end restored it
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(model_dir))
        data_cfg = OmegaConf.to_container(cfg.data, resolve=True)
        # Absolute, so kpt-evaluate rebuilds the same splits from any working directory.
        data_cfg["corpus_path"] = str(Path(data_cfg["corpus_path"]).resolve())
        CheckpointSettings(inputs.max_chars, inputs.stride, inputs.cleaning, data_cfg, inputs.features.to_dict(),
                           decoding=(decision or DecodingSettings()).to_dict()).save(model_dir)
        inputs.lexicon.save(model_dir)
        log.info("model saved to %s", model_dir)
        multirun = is_multirun_job()
        stamp = run_stamp(run_dir, multirun)
        info = run_info(seed, inputs.prepared.stats(), time.time() - started,
                        {"run_stamp": stamp, "n_train_windows": len(train_ds), "n_validation_windows": len(val_ds),
                         "n_parameters": int(model.num_parameters()),
                         "best_checkpoint": trainer.state.best_model_checkpoint,
                         "run_dir": str(run_dir), "config": resolved_config(cfg, run_dir, stamp)})
        record = metrics_record(metrics, trainer.state, decision.describe() if decision else None,
                                Path(resume).name if resume else None)
        write_run_record(run_dir, trainer.state.log_history, record, info)
        finish_run(run_dir, keep_checkpoints=bool(trainer_cfg.get("keep_checkpoints")),
                   link_latest=wants_latest_link(run_dir, cfg.experiment_name, multirun))
    return metrics
