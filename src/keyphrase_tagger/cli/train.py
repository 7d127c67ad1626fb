"""``kpt-train``: Hydra entry over :func:`keyphrase_tagger.training.train.train`.

Under ``torchrun`` every rank would resolve ``${now:...}`` on its own and write its own run
directory; so before Hydra starts, rank 0's timestamp is broadcast and every rank is handed the
same ``run_stamp``: one run directory, written by rank 0.
"""

from __future__ import annotations

import os
import sys

import hydra
from omegaconf import DictConfig

from keyphrase_tagger.cli.common import CONFIG_DIR, reports_errors


def _share_run_stamp_across_ranks() -> None:
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or any(a.startswith("run_stamp=") for a in sys.argv):
        return
    import datetime

    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend=os.environ.get("KPT_DDP_BACKEND", "gloo"))
    stamp = [datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")]
    dist.broadcast_object_list(stamp, src=0)
    sys.argv.append(f"run_stamp={stamp[0]}")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
@reports_errors
def _main(cfg: DictConfig) -> float | None:
    from keyphrase_tagger.training.train import train

    metrics = train(cfg)
    # Returned for Hydra sweepers (e.g. optuna) that optimise the validation score.
    return metrics.get("eval_phrase_f1")


def main() -> None:
    _share_run_stamp_across_ranks()
    _main()


if __name__ == "__main__":
    main()
