"""tagger/streams.py: batches run side by side on a CPU, each stream with its share of torch's
threads, another task alongside them, and the same probabilities whatever the streams."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from conftest import CORPUS

from keyphrase_tagger import KeyphraseExtractor
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.inference.extractor import positive_int
from keyphrase_tagger.tagger.streams import CPU_STREAMS, run_streams, stream_count


@pytest.fixture
def two_threads():
    """torch with two threads for the test (a session may run with one), restored after."""
    n = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(n)


def record_jobs(jobs, streams, alongside=None):
    """Run ``jobs`` on ``streams``; per job, the thread that ran it and torch's threads there."""
    seen, lock = {}, threading.Lock()

    def work(job):
        with lock:
            assert job not in seen, f"job {job} ran twice"
            seen[job] = (threading.current_thread().name, torch.get_num_threads())

    run_streams(jobs, work, streams, alongside)
    return seen


def test_stream_count_follows_the_device_the_threads_and_the_jobs():
    assert stream_count(None, "cpu", threads=8, jobs=100) == CPU_STREAMS
    assert stream_count(None, "cuda", threads=8, jobs=100) == 1
    assert stream_count(4, "cpu", threads=2, jobs=100) == 2  # never more streams than threads
    assert stream_count(4, "cpu", threads=8, jobs=3) == 3  # nor than jobs
    assert stream_count(None, "cpu", threads=8, jobs=0) == 1
    assert stream_count(1, "cpu", threads=8, jobs=100) == 1


@pytest.mark.parametrize("streams", [0, -2, 1.5, True, "2"])
def test_streams_that_are_neither_null_nor_a_positive_integer_are_refused(streams, tmp_path):
    with pytest.raises(ConfigError, match="streams="):
        positive_int("streams", streams, "forward passes run side by side", optional=True)
    with pytest.raises(ConfigError, match="streams="):
        KeyphraseExtractor.from_pretrained(tmp_path, streams=streams)  # before any file is read


def test_one_stream_runs_the_jobs_in_order_here_and_alongside_on_its_own_thread(two_threads):
    order, where = [], {}
    run_streams(list(range(5)), order.append, 1, lambda: where.update(name=threading.current_thread().name))
    assert order == list(range(5))
    assert where["name"] != threading.current_thread().name


@pytest.mark.parametrize("streams", [2, 3])
def test_streams_run_every_job_once_each_on_its_share_of_the_threads(two_threads, streams):
    torch.set_num_threads(6)
    ran_alongside = []
    seen = record_jobs(list(range(40)), streams, lambda: ran_alongside.append(threading.current_thread().name))
    assert sorted(seen) == list(range(40))
    names = {name for name, _ in seen.values()}
    assert len(names) <= streams and set(ran_alongside) <= names | {threading.current_thread().name}
    assert len(ran_alongside) == 1
    assert {threads for _, threads in seen.values()} == {6 // streams}
    assert torch.get_num_threads() == 6  # restored


def test_an_error_in_a_stream_reaches_the_caller_and_the_threads_are_restored(two_threads):
    def work(job):
        if job == 7:
            raise ValueError("bad job 7")

    with pytest.raises(ValueError, match="bad job 7"):
        run_streams(list(range(20)), work, 2)
    with pytest.raises(RuntimeError, match="alongside failed"):
        run_streams(list(range(3)), lambda job: None, 2, lambda: (_ for _ in ()).throw(RuntimeError("alongside failed")))
    assert torch.get_num_threads() == 2


def test_the_probabilities_and_phrases_do_not_depend_on_the_streams(smoke_checkpoint, two_threads):
    texts = CORPUS.read_text(encoding="utf-8").splitlines()[0::2][:6]
    texts = [texts[0] * 3, *texts[1:]]  # one text of several windows among short ones
    by_streams = {s: KeyphraseExtractor.from_pretrained(smoke_checkpoint, device="cpu", batch_size=2, streams=s)
                  for s in (1, 2)}
    probs = {s: ex.predict_probs(texts) for s, ex in by_streams.items()}
    for one, two in zip(probs[1], probs[2]):  # each batch's arithmetic is the same; only its thread count differs
        np.testing.assert_allclose(one, two, rtol=0, atol=1e-6)
    assert by_streams[1].extract_many(texts) == by_streams[2].extract_many(texts)
    assert any(by_streams[2].extract_many(texts)), "the smoke checkpoint tags something"
