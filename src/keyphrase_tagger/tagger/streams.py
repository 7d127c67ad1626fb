"""Forward passes side by side on a CPU: the batches of one call split among a few threads, each
running the model with its share of torch's threads.

On a CPU, a small model's matrices are too small for torch's threads to share one forward pass
well: every layer ends at a barrier where the threads wait for the slowest, and a thread that loses
its core (to the decision's thread, to the hypervisor) stalls them all. Two passes at once, each on
half the threads, keep the cores as busy with fewer barriers (docs/performance.md). Devices other
than the CPU run one stream: the device already runs the batches' work in parallel.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral
from typing import TypeVar

from keyphrase_tagger.errors import ConfigError

Job = TypeVar("Job")
_DONE = object()  # what a stream takes once every job is taken

# Streams on a CPU unless a caller says otherwise: measured on 2 cores (docs/performance.md).
CPU_STREAMS = 2


def check_streams(streams: object) -> int | None:
    """``streams`` (forward passes run side by side) as ``None`` (the device's default) or an int
    >= 1; else :class:`ConfigError`."""
    if streams is None:
        return None
    if isinstance(streams, bool) or not isinstance(streams, Integral) or streams < 1:
        raise ConfigError(f"streams={streams!r}: must be null or an integer >= 1 (forward passes run side by side)")
    return int(streams)


def stream_count(streams: int | None, device_type: str, threads: int, jobs: int) -> int:
    """How many streams a call runs: ``streams`` (``None``: :data:`CPU_STREAMS` on a CPU, one on
    any other device), never more than torch's ``threads`` nor the call's ``jobs`` (batches), and
    at least one."""
    wanted = streams if streams is not None else (CPU_STREAMS if device_type == "cpu" else 1)
    return max(1, min(wanted, threads, jobs))


def run_streams(jobs: Sequence[Job], work: Callable[[Job], None], streams: int,
                alongside: Callable[[], None] | None = None) -> None:
    """``work(job)`` for every job, and ``alongside()`` (another task, such as deciding texts the
    model has read) at the same time, if given.

    One stream runs the jobs in order on this thread, ``alongside`` on a thread of its own (the
    model's work is on a device, or on its threads). More streams are threads that each take the
    next job as they finish one, with ``threads // streams`` of torch's threads, ``alongside``
    being one stream's first task: no more threads are busy than there are streams. torch's
    thread count is restored when all are done; an exception in any of them is raised here.
    """
    import torch

    threads, pending, lock = torch.get_num_threads(), iter(jobs), threading.Lock()
    failed = threading.Event()  # the other streams stop taking jobs once one has raised

    def stream(share: int, first: Callable[[], None] | None) -> None:
        if share != threads:
            torch.set_num_threads(share)  # this thread's share (and torch's default until restored)
        try:
            if first is not None:
                first()
            while not failed.is_set():
                with lock:
                    job = next(pending, _DONE)
                if job is _DONE:
                    return
                work(job)
        except BaseException:
            failed.set()
            raise

    helpers = streams - 1 if streams > 1 else int(alongside is not None)
    try:
        with ThreadPoolExecutor(max_workers=max(helpers, 1), thread_name_prefix="stream") as pool:
            if streams > 1:
                share = max(1, threads // streams)
                futures = [pool.submit(stream, share, alongside)] + [pool.submit(stream, share, None)
                                                                     for _ in range(streams - 2)]
                stream(share, None)
            else:
                futures = [pool.submit(alongside)] if alongside is not None else []
                stream(threads, None)
            for future in futures:
                future.result()
    finally:
        torch.set_num_threads(threads)
