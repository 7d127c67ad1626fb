"""``trainer.rescorer_cross_fit=k``: the phrase rescorer learns from taggers that did not see the document.

The rescorer is fitted on the training documents, and by default their tagger features come from
the tagger trained on those very documents: it has seen their tags, so its confidence there is
higher than on any document it will be used on. With ``k >= 2`` the training documents are dealt
into ``k`` parts (document ``i`` into part ``i % k``), a tagger of the configured model is trained
on the other parts for each part (validation and best epoch as the main run's), and each document's
probabilities for the rescorer come from the tagger that did not see it. The shipped tagger is
still the one trained on every training document; the cross-fitted taggers are removed after use.
Cost: ``k - 1`` more trainings on the whole training split.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
from omegaconf import DictConfig, OmegaConf

from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.training.fit_decision import predict_probs
from keyphrase_tagger.training.inputs import TrainingInputs

log = logging.getLogger(__name__)

CROSS_FIT_DIR = "cross_fit"  # under the run directory while the cross-fitted taggers train


def cross_fit_folds(cfg: DictConfig) -> int:
    """``trainer.rescorer_cross_fit`` checked: 0 (off) or the number of parts, at least 2."""
    k = int(cfg.trainer.get("rescorer_cross_fit") or 0)
    if k == 1 or k < 0:
        raise ConfigError(f"trainer.rescorer_cross_fit={k}: 0 (the tagger's own probabilities) or a number of "
                          "parts >= 2")
    if k and cfg.decision.kind != "rescorer":
        raise ConfigError(f"trainer.rescorer_cross_fit={k}: only the phrase rescorer (decision=rescorer) learns "
                          f"from training documents, not decision={cfg.decision.kind}")
    return k


def check_cross_fit(cfg: DictConfig, run_dir: Path) -> None:
    """What :func:`cross_fitted_probs` would refuse, checked before the run prepares or trains anything."""
    if not cross_fit_folds(cfg):
        return
    if cfg.get("tagger_from"):
        raise ConfigError("tagger_from and trainer.rescorer_cross_fit: a refit keeps its tagger and trains no others")
    if (run_dir / CROSS_FIT_DIR).exists():  # not ours to remove: it was there before the run
        raise ConfigError(f"{run_dir / CROSS_FIT_DIR} exists already: remove it or choose another output_dir")


def parts_of(n_docs: int, k: int) -> list[np.ndarray]:
    """The training documents' indices dealt into ``k`` parts: document ``i`` into part ``i % k``."""
    if n_docs < k:
        raise ConfigError(f"trainer.rescorer_cross_fit={k}: the training split has only {n_docs} documents")
    return [np.arange(p, n_docs, k) for p in range(k)]


def cross_fitted_probs(cfg: DictConfig, inputs: TrainingInputs, train_ds, val_ds, run_dir: Path, seed: int,
                       k: int) -> list[np.ndarray]:
    """Each training document's probabilities from a tagger trained on the other parts of the
    training split (see the module); ``train_ds`` and ``val_ds`` are the main run's windows."""
    check_cross_fit(cfg, run_dir)
    work = run_dir / CROSS_FIT_DIR
    doc_of_window = np.asarray(train_ds["doc_index"])
    probs: list[np.ndarray | None] = [None] * len(inputs.train_docs)
    try:
        for p, held in enumerate(parts_of(len(inputs.train_docs), k)):
            seen = np.isin(doc_of_window, held)
            trainer = train_without(cfg, inputs, train_ds.select(np.flatnonzero(~seen)), val_ds, work / f"part-{p}",
                                    seed + 1 + p)
            held_docs = [inputs.train_docs[i] for i in held]
            log.info("rescorer_cross_fit: part %d/%d, %d documents predicted by a tagger trained on the other %d",
                     p + 1, k, len(held), len(inputs.train_docs) - len(held))
            for i, doc_probs in zip(held, predict_probs(trainer, train_ds.select(np.flatnonzero(seen)), held_docs,
                                                        inputs.max_chars, inputs.stride)):
                probs[i] = doc_probs
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return probs


def train_without(cfg: DictConfig, inputs: TrainingInputs, windows, val_ds, work: Path, seed: int):
    """A Trainer whose model (the configured one, new) is trained on ``windows`` only, its best
    epoch chosen on the validation split as the main run's; logs and checkpoints under ``work``."""
    from transformers import set_seed

    from keyphrase_tagger.tagger.build import build_model_and_tokenizer
    from keyphrase_tagger.tagger.crf import LinearChainCRF
    from keyphrase_tagger.training.train import build_trainer

    set_seed(seed)
    features = inputs.features
    model, tokenizer = build_model_and_tokenizer(cfg.model, [d.document.text for d in inputs.train_docs],
                                                 inputs.max_chars,
                                                 n_token_types=features.n_types if features.enabled else None)
    model.accepts_loss_kwargs = False  # as the main run's model (train.build_model_and_windows)
    crf = LinearChainCRF() if cfg.model.head == "crf" else None
    trainer_cfg = OmegaConf.to_container(cfg.trainer, resolve=True)
    trainer_cfg.update(report_to=[], best_epoch_by="tagger", resume_from_checkpoint=None)
    trainer = build_trainer(trainer_cfg, inputs, model, tokenizer, windows, val_ds, work, seed, (), crf)
    trainer.train()
    return trainer
