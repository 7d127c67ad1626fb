"""Errors a user can cause. Each message carries the location (``path:line: what``).

The command-line tools print ``str(error)`` as one line and exit non-zero; anything else is a bug
and keeps its traceback.
"""

from __future__ import annotations


class KeyphraseTaggerError(Exception):
    """Base class of the errors the command-line tools report in one line."""


class CorpusFormatError(KeyphraseTaggerError):
    """A corpus file that does not follow the documented format."""

    def __init__(self, path: object, line: int | None, message: str) -> None:
        self.path, self.line = str(path), line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class InputFormatError(CorpusFormatError):
    """A prediction input file (``.txt`` / ``.jsonl``) that cannot be read."""


class CheckpointError(KeyphraseTaggerError):
    """A directory that is not a keyphrase-tagger checkpoint."""


class ConfigError(KeyphraseTaggerError):
    """A configuration value that cannot work (e.g. a window longer than the model allows)."""
