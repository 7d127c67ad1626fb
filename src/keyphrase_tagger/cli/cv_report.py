"""``kpt-cv-report sweep_dir=DIR``: mean ± std of the folds' test reports."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from keyphrase_tagger.cli.common import CONFIG_DIR, command, reports_errors
from keyphrase_tagger.config.validate import validate_cv_report_config


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="cv_report")
@reports_errors
def _main(cfg: DictConfig) -> None:
    validate_cv_report_config(cfg)
    from keyphrase_tagger.errors import ConfigError
    from keyphrase_tagger.evaluation.cross_validation import cv_report, markdown_cv
    from keyphrase_tagger.logging_setup import quiet_libraries

    quiet_libraries(bool(cfg.get("verbose", False)))

    if not cfg.get("sweep_dir"):
        raise ConfigError("sweep_dir=DIR is required (a kpt-train -m sweep directory)")
    print(markdown_cv(cv_report(cfg.sweep_dir, cfg.device)), end="")
    print(f"written: {cfg.sweep_dir}/cv_report.json, cv_report.md")


main = command(_main, "cv_report", "kpt-cv-report")

if __name__ == "__main__":
    main()
