"""The model and the decision side by side: texts go through the model in groups, and while the
model reads one group, the group before it is decided.

Where the decision runs is the model's call to choose (``tagger/streams.py``): on a CPU with
several streams, as one stream's first task, so that the decision (candidates, features,
rescorer: numpy and rjieba) takes a core's share rather than a third thread contending with the
model's for two cores and for the GIL; with one stream (a GPU model), on a thread of its own, its
time then hidden behind the device's (docs/performance.md). The groups are decided in order, one
at a time, so the decision object is never used by two threads at once, and at most two groups'
probabilities are held at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from functools import partial

import numpy as np

# Characters of text per group: about 130 windows of the tiny preset's 254 characters, enough for
# full batches, and small enough that the first group's decision starts early.
MODEL_GROUP_CHARS = 32_768
# The last groups halve in size this many times: the last group's decision runs after the model
# has finished, with nothing to hide it, so it should be short.
TAIL_HALVINGS = 3


def text_groups(lengths: Sequence[int], group_chars: int) -> list[range]:
    """Consecutive runs of texts, counted from the last: the last closes once it holds
    ``group_chars / 2**TAIL_HALVINGS`` characters or more, each one before it twice as many, up to
    ``group_chars`` (an empty text counting as one; a text is never split)."""
    groups, end, total = [], len(lengths), 0
    for k in range(len(lengths) - 1, -1, -1):
        total += max(lengths[k], 1)
        if total >= max(group_chars >> max(TAIL_HALVINGS - len(groups), 0), 1):
            groups.append(range(k, end))
            end, total = k, 0
    if end > 0:
        groups.append(range(0, end))
    return groups[::-1]


def overlapped(texts: Sequence[str], probs_of: Callable[[Sequence[str], Callable[[], None] | None], list[np.ndarray]],
               decide: Callable[[str, np.ndarray], object], group_chars: int) -> Iterator:
    """``decide(text, probs)`` for each of ``texts``, in order, ``probs`` from
    ``probs_of(group, alongside)`` called on groups of texts (:func:`text_groups`), which runs
    ``alongside()`` (the previous group's decisions) while the model reads ``group``. A group's
    results are yielded once the model has read the next group; the last group is decided after
    the model's last call, on this thread. An exception in either is raised here."""
    previous: tuple[range, list[np.ndarray]] | None = None
    for group in text_groups([len(t) for t in texts], group_chars):
        decided: list = []
        alongside = None if previous is None else partial(decide_group, texts, decide, *previous, decided)
        probs = probs_of([texts[k] for k in group], alongside)
        yield from decided
        previous = (group, probs)
    if previous is not None:
        group, probs = previous
        yield from (decide(texts[k], p) for k, p in zip(group, probs))


def decide_group(texts: Sequence[str], decide: Callable[[str, np.ndarray], object], group: range,
                 probs: list[np.ndarray], out: list) -> None:
    """Append ``decide(text, probs)`` for each text of ``group`` to ``out``."""
    out.extend(decide(texts[k], p) for k, p in zip(group, probs))
