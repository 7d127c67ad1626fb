"""``kpt-train``: Hydra entry over :func:`keyphrase_tagger.training.train.train`.

Under ``torchrun`` every rank would resolve ``${now:...}`` on its own and write its own run
directory; so before Hydra starts, rank 0's timestamp is broadcast and every rank is handed the
same ``run_stamp``: one run directory, written by rank 0.

A submitit job of several tasks (``hydra.launcher.tasks_per_node=N``) runs the task function once
per task; every task gets the same job directory (the sweep directory's stamp was resolved once, by
the launching process), and each learns its rank from submitit, as torchrun would have told it.
"""

from __future__ import annotations

import os
import sys

import hydra
from omegaconf import DictConfig

from keyphrase_tagger.cli.common import CONFIG_DIR, command, reports_errors


def _process_group_backend() -> str:
    """The backend of the process group the stamp travels over, which the Trainer then reuses.

    The Trainer (accelerate) does not create a group when one exists, so this one must also serve
    training: ``trainer.ddp_backend=`` on the command line, else ``$KPT_DDP_BACKEND``, else NCCL
    where CUDA exists and gloo where it does not.
    """
    import torch

    backend = os.environ.get("KPT_DDP_BACKEND") or None
    for arg in sys.argv[1:]:
        if arg.startswith("trainer.ddp_backend=") and arg.split("=", 1)[1] not in ("", "null"):
            backend = arg.split("=", 1)[1]
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    # NCCL alone would send the stamp from the current CUDA device, cuda:0 on every rank before
    # the Trainer picks each rank's GPU; gloo carries CPU objects and NCCL keeps the CUDA tensors.
    return "cpu:gloo,cuda:nccl" if backend == "nccl" else backend


def _share_run_stamp_across_ranks() -> None:
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or any(a.startswith("run_stamp=") for a in sys.argv):
        return
    import datetime

    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend=_process_group_backend())
    stamp = [datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")]
    dist.broadcast_object_list(stamp, src=0)
    sys.argv.append(f"run_stamp={stamp[0]}")


def _join_submitit_tasks() -> None:
    """In a submitit job of several tasks, export the variables ``torch.distributed`` reads
    (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``), as torchrun sets
    them: the Trainer then trains one model over the tasks, and rank 0 writes."""
    if "SUBMITIT_EXECUTOR" not in os.environ or "WORLD_SIZE" in os.environ:
        return
    import submitit

    if submitit.JobEnvironment().num_tasks > 1:
        # Every task keeps every GPU of its node in sight: the Trainer picks cuda:LOCAL_RANK.
        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
@reports_errors
def _main(cfg: DictConfig) -> float | None:
    from keyphrase_tagger.training.fold_objective import objective_folds, train_over_folds
    from keyphrase_tagger.training.run_record import optimized_value
    from keyphrase_tagger.training.train import run_dir_of, train

    _join_submitit_tasks()
    metrics = train_over_folds(cfg, run_dir_of(cfg), train) if objective_folds(cfg) else train(cfg)
    # Returned for Hydra sweepers (e.g. optuna) that optimise the validation score.
    return optimized_value(metrics, cfg.optimized_metric)


def _stamped_main() -> None:
    _share_run_stamp_across_ranks()
    _main()


main = command(_stamped_main, "train", "kpt-train")


if __name__ == "__main__":
    main()
