"""``train(cfg)``: corpus -> labeled splits -> windows -> HF Trainer -> best model in ``run_dir/model``."""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from keyphrase_tagger.candidates import GROUPS, needs_word_stats
from keyphrase_tagger.checkpoint import CheckpointSettings
from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.data.prepare import LabeledDocument, prepare_corpus
from keyphrase_tagger.encoding import CharEncoder
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.evaluation.scoring import score_documents
from keyphrase_tagger.lexicon import build_lexicon
from keyphrase_tagger.lexicon_features import (
    LexiconFeatureConfig,
    LexiconFeaturizer,
    leave_one_out_lexicons,
    training_type_ids,
)
from keyphrase_tagger.modeling.build import build_model_and_tokenizer
from keyphrase_tagger.modeling.features import windows_dataset
from keyphrase_tagger.recipe import DecodingSettings, tune_decoding
from keyphrase_tagger.training.arguments import CHECKPOINTS_DIR, training_arguments
from keyphrase_tagger.training.run_info import run_info
from keyphrase_tagger.windows import merge_windows, window_bounds

log = logging.getLogger(__name__)


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def window_logits_to_probs(logits: np.ndarray, docs: list[LabeledDocument], max_chars: int, stride: int) -> list[np.ndarray]:
    """Trainer predictions (windows in dataset order, padded) -> per-document probabilities."""
    probs, row = [], 0
    for d in docs:
        bounds = window_bounds(len(d.document.text), max_chars, stride)
        values = [softmax(logits[row + j, 1 : 1 + e - s].astype(np.float64)) for j, (s, e) in enumerate(bounds)]
        row += len(bounds)
        probs.append(merge_windows(len(d.document.text), bounds, values))
    return probs


def make_compute_metrics(docs: list[LabeledDocument], max_chars: int, stride: int, cleaning: CleaningConfig):
    """Document-level metrics for the Trainer: windows merged back before anything is counted."""

    def compute_metrics(eval_pred) -> dict[str, float]:
        logits = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
        probs = window_logits_to_probs(np.asarray(logits), docs, max_chars, stride)
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


def resolved_config(cfg: DictConfig, run_dir: Path) -> dict:
    """The config with every interpolation resolved; ``.hydra/config.yaml`` keeps them unresolved
    (``${now:...}`` would name another time), so this records what the run actually used."""
    resolved = OmegaConf.to_container(cfg, resolve=True)
    resolved["output_dir"] = str(run_dir)  # in a multirun, Hydra's job directory
    return resolved


def write_log_csv(log_history: list[dict], path: Path) -> None:
    keys = sorted({k for row in log_history for k in row})
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(log_history)


def resume_checkpoint(resume: object, checkpoints_dir: Path) -> str | None:
    """``trainer.resume_from_checkpoint`` -> the checkpoint directory to resume from (``None``: start fresh).

    ``true`` means the last checkpoint of this run directory; a missing one is a user error, not a
    silent fresh start, so that a mistyped ``output_dir`` cannot restart a long run from scratch.
    """
    if resume in (None, False):
        return None
    from transformers.trainer_utils import get_last_checkpoint

    if resume is True:
        last = get_last_checkpoint(str(checkpoints_dir)) if checkpoints_dir.is_dir() else None
        if last is None:
            raise ConfigError(f"trainer.resume_from_checkpoint=true: no checkpoint under {checkpoints_dir} "
                              "(pass the interrupted run's output_dir=)")
        return last
    path = Path(str(resume))
    if not (path / "trainer_state.json").is_file():
        raise ConfigError(f"trainer.resume_from_checkpoint={resume}: not a Trainer checkpoint directory "
                          "(expected <run>/checkpoints/checkpoint-<step>)")
    return str(path)


