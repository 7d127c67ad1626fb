"""evaluation/metrics.py: P/R/F1 against hand-computed cases, phrase micro/macro, seqeval strict IOB2."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyphrase_tagger.evaluation.metrics import entity_scores, phrase_scores, prf


def test_prf_matches_hand_computed_scores():
    s = prf(tp=2, n_pred=4, n_gold=5)
    assert s["precision"] == pytest.approx(0.5)
    assert s["recall"] == pytest.approx(0.4)
    assert s["f1"] == pytest.approx(2 * 0.5 * 0.4 / 0.9)
    assert (s["tp"], s["n_pred"], s["n_gold"]) == (2, 4, 5)


def test_empty_prediction_against_gold_scores_zero_without_dividing_by_zero():
    assert prf(0, 0, 3) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "n_pred": 0, "n_gold": 3}


def test_prediction_against_empty_gold_scores_zero_without_dividing_by_zero():
    assert prf(0, 2, 0) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "tp": 0, "n_pred": 2, "n_gold": 0}


def test_nothing_to_find_and_nothing_found_scores_one():
    assert prf(0, 0, 0) == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "tp": 0, "n_pred": 0, "n_gold": 0}


def test_no_hit_among_nonempty_lists_scores_zero():
    assert prf(0, 3, 4)["f1"] == 0.0


def test_phrase_scores_count_distinct_strings_per_document():
    scores = phrase_scores([["数字经济", "数字经济", "服务业"]], [["服务业", "现代物流", "服务业"]])
    doc = scores["per_document"][0]
    assert (doc["tp"], doc["n_pred"], doc["n_gold"]) == (1, 2, 2)
    assert doc["f1"] == pytest.approx(0.5)


def test_micro_pools_counts_and_macro_averages_documents():
    # doc 1: 1 of 2 predictions right, its 1 gold found -> P 1/2, R 1, F1 2/3
    # doc 2: nothing predicted, 2 gold phrases -> P 0, R 0, F1 0
    scores = phrase_scores([["数字经济", "发展"], []], [["数字经济"], ["服务业", "物流"]])
    micro, macro = scores["micro"], scores["macro"]
    assert (micro["tp"], micro["n_pred"], micro["n_gold"]) == (1, 2, 3)
    assert micro["precision"] == pytest.approx(1 / 2)
    assert micro["recall"] == pytest.approx(1 / 3)
    assert micro["f1"] == pytest.approx(0.4)
    assert macro["precision"] == pytest.approx(1 / 4)
    assert macro["recall"] == pytest.approx(1 / 2)
    assert macro["f1"] == pytest.approx(1 / 3)


def test_document_with_empty_gold_and_empty_prediction_counts_as_perfect_in_macro():
    scores = phrase_scores([[], ["数字经济"]], [[], ["数字经济"]])
    assert scores["macro"]["f1"] == 1.0
    assert scores["micro"]["f1"] == 1.0


def test_phrase_scores_refuse_lists_of_different_lengths():
    with pytest.raises(ValueError):
        phrase_scores([["a"]], [["a"], ["b"]])


phrase_lists = st.lists(st.lists(st.sampled_from(["数字", "经济", "服务业", "物流", "发展"]), max_size=4), max_size=5)


@given(phrase_lists, phrase_lists)
def test_micro_scores_recompute_from_per_document_counts(predicted, gold):
    n = min(len(predicted), len(gold))
    predicted, gold = predicted[:n], gold[:n]
    scores = phrase_scores(predicted, gold)
    docs = scores["per_document"]
    pooled = prf(sum(d["tp"] for d in docs), sum(d["n_pred"] for d in docs), sum(d["n_gold"] for d in docs))
    assert scores["micro"] == pooled
    for d, p, g in zip(docs, predicted, gold):
        assert (d["tp"], d["n_pred"], d["n_gold"]) == (len(set(p) & set(g)), len(set(p)), len(set(g)))
        assert 0.0 <= d["precision"] <= 1.0 and 0.0 <= d["recall"] <= 1.0 and 0.0 <= d["f1"] <= 1.0


@given(phrase_lists)
def test_predicting_the_gold_list_scores_one(gold):
    scores = phrase_scores(gold, gold)
    assert scores["micro"]["f1"] == 1.0
    assert all(d["f1"] == 1.0 for d in scores["per_document"])


def test_strict_iob2_counts_an_orphan_inside_tag_as_wrong():
    gold = [["B-KP", "I-KP", "O", "B-KP", "I-KP"]]
    # The second entity starts with I-KP: conlleval would read it as an entity, strict IOB2 does not.
    pred = [["B-KP", "I-KP", "O", "I-KP", "I-KP"]]
    s = entity_scores(gold, pred)
    assert s["precision"] == pytest.approx(1.0)
    assert s["recall"] == pytest.approx(0.5)
    assert s["f1"] == pytest.approx(2 / 3)


def test_strict_iob2_gives_no_credit_to_a_sequence_of_orphans():
    s = entity_scores([["B-KP", "I-KP", "O"]], [["I-KP", "I-KP", "O"]])
    assert s == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_strict_iob2_needs_exact_boundaries():
    s = entity_scores([["B-KP", "I-KP", "I-KP", "O"]], [["B-KP", "I-KP", "O", "O"]])
    assert s == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_entity_scores_pool_entities_over_documents():
    gold = [["B-KP", "I-KP", "O"], ["O", "B-KP", "I-KP"]]
    pred = [["B-KP", "I-KP", "O"], ["O", "O", "O"]]
    s = entity_scores(gold, pred)
    assert s["precision"] == pytest.approx(1.0)
    assert s["recall"] == pytest.approx(0.5)
