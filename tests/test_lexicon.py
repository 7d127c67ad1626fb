"""lexicon.py: listed / occurs counts of the training phrases, P(listed | occurs), lexicon.json."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyphrase_tagger.errors import CheckpointError
from keyphrase_tagger.lexicon.lexicon import LEXICON_FILE, Lexicon, build_lexicon
from keyphrase_tagger.records import Document

DOCS = [
    Document("t1", "数字经济推动服务业发展，服务业", ("数字经济", "服务业", "发展")),
    Document("t2", "数字经济与服务发展", ("数字经济", "服务")),
    Document("t3", "发展规划", ("规划",)),
]


def test_counts_are_documents_not_occurrences():
    lexicon = build_lexicon(DOCS)
    assert lexicon.listed == {"数字经济": 2, "服务业": 1, "发展": 1, "服务": 1, "规划": 1}
    # 服务 occurs inside 服务业 in t1: occurrence counting sees overlapping matches.
    assert lexicon.occurs == {"数字经济": 2, "服务业": 1, "发展": 3, "服务": 2, "规划": 1}


def test_rate_is_listed_over_occurs():
    lexicon = build_lexicon(DOCS)
    assert lexicon.rate("发展") == pytest.approx(1 / 3)
    assert lexicon.rate("服务") == pytest.approx(1 / 2)
    assert lexicon.rate("数字经济") == 1.0
    assert lexicon.rate("未知") == 0.0


def test_min_rate_keeps_phrases_whose_rate_exceeds_it():
    lexicon = build_lexicon(DOCS)
    assert lexicon.phrases() == sorted(["数字经济", "服务业", "发展", "服务", "规划"])
    assert lexicon.phrases(min_rate=0.5) == sorted(["数字经济", "服务业", "规划"])
    assert lexicon.phrases(min_rate=1 / 3) == sorted(["数字经济", "服务业", "服务", "规划"])


def test_save_and_load_round_trip(tmp_path):
    lexicon = build_lexicon(DOCS)
    lexicon.save(tmp_path)
    assert Lexicon.load(tmp_path) == lexicon


@given(st.dictionaries(st.text(min_size=1, max_size=6), st.tuples(st.integers(1, 50), st.integers(0, 50)), max_size=20))
def test_any_lexicon_survives_save_and_load(tmp_path_factory, counts):
    directory = tmp_path_factory.mktemp("lexicon")
    lexicon = Lexicon({p: n for p, (n, _) in counts.items()}, {p: n + extra for p, (n, extra) in counts.items()})
    lexicon.save(directory)
    assert Lexicon.load(directory) == lexicon


def test_missing_lexicon_file_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match=LEXICON_FILE):
        Lexicon.load(tmp_path)


def test_malformed_lexicon_file_is_a_checkpoint_error(tmp_path):
    (tmp_path / LEXICON_FILE).write_text(json.dumps({"数字经济": "two"}), encoding="utf-8")
    with pytest.raises(CheckpointError, match="unreadable"):
        Lexicon.load(tmp_path)
