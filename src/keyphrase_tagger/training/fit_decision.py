"""After training: the tagger's probabilities on both splits, then the one decision fit
(:func:`keyphrase_tagger.decision.fit.fit_decision`)."""

from __future__ import annotations

import logging

import numpy as np
from omegaconf import DictConfig, OmegaConf

from keyphrase_tagger.checkpoint import SETTINGS_FILE
from keyphrase_tagger.data.prepare import LabeledDocument
from keyphrase_tagger.decision.base import Decision
from keyphrase_tagger.decision.fit import fit_decision
from keyphrase_tagger.tagger.inputs import (
    PREDICT_BATCH_SIZE,
    dataset_rows,
    plan_windows,
)
from keyphrase_tagger.tagger.inputs import predict_probs as predict_window_probs
from keyphrase_tagger.training.inputs import TrainingInputs

log = logging.getLogger(__name__)


def predict_probs(trainer, ds, docs: list[LabeledDocument], max_chars: int, stride: int) -> list[np.ndarray]:
    """The model's per-document probabilities over ``ds``, the windows of ``docs``: batched and
    merged as the extractor does, so the decision is fitted on the probabilities it will get (the
    CRF's marginals for a :class:`~keyphrase_tagger.training.crf_trainer.CRFTrainer`)."""
    # Without the mixed-precision wrapper the Trainer puts on the model's forward: the shipped
    # checkpoint runs in full precision.
    model = trainer.accelerator.unwrap_model(trainer.model, keep_fp32_wrapper=False).eval()
    lengths = [len(d.document.text) for d in docs]
    return predict_window_probs(model, plan_windows(lengths, max_chars, stride), dataset_rows(ds), lengths,
                                trainer.processing_class.pad_token_id, PREDICT_BATCH_SIZE, trainer.args.device,
                                getattr(trainer, "crf", None))



def decide(cfg: DictConfig, trainer, inputs: TrainingInputs, train_ds, val_ds, metrics: dict,
           train_probs: list[np.ndarray] | None = None) -> Decision:
    """The decision that ships, fitted on validation with the trainer's (best) model's probabilities;
    adds ``eval_tuned_phrase_f1`` to ``metrics``. The phrase rescorer learns from ``train_probs``
    for the training documents where given (``training/cross_fit.py``), else from the model's."""
    log.info("decision: predicting the %d validation windows with the best model", len(val_ds))
    val_probs = predict_probs(trainer, val_ds, inputs.val_docs, inputs.max_chars, inputs.stride)
    rescore_train = []
    if inputs.rescore:
        # The phrase rescorer learns on the training documents as the model saw them: with
        # leave-one-out input features (train_ds holds them) and a leave-one-out lexicon.
        if train_probs is None:
            log.info("decision: predicting the %d training windows for the phrase rescorer", len(train_ds))
            train_probs = predict_probs(trainer, train_ds, inputs.train_docs, inputs.max_chars, inputs.stride)
        rescore_train = list(zip([d.document for d in inputs.train_docs], train_probs, inputs.loo_lexicons))
    decision, tuned_f1 = fit_decision(OmegaConf.to_container(cfg.decision, resolve=True),
                                      [d.document for d in inputs.val_docs], val_probs, inputs.lexicon,
                                      inputs.cleaning, train=rescore_train, show_progress=not trainer.args.disable_tqdm,
                                      threads=cfg.get("threads"))
    metrics["eval_tuned_phrase_f1"] = tuned_f1
    log.info("decision: %s; validation phrase F1 %.4f (argmax, best epoch) -> %.4f (settings and weights: "
             "model/%s, key decision)", decision.describe(), metrics.get("eval_phrase_f1", float("nan")),
             tuned_f1, SETTINGS_FILE)
    return decision
