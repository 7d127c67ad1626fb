"""The model and the decision side by side: texts go through the model in groups, and while the
model reads one group, a second thread decides the group before it.

The model's forward pass does not keep two cores busy on a small CPU, and the decision (candidates,
features, rescorer: numpy and rjieba, which release the GIL for most of their work) runs on the
core left over, so most of its time is hidden behind the model's. One worker decides the groups in
order, so the decision object is never used by two threads at once, and at most two groups'
probabilities are held at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Characters of text per group: about 130 windows of the tiny preset's 254 characters, enough for
# full batches, and small enough that the first group's decision starts early.
MODEL_GROUP_CHARS = 32_768


def text_groups(lengths: Sequence[int], group_chars: int) -> list[range]:
    """Consecutive runs of texts, each closed once it holds ``group_chars`` characters or more (an
    empty text counting as one)."""
    groups, start, total = [], 0, 0
    for k, n in enumerate(lengths):
        total += max(n, 1)
        if total >= group_chars:
            groups.append(range(start, k + 1))
            start, total = k + 1, 0
    if start < len(lengths):
        groups.append(range(start, len(lengths)))
    return groups


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
