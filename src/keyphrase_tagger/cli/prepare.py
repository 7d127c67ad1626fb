"""``kpt-prepare``: corpus file -> labeled ``DatasetDict`` + ``stats.json`` in ``data.processed_dir``."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig, OmegaConf

from keyphrase_tagger.cli.common import CONFIG_DIR, command, reports_errors
from keyphrase_tagger.config.validate import validate_prepare_config
from keyphrase_tagger.data.prepare import prepare_to_disk
from keyphrase_tagger.data.stats import format_stats_table


def prepare(cfg: DictConfig) -> dict:
    validate_prepare_config(cfg)
    stats = prepare_to_disk(cfg.data, cfg.data.processed_dir, OmegaConf.to_container(cfg.data, resolve=True))
    print(format_stats_table(stats))
    print(f"dataset written to {cfg.data.processed_dir}")
    return stats


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="prepare")
@reports_errors
def _main(cfg: DictConfig) -> None:
    prepare(cfg)


main = command(_main, "prepare", "kpt-prepare")

if __name__ == "__main__":
    main()
