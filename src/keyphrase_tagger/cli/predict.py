"""``kpt-predict checkpoint=DIR input=FILE|- output=FILE|-``."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from keyphrase_tagger.cli.common import CONFIG_DIR, command, reports_errors


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="predict")
@reports_errors
def _main(cfg: DictConfig) -> None:
    from keyphrase_tagger.inference.predict import predict

    predict(cfg)


main = command(_main, "predict", "kpt-predict")

if __name__ == "__main__":
    main()
