"""segmentation.py: jieba words and POS tags, and the per-word statistics of the training lists."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyphrase_tagger.data.labeling import label_text, tags_to_spans
from keyphrase_tagger.data.matching import PhraseMatcher
from keyphrase_tagger.errors import CheckpointError
from keyphrase_tagger.lexicon.leave_one_out import leave_one_out_lexicons
from keyphrase_tagger.lexicon.lexicon import Lexicon, build_lexicon
from keyphrase_tagger.lexicon.segmentation import N_POS, POS_TAGS, segment
from keyphrase_tagger.lexicon.word_stats import (
    WordStats,
    build_word_stats,
    document_word_counts,
    word_counts,
)
from keyphrase_tagger.records import Document

CHARS = "数字经济发展服务业推动，。绿色"


def naive_counts(text: str, tags: np.ndarray) -> Counter:
    """Per word, directly from the span list: the specification word_counts vectorises."""
    starts, ends = tags_to_spans(tags)
    spans = list(zip(starts.tolist(), ends.tolist()))
    words = segment(text)
    counts: Counter = Counter()
    for s, e, w in zip(words.starts.tolist(), words.ends.tolist(), words.strings):
        counts[(w, "occurs")] += 1
        counts[(w, "starts")] += any(a == s for a, _ in spans)
        counts[(w, "ends")] += any(b == e for _, b in spans)
        counts[(w, "inside")] += any(a <= s and e <= b for a, b in spans)
        counts[(w, "before_start")] += any(a == e for a, _ in spans)
        counts[(w, "after_end")] += any(b == s for _, b in spans)
    return counts


def test_words_tile_the_text_and_carry_known_tags():
    text = "推动服务业发展，数字经济"
    words = segment(text)
    assert "".join(words.strings) == text
    assert [text[s:e] for s, e in zip(words.starts, words.ends)] == list(words.strings)
    assert words.strings == ("推动", "服务业", "发展", "，", "数字", "经济")
    assert [POS_TAGS[p] for p in words.pos] == ["v", "n", "vn", "x", "n", "n"]
    assert words.index_of_chars(len(text)).tolist() == [0, 0, 1, 1, 1, 2, 2, 3, 4, 4, 5, 5]
    assert len(segment("")) == 0


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=CHARS, min_size=1, max_size=30), st.data())
def test_word_counts_match_the_span_definition(text, data):
    tags = np.array(data.draw(st.lists(st.sampled_from([0, 1, 2]), min_size=len(text), max_size=len(text))),
                    dtype=np.int8)
    words = segment(text)
    assert all(0 <= p < N_POS for p in words.pos)
    assert +word_counts(words, tags) == +naive_counts(text, tags)


def test_document_counts_use_the_labeling_function():
    doc = Document("d", "数字经济发展，数字经济", ("数字经济",))
    tags, _ = label_text(doc.text, PhraseMatcher(doc.phrases))
    counts = document_word_counts(doc)
    assert counts == word_counts(segment(doc.text), tags)
    assert counts[("数字", "starts")] == 2 and counts[("经济", "ends")] == 2 and counts[("发展", "inside")] == 0
    # "数字经济|发展|，|数字经济": a phrase ends right before 发展 and starts right after ，.
    assert counts[("发展", "after_end")] == 1 and counts[("，", "before_start")] == 1
    assert counts[("发展", "before_start")] == 0


def test_rates_are_smoothed_and_unseen_words_get_the_prior():
    stats = WordStats({"数字": (9, 9, 0, 9, 3, 0)})
    rates = stats.rates(["数字", "未见"])
    np.testing.assert_allclose(rates[0], [np.log(10), 9.1 / 10, 0.1 / 10, 9.1 / 10, 3.1 / 10, 0.1 / 10])
    np.testing.assert_allclose(rates[1], [0.0, 0.1, 0.1, 0.1, 0.1, 0.1])


@pytest.mark.parametrize("content", ['{"数字": [9, 9, 0, 9]}', '{"数字": [9, 9, 0, 9, 3, 0, 1]}', '{"数字": 9}',
                                     '{"数字": ["x", 9, 0, 9, 3, 0]}'])
def test_word_statistics_without_six_counts_per_word_are_refused_naming_the_file(tmp_path, content):
    (tmp_path / "word_stats.json").write_text(content, encoding="utf-8")
    with pytest.raises(CheckpointError, match="unreadable word statistics") as info:
        WordStats.load(tmp_path)
    assert str(info.value).startswith(str(tmp_path / "word_stats.json"))


DOCS = [
    Document("a", "数字经济发展，绿色发展", ("数字经济", "绿色发展")),
    Document("b", "推动服务业发展，数字经济", ("服务业",)),
    Document("c", "绿色发展和服务业", ("绿色发展", "服务业")),
]


def test_leaving_a_document_out_equals_never_counting_it():
    full = build_word_stats(document_word_counts(d) for d in DOCS)
    for k, d in enumerate(DOCS):
        rest = build_word_stats(document_word_counts(o) for o in DOCS if o is not d)
        assert full.without(document_word_counts(d)) == rest, k


def test_leave_one_out_lexicons_carry_leave_one_out_word_statistics():
    lexicon = build_lexicon(DOCS, with_words=True)
    for d, loo in zip(DOCS, leave_one_out_lexicons(lexicon, DOCS)):
        assert loo.words == build_lexicon([o for o in DOCS if o is not d], with_words=True).words


def test_word_statistics_travel_with_the_lexicon(tmp_path):
    lexicon = build_lexicon(DOCS, with_words=True)
    lexicon.save(tmp_path)
    assert Lexicon.load(tmp_path) == lexicon
    plain = build_lexicon(DOCS)
    assert plain.words is None
    (tmp_path / "word_stats.json").write_text("[1, 2", encoding="utf-8")
    with pytest.raises(CheckpointError, match="word_stats.json"):
        Lexicon.load(tmp_path)
