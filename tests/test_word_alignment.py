"""evaluation/analysis.py word_alignment / scores_by_word_alignment, and their pooling over a sweep's
folds in evaluation/cross_validation.py."""

from __future__ import annotations

import numpy as np

from keyphrase_tagger.evaluation.analysis import scores_by_word_alignment, word_alignment
from keyphrase_tagger.evaluation.cross_validation import markdown_cv, pooled_analysis


def boundary(n: int, starts: list[int]) -> np.ndarray:
    mask = np.zeros(n + 1, dtype=bool)
    mask[starts] = True
    mask[n] = True
    return mask


def test_each_kind_of_phrase_is_told_apart_by_the_word_boundaries():
    text = "商业银行发展"  # words 商业 | 银行 | 发展
    words = boundary(len(text), [0, 2, 4])
    assert word_alignment(text, "银行", words) == "whole words"
    assert word_alignment(text, "商业银行发展", words) == "whole words"
    assert word_alignment(text, "商业银", words) == "ends inside a word"
    assert word_alignment(text, "业银行", words) == "starts inside a word"
    assert word_alignment(text, "业银", words) == "inside words"
    assert word_alignment(text, "农业", words) == "inside words"  # not in the text


def test_an_aligned_occurrence_overlapping_another_counts():
    # "aa" occurs at 0 (ends inside the word "aa") and, overlapping it, at 1 (the whole word "aa").
    assert word_alignment("aaa", "aa", boundary(3, [0, 1])) == "whole words"


def test_scores_by_word_alignment_pool_distinct_strings_per_document():
    texts = ["发展商业银行", "商业银行"]
    predicted = [["商业银行", "商业银"], ["商业银行"]]
    gold = [["商业银行", "商业银", "商业银"], ["商业银"]]
    rows = {r["kind"]: r for r in scores_by_word_alignment(texts, predicted, gold)}
    assert set(rows) == {"whole words", "ends inside a word"}
    assert (rows["whole words"]["tp"], rows["whole words"]["n_pred"], rows["whole words"]["n_gold"]) == (1, 2, 1)
    assert (rows["ends inside a word"]["tp"], rows["ends inside a word"]["n_pred"],
            rows["ends inside a word"]["n_gold"]) == (1, 1, 2)


def fold(corpus, doc_id: str, predicted: list[str], gold: list[str], by_length: list[dict]) -> dict:
    return {"corpus_path": str(corpus), "by_length": by_length,
            "per_document": [{"doc_id": doc_id, "predicted": predicted, "gold": gold}]}


def test_pooled_analysis_sums_the_folds_counts_and_reads_the_texts_from_the_corpus(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("发展商业银行\n[商业银行]\n商业银行\n[商业银]\n", encoding="utf-8")
    length = lambda name, tp, n_pred, n_gold: {"length": name, "tp": tp, "n_pred": n_pred, "n_gold": n_gold}  # noqa: E731
    reports = [(tmp_path / "0", fold(corpus, "doc-0000", ["商业银行"], ["商业银行"], [length("4", 1, 1, 1)])),
               (tmp_path / "1", fold(corpus, "doc-0001", ["商业银行"], ["商业银"], [length("4", 0, 1, 0),
                                                                                 length("3", 0, 0, 1)]))]
    pooled = pooled_analysis(reports)
    by_length = {r["length"]: r for r in pooled["by_length"]}
    assert (by_length["4"]["tp"], by_length["4"]["n_pred"], by_length["4"]["n_gold"]) == (1, 2, 1)
    assert by_length["4"]["precision"] == 0.5 and by_length["3"]["recall"] == 0.0
    kinds = {r["kind"]: r for r in pooled["by_word_alignment"]}
    assert kinds["ends inside a word"]["n_gold"] == 1 and kinds["whole words"]["n_pred"] == 2
    summary = {"design": {"kind": "kfold", "text": "2-fold"}, "n_runs": 2, "systems": {}, "jobs": [],
               "pooled": pooled}
    assert "| ends inside a word | 0.0000 | 0.0000 | 0.0000 | 0 | 0 | 1 |" in markdown_cv(summary)


def test_pooled_analysis_leaves_word_alignment_out_when_the_corpus_is_gone(tmp_path):
    reports = [(tmp_path / "0", fold(tmp_path / "missing.txt", "doc-0000", ["a"], ["a"], []))]
    assert pooled_analysis(reports) == {"by_length": []}
