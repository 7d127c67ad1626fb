"""evaluation/baselines.py: the training lexicon as a gazetteer, all of it or a calibrated part."""

from __future__ import annotations

import pytest

from keyphrase_tagger.data.matching import PhraseMatcher
from keyphrase_tagger.evaluation.baselines import (
    DEFAULT_THRESHOLD,
    baseline_reports,
    choose_threshold,
    gazetteer_predictions,
)
from keyphrase_tagger.lexicon.lexicon import build_lexicon
from keyphrase_tagger.records import Document

# Rates P(listed | occurs) in these training documents:
#   数字经济 2/2, 服务业 1/1, 规划 1/1, 共同体 1/1, 服务 1/2 (it also occurs inside 服务业), 发展 1/4.
TRAIN = [
    Document("t1", "数字经济推动服务业发展", ("数字经济", "服务业", "发展")),
    Document("t2", "数字经济与服务发展", ("数字经济", "服务")),
    Document("t3", "发展规划", ("规划",)),
    Document("t4", "发展共同体", ("共同体",)),
]
# 发展 occurs here but is not listed: only a threshold that drops it reaches F1 1.
VALIDATION = [Document("v1", "服务业发展和数字经济", ("服务业", "数字经济"))]
TEST = [Document("x1", "服务发展服务业规划", ("服务", "服务业"))]


@pytest.fixture
def lexicon():
    return build_lexicon(TRAIN)


def test_gazetteer_matches_leftmost_longest_and_lists_each_phrase_once():
    matcher = PhraseMatcher(["服务", "服务业", "发展"])
    # 服务业 hides the 服务 inside it; the bare 服务 later is its own match.
    assert gazetteer_predictions(matcher, [Document("d", "服务业发展服务业和服务", ())]) == [["服务业", "发展", "服务"]]


def test_threshold_is_the_lowest_that_maximises_validation_f1(lexicon):
    threshold, f1 = choose_threshold(lexicon, VALIDATION)
    # Thresholds 0.25 to 0.95 all drop 发展 (rate 0.25, kept only when it *exceeds* the threshold)
    # and keep everything else, for F1 1.0; ties go to the lowest.
    assert threshold == 0.25
    assert f1 == pytest.approx(1.0)


def test_threshold_defaults_without_validation_documents(lexicon):
    assert choose_threshold(lexicon, []) == (DEFAULT_THRESHOLD, None)


def test_baselines_on_a_toy_corpus(lexicon):
    out = baseline_reports(lexicon, TEST, VALIDATION)
    full, cal = out["gazetteer"], out["calibrated_gazetteer"]
    # Leftmost-longest over "服务发展服务业规划": 服务, 发展, 服务业, 规划 (all six lexicon phrases).
    assert full["predicted"] == [["服务", "发展", "服务业", "规划"]]
    assert full["n_phrases"] == 6
    assert full["phrase"]["micro"]["precision"] == pytest.approx(2 / 4)
    assert full["phrase"]["micro"]["recall"] == pytest.approx(1.0)
    assert full["phrase"]["micro"]["f1"] == pytest.approx(2 / 3)
    # Calibrated at 0.25: 发展 is out.
    assert cal["threshold"] == 0.25
    assert cal["n_phrases"] == 5
    assert cal["validation_documents"] == 1
    assert cal["predicted"] == [["服务", "服务业", "规划"]]
    assert cal["phrase"]["micro"]["precision"] == pytest.approx(2 / 3)
    assert cal["phrase"]["micro"]["f1"] == pytest.approx(0.8)
    assert cal["phrase"]["macro"]["f1"] == pytest.approx(0.8)


def test_baselines_score_a_document_without_any_lexicon_phrase_as_zero(lexicon):
    out = baseline_reports(lexicon, [Document("y", "完全无关的文字", ("无关",))], VALIDATION)
    assert out["gazetteer"]["predicted"] == [[]]
    assert out["gazetteer"]["phrase"]["micro"]["f1"] == 0.0
