"""Console output of the entry points: our stage lines and progress bars, the libraries' chatter on request.

Every step of a command that takes more than a few seconds logs a line when it starts and one with
its result, and shows a progress bar on a terminal (stderr; none in logs or pipes). The progress
bars transformers draws for its own housekeeping (``Loading weights``, ``Writing model shards``)
say nothing a user needs, so they are off unless ``verbose=true``.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator, Sized
from typing import TypeVar

T = TypeVar("T")


def quiet_libraries(verbose: bool = False) -> None:
    """Turn off the progress bars of transformers and huggingface_hub (weight loading, shard
    writing, downloads) unless ``verbose``; with ``verbose`` they stay as the environment sets them.

    The Trainer's training and evaluation bars are not affected: ``trainer.disable_tqdm`` steers them.
    """
    if verbose:
        return
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def progress(iterable: Iterable[T], desc: str, total: int | None = None, enabled: bool = True,
             every_s: float = 10.0) -> Iterable[T]:
    """``iterable`` with a progress bar on stderr when that is a terminal, else a log line every
    ``every_s`` seconds (``desc: done/total (elapsed)``), so that a console read from a pipe or a log
    file never goes quiet for long. Nothing is shown when not ``enabled``.

    The bar disappears when done (``leave=False``): the line the caller logs with the step's result
    replaces it.
    """
    if not enabled:
        return iterable
    if sys.stderr.isatty():
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=desc, total=total, file=sys.stderr, leave=False, dynamic_ncols=True)
    return _logged_progress(iterable, desc, total, every_s)


def _logged_progress(iterable: Iterable[T], desc: str, total: int | None, every_s: float) -> Iterator[T]:
    if total is None and isinstance(iterable, Sized):
        total = len(iterable)
    started = last = time.monotonic()
    for done, item in enumerate(iterable):
        now = time.monotonic()
        if now - last >= every_s:
            last = now
            of = f"/{total}" if total is not None else ""
            logging.getLogger("keyphrase_tagger.progress").info("%s: %d%s (%.0f s)", desc, done, of, now - started)
        yield item
