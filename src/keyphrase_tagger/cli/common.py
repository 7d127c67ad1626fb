"""What every entry point shares: where the configs live, one-line errors, Ctrl-C, checked arguments."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from hydra.errors import CompactHydraException
from omegaconf import OmegaConf

from keyphrase_tagger.errors import KeyphraseTaggerError

# 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C.
INTERRUPTED_EXIT_CODE = 130


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


def config_doc(name: str) -> str:
    """The keys of config file ``name`` (``predict.yaml``, ``data/policy.yaml``) with their comments,
    as the file writes them: the help texts show the configs' own documentation, kept in one place.

    The ``defaults`` list and the ``hydra`` section are left out, with the comments above them. ``$``
    is doubled because Hydra renders help templates with :class:`string.Template`.
    """
    kept: list[str] = []
    pending: list[str] = []  # comments and blank lines at the left margin: they go with the next key
    skipping = False
    for line in Path(CONFIG_DIR, name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            pending.append(line)
            continue
        if not line[0].isspace():
            skipping = line.split(":", 1)[0] in ("defaults", "hydra")
        if not skipping:
            kept += [p for p in pending if kept or p.strip()] + [line]
        pending = []
    return "\n".join(kept).replace("$", "$$")


# Help templates (configs/hydra/help/*.yaml) read the configs' comments through ${kpt_config_doc:FILE}.
OmegaConf.register_new_resolver("kpt_config_doc", config_doc, replace=True)


def fail(message: str) -> None:
    """``error: message`` on stderr, exit code 2: a mistake the user can fix."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def interrupted() -> None:
    """One line instead of a traceback for Ctrl-C, and the exit code shells give it."""
    print("interrupted", file=sys.stderr)
    sys.exit(INTERRUPTED_EXIT_CODE)


def _only_hydra_files(directory: Path) -> bool:
    return directory.is_dir() and all(p.name == ".hydra" or p.suffix == ".log" for p in directory.iterdir())


def _remove_empty_run_dir() -> None:
    """A Hydra run directory that holds nothing but Hydra's own files is removed: a command that
    fails or is interrupted before writing anything leaves no output directory behind."""
    try:
        from hydra.core.hydra_config import HydraConfig

        run_dir = Path(HydraConfig.get().runtime.output_dir)
    except (ImportError, ValueError):
        return
    if run_dir.resolve() != Path.cwd().resolve():
        logging.shutdown()  # Hydra's log file in it: flushed and closed before it is judged
        if _only_hydra_files(run_dir):
            shutil.rmtree(run_dir, ignore_errors=True)


class JobError(CompactHydraException):
    """A user error in a multirun job that runs in a process of its own (a submitit job): it
    travels back to the launching process as the job's failure, where Hydra prints it as it is, one
    line after the job's overrides."""


def reports_errors(func: Callable) -> Callable:
    """Turn a :class:`KeyphraseTaggerError` into ``error: path:line: what`` on stderr and exit 2,
    and Ctrl-C into ``interrupted`` and exit 130, in place of a traceback.

    In a job a launcher runs apart (:func:`~keyphrase_tagger.config.hydra_callback.job_runs_apart`)
    the error is raised as a :class:`JobError` instead: an exit there would end the job's process
    without a result, and the launching process would print submitit's traceback in place of the line."""

    @functools.wraps(func)
    def wrapper(cfg):
        try:
            return func(cfg)
        except KeyphraseTaggerError as err:
            from keyphrase_tagger.config.hydra_callback import job_runs_apart

            if job_runs_apart():
                # Logged too, into the job's own log. The job's directory stays: the launcher logs
                # into it after the task, and the sweep summary's row for the failed job points at it.
                logging.getLogger(__name__).error("error: %s", err)
                raise JobError(f"error: {err}") from None
            _remove_empty_run_dir()
            fail(str(err))
        except KeyboardInterrupt:
            _remove_empty_run_dir()
            interrupted()

    return wrapper


def command(hydra_main: Callable[[], object], config_name: str, name: str) -> Callable[[], None]:
    """The console script ``name`` around a ``@hydra.main`` function: its command-line arguments are checked
    first (a mistyped key, a path without ``key=``, an unknown config option: one line, exit 2;
    see :mod:`keyphrase_tagger.cli.arguments`), and Ctrl-C at any point ends it with one line.

    Ctrl-C inside the task reaches :func:`reports_errors`; this covers the moments around it
    (composing the config, imports). Hydra's own error reporting catches ``Exception`` only, so a
    ``KeyboardInterrupt`` passes through it untouched.
    """

    def main() -> None:
        try:
            from keyphrase_tagger.cli.arguments import check_arguments

            problem = check_arguments(sys.argv[1:], config_name, name)
            if problem:
                fail(problem)
            hydra_main()
        except KeyboardInterrupt:
            interrupted()

    main.__doc__ = hydra_main.__doc__
    return main
