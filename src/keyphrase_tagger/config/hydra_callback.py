"""``kpt-train``'s config validated before Hydra creates the run directory (``hydra.callbacks`` in
``configs/train.yaml``)."""

from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from keyphrase_tagger.errors import KeyphraseTaggerError


class ValidateTrainConfig(Callback):
    """Hydra creates the run directory (``output_dir``: ``.hydra/``, the log) before the task starts;
    a config that cannot work ends the command here instead, in one line, with nothing created, and
    an ``output_dir`` that cannot be created is reported as such rather than as Hydra's traceback.

    A multirun's jobs are each validated by :func:`keyphrase_tagger.training.train.train`: the
    swept values exist only per job.
    """

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from keyphrase_tagger.cli.common import fail
        from keyphrase_tagger.config.validate import validate_train_config

        task = OmegaConf.masked_copy(config, [key for key in config if key != "hydra"])
        try:
            validate_train_config(task)
        except KeyphraseTaggerError as err:
            fail(str(err))
