"""``run_info.json``: what it takes to know how a run was made."""

from __future__ import annotations

import platform
import re
import subprocess
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "keyphrase-tagger"
# Not requirements of ours but of our requirements, and they change results or files: the
# tokenizer, the weight format, the config library.
INDIRECT = ("tokenizers", "safetensors", "huggingface-hub", "omegaconf")


def _git(*args: str) -> str:
    # Asked where the package lives, not in the working directory: runs start anywhere.
    where = Path(__file__).resolve().parent
    return subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, timeout=5,
                          check=True).stdout.strip()


def git_state() -> tuple[str | None, bool | None]:
    """``(commit, dirty)`` of the code that runs: ``dirty`` with uncommitted changes to tracked
    files; ``(None, None)`` outside a checkout."""
    try:
        return _git("rev-parse", "HEAD"), bool(_git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None, None


def runtime_dependencies() -> list[str]:
    """The names of the package's runtime requirements (``pyproject.toml``'s ``dependencies``, as the
    installed metadata lists them; extras left out), then :data:`INDIRECT`."""
    try:
        requirements = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        requirements = []
    names = [re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r)[0] for r in requirements if "extra ==" not in r]
    return list(dict.fromkeys([DISTRIBUTION, *names, *INDIRECT]))


def package_versions() -> dict[str, str | None]:
    """Installed version of each of :func:`runtime_dependencies` (``None``: not installed)."""
    versions = {}
    for name in runtime_dependencies():
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def run_info(seed: int, data_stats: dict, wall_time_s: float, extra: dict | None = None) -> dict:
    """The ``run_info.json`` dictionary; ``extra`` adds the run's own facts (stamp, sizes, config)."""
    commit, dirty = git_state()
    return {
        "git_commit": commit,
        "git_dirty": dirty,
        "packages": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "seed": seed,
        "wall_time_s": round(wall_time_s, 2),
        "data_stats": data_stats,
        **(extra or {}),
    }
