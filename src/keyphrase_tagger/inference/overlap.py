"""The model and the decision side by side: texts go through the model in groups, and while the
model reads one group, a second thread decides the group before it.

The decision (candidates, features, rescorer: numpy and rjieba, which release the GIL for most of
their work) then runs while the model does: where a core is left to it (a GPU model, or more
cores than the model's threads) its time is hidden behind the model's; where the model's threads
keep every core busy, it still costs its CPU time (docs/performance.md). One worker decides the
groups in order, so the decision object is never used by two threads at once, and at most two
groups' probabilities are held at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

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


def overlapped(texts: Sequence[str], probs_of: Callable[[Sequence[str]], list[np.ndarray]],
               decide: Callable[[str, np.ndarray], object], group_chars: int) -> Iterator:
    """``decide(text, probs)`` for each of ``texts``, in order, ``probs`` from ``probs_of`` called
    on groups of texts (:func:`text_groups`); each group's decisions run on a worker thread while
    ``probs_of`` runs on the next group. A group's results are yielded once the model has read the
    next group (the thread that yields is the one running the model), and the next group's decision
    starts after them. An exception in either is raised here."""
    def decide_group(group: range, probs: list[np.ndarray]) -> list:
        return [decide(texts[k], p) for k, p in zip(group, probs)]

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="decision") as worker:
        pending = None
        for group in text_groups([len(t) for t in texts], group_chars):
            probs = probs_of([texts[k] for k in group])
            if pending is not None:
                yield from pending.result()
            pending = worker.submit(decide_group, group, probs)
        if pending is not None:
            yield from pending.result()
