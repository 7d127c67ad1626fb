"""Masked-language-model pretraining of the tagger's encoder on the training split's windows,
before fine-tuning (``pretrain`` in ``configs/train.yaml``; ``pretrain.mlm_epochs: 0``: none).

The encoder is copied into ``AutoModelForMaskedLM`` built from the tagger's own config, trained
there by the ``Trainer`` with ``DataCollatorForLanguageModeling`` (BERT's masking: 80 % ``[MASK]``,
10 % a random character, 10 % kept), and copied back; the token classifier's head is left as it
was built. With ``pretrain.texts: train`` only the training split's texts are read, so a test or
validation document never reaches the model before it is scored; ``all`` adds the unlabelled text
of the validation and test documents (transductive: scores on those splits are then those of a
model that has read their text, never their lists).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping

log = logging.getLogger(__name__)

# pretrain.texts: the training split's windows only, or those of every document of the corpus.
PRETRAIN_TEXTS = ("train", "all")

# What the pretraining takes from the run's ``trainer`` config, so that it runs where and as the
# fine-tuning does (device, precision, batches, processes); its schedule and length are its own.
SHARED_TRAINER_KEYS = ("use_cpu", "bf16", "fp16", "per_device_train_batch_size", "gradient_accumulation_steps",
                       "dataloader_num_workers", "ddp_backend", "disable_tqdm")


def pretrain_encoder(model, tokenizer, train_ds, pretrain_cfg: Mapping, trainer_cfg: Mapping, seed: int) -> dict:
    """Train ``model``'s encoder (its ``base_model``) as a masked language model on the
    ``input_ids`` of ``train_ds`` (a windows dataset:
    :func:`~keyphrase_tagger.training.inputs.mlm_windows`) for ``pretrain_cfg.mlm_epochs`` epochs at
    ``pretrain_cfg.learning_rate`` (warmed up over ``pretrain_cfg.warmup_steps``), masking
    ``pretrain_cfg.mlm_probability`` of the characters, with :data:`SHARED_TRAINER_KEYS` of
    ``trainer_cfg``; ``{}`` where ``mlm_epochs`` is 0, else the Trainer's training metrics,
    prefixed ``mlm_``."""
    epochs = float(pretrain_cfg["mlm_epochs"])
    if epochs <= 0:
        return {}
    from transformers import (
        AutoModelForMaskedLM,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    mlm = AutoModelForMaskedLM.from_config(model.config)
    mlm.base_model.load_state_dict(model.base_model.state_dict())
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=float(pretrain_cfg["mlm_probability"]),
                                               pad_to_multiple_of=8)
    # The MLM run keeps nothing on disk: its weights end in the tagger, which the run saves.
    with tempfile.TemporaryDirectory(prefix="kpt-mlm-") as scratch:
        shared = {k: trainer_cfg[k] for k in SHARED_TRAINER_KEYS if k in trainer_cfg}
        args = TrainingArguments(output_dir=scratch, num_train_epochs=epochs, learning_rate=float(pretrain_cfg["learning_rate"]),
                                 warmup_steps=float(pretrain_cfg["warmup_steps"]), save_strategy="no",
                                 eval_strategy="no", logging_strategy="epoch", report_to=[], seed=seed, **shared)
        trainer = Trainer(model=mlm, args=args, train_dataset=train_ds.select_columns(["input_ids"]),
                          data_collator=collator)
        metrics = trainer.train().metrics
    model.base_model.load_state_dict(mlm.base_model.state_dict())
    log.info("masked-language-model pretraining: %g epochs, training loss %.3f", epochs, metrics.get("train_loss", float("nan")))
    return {f"mlm_{k}": v for k, v in metrics.items()}