def train(cfg: DictConfig, callbacks: Sequence = ()) -> dict:
    """Train the configured model; return the final validation metrics (``eval_*``).

    ``callbacks``: extra ``transformers.TrainerCallback`` objects (progress hooks, tests).
    """
    import torch
    from transformers import DataCollatorForTokenClassification, EarlyStoppingCallback, Trainer, set_seed

    started = time.time()
    run_dir = run_dir_of(cfg)
    # Checked first: a resume that cannot work fails before minutes of data preparation.
    resume = resume_checkpoint(cfg.trainer.get("resume_from_checkpoint"), run_dir / CHECKPOINTS_DIR)
    run_dir.mkdir(parents=True, exist_ok=True)
    seed = int(cfg.seed)
    set_seed(seed)
    if cfg.get("threads"):
        torch.set_num_threads(int(cfg.threads))

    prepared = prepare_corpus(cfg.data)
    train_docs, val_docs = prepared.split("train"), prepared.split("validation")
    max_docs = cfg.data.get("max_documents")
    if max_docs:  # smoke runs: a handful of documents
        train_docs, val_docs = train_docs[:max_docs], val_docs[: max(1, max_docs // 2)]
    if not train_docs:
        raise ConfigError("the training split is empty: the corpus needs more documents for this split config")
    max_chars, stride = int(cfg.data.window.max_chars), int(cfg.data.window.stride)
    cleaning = CleaningConfig.from_dict(cfg.data.get("cleaning"))

    features = LexiconFeatureConfig.from_dict(cfg.model.get("lexicon_features"))
    decoding_group = cfg.model.get("decoding") or {}
    rescore = bool(decoding_group.get("rescore"))
    # Word statistics only where the rescorer's word features read them.
    with_words = rescore and needs_word_stats(decoding_group.get("rescore_features", GROUPS))
    lexicon = build_lexicon((d.document for d in train_docs), with_words=with_words)
    # Each training document's lexicon without it: shared by the input features and the rescorer
    # (the same objects, so each one's matcher is built once).
    loo_lexicons = (leave_one_out_lexicons(lexicon, [d.document for d in train_docs])
                    if features.enabled or rescore else None)
    train_types = val_types = None
    if features.enabled:
        train_types = training_type_ids(lexicon, [d.document for d in train_docs], features, loo_lexicons)
        featurizer = LexiconFeaturizer(lexicon, features)
        val_types = [featurizer.type_ids(d.document.text) for d in val_docs]

    model, tokenizer = build_model_and_tokenizer(cfg.model, [d.document.text for d in train_docs], max_chars,
                                                 n_token_types=features.n_types if features.enabled else 2)
    # BERT's forward takes **kwargs but its loss is a plain per-batch mean that ignores
    # num_items_in_batch; left on, the Trainer would multiply that mean by the world size under DDP
    # (gradients and eval_loss twice too large with 2 processes) and skip the division by the
    # gradient-accumulation steps.
    model.accepts_loss_kwargs = False
    encoder = CharEncoder(tokenizer)
    train_ds = windows_dataset([d.document.text for d in train_docs], encoder, max_chars, stride,
                               [d.tags for d in train_docs], train_types)
    val_ds = windows_dataset([d.document.text for d in val_docs], encoder, max_chars, stride,
                             [d.tags for d in val_docs], val_types)
    log.info("%d training windows from %d documents, %d validation windows from %d documents",
             len(train_ds), len(train_docs), len(val_ds), len(val_docs))

    trainer_cfg = OmegaConf.to_container(cfg.trainer, resolve=True)
    args = training_arguments(trainer_cfg, run_dir, seed)
    has_val = len(val_docs) > 0
    if not has_val:
        log.warning("no validation documents: training without evaluation or best-model selection")
        args.eval_strategy = "no"
        args.load_best_model_at_end = False
    callbacks = list(callbacks)
    patience = trainer_cfg.get("early_stopping_patience")
    if patience and has_val:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=int(patience)))
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_ds.remove_columns(["doc_index", "window_start"]),
        eval_dataset=val_ds.remove_columns(["doc_index", "window_start"]) if has_val else None,
        data_collator=DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=8),
        processing_class=tokenizer,
        compute_metrics=make_compute_metrics(val_docs, max_chars, stride, cleaning) if has_val else None,
        callbacks=callbacks,
    )
    train_output = trainer.train(resume_from_checkpoint=resume)
    metrics = {"train_" + k if not k.startswith("train_") else k: v for k, v in train_output.metrics.items()}
    if has_val:
        metrics.update(trainer.evaluate())
    decoding = DecodingSettings()
    if has_val and cfg.model.get("decoding"):
        # The best model's validation probabilities choose the O prior and gazetteer fusion.
        predictions = trainer.predict(val_ds.remove_columns(["doc_index", "window_start"])).predictions
        logits = predictions[0] if isinstance(predictions, tuple) else predictions
        val_probs = window_logits_to_probs(np.asarray(logits), val_docs, max_chars, stride)
        decoding_cfg = OmegaConf.to_container(cfg.model.decoding, resolve=True)
        rescore_train = []
        if rescore:
            # The phrase rescorer learns on the training documents as the model saw them: with
            # leave-one-out input features (train_ds holds them) and a leave-one-out lexicon.
            predictions = trainer.predict(train_ds.remove_columns(["doc_index", "window_start"])).predictions
            logits = predictions[0] if isinstance(predictions, tuple) else predictions
            train_probs = window_logits_to_probs(np.asarray(logits), train_docs, max_chars, stride)
            documents = [d.document for d in train_docs]
            rescore_train = list(zip(documents, train_probs, loo_lexicons))
        decoding, tuned_f1 = tune_decoding([d.document for d in val_docs], val_probs, lexicon, cleaning,
                                           decoding_cfg, train=rescore_train)
        metrics["eval_tuned_phrase_f1"] = tuned_f1
        log.info("decoding chosen on validation: %s (phrase F1 %.4f -> %.4f)", decoding.to_dict(),
                 metrics.get("eval_phrase_f1", float("nan")), tuned_f1)

    model_dir = run_dir / "model"
    # Every rank calls save_model (sharded setups gather weights in it); only rank 0 writes.
    trainer.save_model(str(model_dir))  # the best model: load_best_model_at_end restored it
    if trainer.is_world_process_zero():
        tokenizer.save_pretrained(str(model_dir))
        data_cfg = OmegaConf.to_container(cfg.data, resolve=True)
        # Absolute, so kpt-evaluate rebuilds the same splits from any working directory.
        data_cfg["corpus_path"] = str(Path(data_cfg["corpus_path"]).resolve())
        CheckpointSettings(max_chars, stride, cleaning, data_cfg, features.to_dict(),
                           decoding=decoding.to_dict()).save(model_dir)
        lexicon.save(model_dir)
        (run_dir / "logs").mkdir(exist_ok=True)
        write_log_csv(trainer.state.log_history, run_dir / "logs" / "log_history.csv")
        (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2), encoding="utf-8")
        info = run_info(seed, prepared.stats(), time.time() - started,
                        {"n_train_windows": len(train_ds), "n_validation_windows": len(val_ds),
                         "n_parameters": int(model.num_parameters()),
                         "best_checkpoint": trainer.state.best_model_checkpoint,
                         "run_dir": str(run_dir), "config": resolved_config(cfg, run_dir)})
        (run_dir / "run_info.json").write_text(json.dumps(info, ensure_ascii=False, indent=2), encoding="utf-8")
        log.info("model saved to %s", model_dir)
    return metrics
