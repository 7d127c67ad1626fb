"""What every entry point shares: where the configs live, logging, one-line errors."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sys
from pathlib import Path

from keyphrase_tagger.errors import KeyphraseTaggerError


def config_dir() -> str:
    """``$KPT_CONFIG_DIR``, else the repository's ``configs/`` (editable install), else ``./configs``."""
    env = os.environ.get("KPT_CONFIG_DIR")
    if env:
        return str(Path(env).resolve())
    repo = Path(__file__).resolve().parents[3] / "configs"
    if repo.is_dir():
        return str(repo)
    return str(Path.cwd() / "configs")


CONFIG_DIR = config_dir()


def _only_hydra_files(directory: Path) -> bool:
    return directory.is_dir() and all(p.name == ".hydra" or p.suffix == ".log" for p in directory.iterdir())


def reports_errors(func):
    """Turn a :class:`KeyphraseTaggerError` into ``error: path:line: what`` on stderr and exit 2.

    If the failure leaves a Hydra run directory that holds nothing but Hydra's own files, it is
    removed: a failed command leaves no output directory behind.
    """

    @functools.wraps(func)
    def wrapper(cfg):
        try:
            return func(cfg)
        except KeyphraseTaggerError as err:
            logging.shutdown()
            try:
                from hydra.core.hydra_config import HydraConfig

                run_dir = Path(HydraConfig.get().runtime.output_dir)
                if run_dir.resolve() != Path.cwd().resolve() and _only_hydra_files(run_dir):
                    shutil.rmtree(run_dir, ignore_errors=True)
            except (ImportError, ValueError):
                pass
            print(f"error: {err}", file=sys.stderr)
            sys.exit(2)

    return wrapper
