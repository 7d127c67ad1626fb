"""inference/overlap.py: texts grouped for the model, each group decided while the model reads the
next (where it runs is the model's call to choose: tests/test_streams.py), results in order."""

from __future__ import annotations

import numpy as np
import pytest

from keyphrase_tagger.inference.overlap import overlapped, text_groups


def test_groups_are_consecutive_runs_that_shrink_towards_the_end():
    # From the last: at least 1, 2, 4, then 8 characters (8 >> 3, >> 2, >> 1, then 8).
    assert text_groups([3] * 6 + [1, 1], 8) == [range(0, 3), range(3, 5), range(5, 7), range(7, 8)]
    assert text_groups([64, 4, 4, 4], 32) == [range(0, 1), range(1, 3), range(3, 4)]
    assert text_groups([5] * 6, 80) == [range(0, 4), range(4, 6)]
    assert text_groups([10, 1, 1], 1) == [range(0, 1), range(1, 2), range(2, 3)]
    assert text_groups([], 4) == []
    assert text_groups([0, 0, 2], 1) == [range(0, 1), range(1, 2), range(2, 3)]


def test_groups_cover_every_text_once_in_order():
    lengths = [7, 0, 300, 2, 2, 90, 1, 1, 1, 4000, 12]
    for group_chars in (1, 16, 100, 1000, 10**6):
        groups = text_groups(lengths, group_chars)
        assert [k for g in groups for k in g] == list(range(len(lengths)))
        assert all(len(g) for g in groups)


def test_each_group_is_decided_while_the_model_reads_the_next_and_the_last_one_after():
    texts = [f"text {k} " * (k + 1) for k in range(9)]
    events = []

    def probs_of(group, alongside):
        events.append(("model", list(group)))
        if alongside is not None:
            alongside()  # the caller's model would run beside it; here, in turn
        events.append(("model done", list(group)))
        return [np.full((len(t), 3), float(len(t)), dtype=np.float32) for t in group]

    def decide(text, probs):
        assert probs.shape == (len(text), 3) and probs[0, 0] == len(text)
        events.append(("decide", text))
        return text.upper()

    assert list(overlapped(texts, probs_of, decide, group_chars=30)) == [t.upper() for t in texts]
    groups = [g for kind, g in events if kind == "model"]
    assert [t for g in groups for t in g] == texts and len(groups) > 2
    for k, group in enumerate(groups):
        start, end = events.index(("model", group)), events.index(("model done", group))
        decided = [t for kind, t in events[start:end] if kind == "decide"]
        assert decided == (groups[k - 1] if k else [])  # the group before, during this group's model call
    last = events.index(("model done", groups[-1]))
    assert [t for kind, t in events[last:] if kind == "decide"] == groups[-1]


def test_an_error_in_the_decision_reaches_the_caller():
    def decide(text, probs):
        raise ValueError(f"bad {text}")

    def probs_of(group, alongside):
        if alongside is not None:
            alongside()
        return [np.zeros((1, 3))] * len(group)

    with pytest.raises(ValueError, match="bad a"):
        list(overlapped(["a", "b"], probs_of, decide, group_chars=1))
