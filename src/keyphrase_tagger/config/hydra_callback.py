"""``kpt-train``'s config validated before Hydra creates the run directory (``hydra.callbacks`` in
``configs/train.yaml``), and the one fact a job needs to report its own errors: whether it runs in a
process of its own."""

from __future__ import annotations

import os
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from keyphrase_tagger.errors import KeyphraseTaggerError

BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"
_job_apart = False  # set in a job's process when that process did not start the sweep


def job_runs_apart() -> bool:
    """Whether this process runs a multirun job that a launcher started apart from the command
    (submitit, on this machine or a cluster): an error here must travel back to the launching
    process as the job's failure, since an exit would only end this process."""
    return _job_apart


def sweep_job_overrides(config: DictConfig) -> list[list[str]]:
    """Each job's overrides as the basic sweeper expands the command line (and ``hydra.sweeper.params``);
    ``[]`` under another sweeper, whose jobs only exist as it runs."""
    if config.hydra.sweeper.get("_target_") != BASIC_SWEEPER:
        return []
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.override_parser.overrides_parser import OverridesParser

    params = config.hydra.sweeper.get("params") or {}
    arguments = [f"{key}={value}" for key, value in params.items()] + [str(o) for o in config.hydra.overrides.task]
    # The config loader resolves glob(...) sweeps of config groups.
    parser = OverridesParser.create(config_loader=GlobalHydra.instance().config_loader())
    return [job for batch in BasicSweeper.split_arguments(parser.parse_overrides(arguments), None) for job in batch]


def _task_part(config: DictConfig) -> DictConfig:
    return OmegaConf.masked_copy(config, [key for key in config if key != "hydra"])


class ValidateTrainConfig(Callback):
    """Hydra creates the run directory (``output_dir``: ``.hydra/``, the log) before the task starts;
    a config that cannot work ends the command here instead, in one line, with nothing created, and
    an ``output_dir`` that cannot be created is reported as such rather than as Hydra's traceback.

    A multirun composes every job's config first and checks its values
    (:func:`~keyphrase_tagger.config.validate.check_train_config`: types, ranges, rules across keys),
    before the sweep directory exists or a job is submitted: a cluster sweep with a mistake fails
    at once instead of in each job after its wait in the queue. What depends on the machine (devices,
    bf16) or on the file system is left to each job (:func:`keyphrase_tagger.training.train.train`):
    the machine that launches a cluster sweep is usually not the one that trains.
    """

    def __init__(self) -> None:
        self._sweep_pid: int | None = None

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        from keyphrase_tagger.cli.common import fail
        from keyphrase_tagger.config.validate import validate_train_config

        try:
            validate_train_config(_task_part(config))
        except KeyphraseTaggerError as err:
            fail(str(err))

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.core.global_hydra import GlobalHydra

        from keyphrase_tagger.cli.common import fail
        from keyphrase_tagger.config.validate import check_train_config

        self._sweep_pid = os.getpid()
        loader = GlobalHydra.instance().config_loader()
        for overrides in sweep_job_overrides(config):
            try:
                check_train_config(_task_part(loader.load_sweep_config(config, overrides)))
            except KeyphraseTaggerError as err:
                fail(str(err))

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        # A launcher that runs jobs elsewhere hands each job a pickled copy of this callback, made
        # after on_multirun_start: the process id it recorded is the launching process's.
        global _job_apart
        _job_apart = self._sweep_pid is not None and os.getpid() != self._sweep_pid
