"""``run_info.json``: what it takes to know how a run was made."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("keyphrase-tagger", "torch", "transformers", "datasets", "accelerate", "seqeval", "hydra-core", "ahocorasick-rs")


def git_commit() -> str | None:
    """The commit of the code that runs (``-dirty`` with uncommitted changes); ``None`` outside a
    checkout. Asked where the package lives, not in the working directory: runs start anywhere."""
    where = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5,
                             check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def run_info(seed: int, data_stats: dict, wall_time_s: float, extra: dict | None = None) -> dict:
    return {
        "git_commit": git_commit(),
        "packages": package_versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "seed": seed,
        "wall_time_s": round(wall_time_s, 2),
        "data_stats": data_stats,
        **(extra or {}),
    }
