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
from typing import TypeVar

Job = TypeVar("Job")
_DONE = object()  # what a stream takes once every job is taken

# Streams on a CPU unless a caller says otherwise: measured on 2 cores (docs/performance.md).
CPU_STREAMS = 2


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

    share = max(1, threads // streams)
    try:
        with ThreadPoolExecutor(max_workers=max(streams - 1, 1), thread_name_prefix="stream") as pool:
            # This thread is the last stream; the others, the first of them starting with ``alongside``.
            futures = [pool.submit(stream, share, alongside if k == 0 else None) for k in range(streams - 1)]
            if streams == 1 and alongside is not None:
                futures.append(pool.submit(alongside))
            stream(share, None)
            for future in futures:
                future.result()
    finally:
        torch.set_num_threads(threads)
