"""Console output of the entry points: our stage lines and progress bars, the libraries' chatter on request.

Every step of a command that takes more than a few seconds logs a line when it starts and one with
its result, and shows a progress bar on a terminal (stderr; none in logs or pipes). The progress
bars transformers draws for its own housekeeping (``Loading weights``, ``Writing model shards``)
say nothing a user needs, so they are off unless ``verbose=true``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
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


def progress(iterable: Iterable[T], desc: str, total: int | None = None, enabled: bool = True) -> Iterable[T]:
    """``iterable`` with a progress bar on stderr, drawn only on a terminal and when ``enabled``.

    The bar disappears when done (``leave=False``): the line the caller logs with the step's result
    replaces it.
    """
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, file=sys.stderr, leave=False, dynamic_ncols=True,
                disable=None if enabled else True)
