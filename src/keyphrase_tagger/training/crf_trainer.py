"""``model.head=crf``: the Trainer that trains a linear-chain CRF (``tagger/crf.py``) over the token
classifier's logits, its transitions optimised together with the model.

The CRF stays outside the model, so the model's ``model.safetensors`` is a plain
``BertForTokenClassification`` (its logits are the CRF's emissions) and the CRF's parameters are
written beside it as ``crf.safetensors``: in every intermediate checkpoint and in the final
``model/`` (:meth:`CRFTrainer._save`). They are read back where the Trainer reads the model's: the
best checkpoint at the end (``load_best_model_at_end``) and the checkpoint a run resumes from.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import Trainer

from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.tagger.crf import (
    WEIGHTS_FILE,
    LinearChainCRF,
    load_crf,
    repair_iob2,
    save_crf,
)
from keyphrase_tagger.tagger.inputs import IGNORE_INDEX


def crf_loss(crf: LinearChainCRF, emissions: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The CRF's negative log-likelihood of the windows' gold tags per character of the batch.

    The chain runs over the characters (``labels != -100``: not ``[CLS]``, ``[SEP]`` or padding). A
    window cut inside a phrase starts with ``I-KP``, a path the IOB2 constraint forbids: it is read as
    ``B-KP`` (:func:`repair_iob2`). Divided by the characters rather than the windows, the loss is on
    the scale of the softmax head's per-character cross-entropy.
    """
    mask = labels != IGNORE_INDEX
    tags = repair_iob2(labels, mask)
    nll = crf.neg_log_likelihood(emissions.float(), tags, mask, reduction="sum")
    return nll / mask.sum().clamp(min=1)


class CRFTrainer(Trainer):
    """A ``Trainer`` whose loss is :func:`crf_loss` over the model's logits; ``crf`` is trained with
    the model (its own parameter group, no weight decay) and saved and restored with it."""

    # compute_loss returns a per-batch mean: the Trainer divides it by the accumulation steps.
    loss_is_scaled_for_ga = False

    def __init__(self, *args, crf: LinearChainCRF, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.crf = crf.to(self.args.device)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)  # the caller's batch keeps its labels (prediction_step reads them)
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss = crf_loss(self.crf, outputs.logits, labels)
        return (loss, outputs) if return_outputs else loss

    def create_optimizer(self, model=None):
        optimizer = super().create_optimizer(model)
        params = list(self.crf.parameters())
        if not any(p is params[0] for group in optimizer.param_groups for p in group["params"]):
            optimizer.add_param_group({"params": params, "weight_decay": 0.0})
        return optimizer

    def training_step(self, model, inputs, num_items_in_batch=None):
        loss = super().training_step(model, inputs, num_items_in_batch)
        if self.accelerator.num_processes > 1:  # DDP averages the model's gradients, not the CRF's
            for param in self.crf.parameters():
                torch.distributed.all_reduce(param.grad)  # a sum: gloo has no average
                param.grad.div_(self.accelerator.num_processes)
        return loss

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        super()._save(output_dir, state_dict)
        if self.args.should_save:
            save_crf(self.crf, output_dir if output_dir is not None else self.args.output_dir)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        super()._load_from_checkpoint(resume_from_checkpoint, model)
        self.load_crf_from(resume_from_checkpoint)

    def _load_best_model(self) -> None:
        super()._load_best_model()
        self.load_crf_from(self.state.best_model_checkpoint)

    def load_crf_from(self, checkpoint: str | Path) -> None:
        """The CRF's parameters from ``checkpoint/crf.safetensors``, copied in place (the optimizer
        and the metrics hold this module)."""
        path = Path(checkpoint) / WEIGHTS_FILE
        if not path.is_file():
            raise ConfigError(f"{path}: missing (the CRF of model.head=crf; was {checkpoint} trained with "
                              "model.head=softmax?)")
        self.crf.load_state_dict(load_crf(checkpoint).state_dict())
