"""``kpt-evaluate checkpoint=DIR [data.corpus_path=FILE] split=test|validation|train|all output_dir=DIR``."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from keyphrase_tagger.cli.common import CONFIG_DIR, command, reports_errors


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="evaluate")
@reports_errors
def _main(cfg: DictConfig) -> None:
    from keyphrase_tagger.evaluation.evaluate import evaluate

    evaluate(cfg)


main = command(_main, "evaluate", "kpt-evaluate")

if __name__ == "__main__":
    main()
