"""evaluation/scoring.py: documents + per-character probabilities -> the model side of a report."""

from __future__ import annotations

import numpy as np
import pytest

from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.data.labeling import label_text, tag_strings_to_ids
from keyphrase_tagger.data.matching import PhraseMatcher
from keyphrase_tagger.evaluation.metrics import prf
from keyphrase_tagger.evaluation.scoring import predicted_phrase_sets, score_documents
from keyphrase_tagger.records import Document

CLEANING = CleaningConfig()


def probs_for(tags: list[str]) -> np.ndarray:
    """Probabilities whose argmax is ``tags`` (not one-hot, like a real model's)."""
    ids = tag_strings_to_ids(tags)
    return (np.eye(3)[ids] * 0.7 + 0.1).astype(np.float32)


def gold_tags(doc: Document) -> np.ndarray:
    return label_text(doc.text, PhraseMatcher(doc.phrases))[0]


def test_predicting_the_gold_tags_scores_one_at_both_levels():
    doc = Document("d0", "数字经济推动服务业发展", ("数字经济", "服务业"))
    tags = gold_tags(doc)
    report = score_documents([doc], [tags], [np.eye(3, dtype=np.float32)[tags]], CLEANING)
    assert report["entity"]["f1"] == 1.0
    assert report["phrase"]["micro"]["f1"] == 1.0
    assert report["per_document"][0]["predicted"] == ["数字经济", "服务业"]


def test_predicted_phrases_are_distinct_strings_in_order_of_first_occurrence():
    text = "服务业和物流，服务业"
    tags = ["B-KP", "I-KP", "I-KP", "O", "B-KP", "I-KP", "O", "B-KP", "I-KP", "I-KP"]
    doc = Document("d0", text, ("服务业",))
    assert predicted_phrase_sets([doc], [probs_for(tags)], CLEANING) == [["服务业", "物流"]]


def test_predicted_spans_get_the_checkpoint_cleaning():
    # The span covers trailing punctuation ("物流，") and a one-character piece ("和"): the pinned
    # cleaning trims the first and drops the second, exactly as it does to gold lists.
    text = "服务业和物流，"
    tags = ["O", "O", "O", "B-KP", "B-KP", "I-KP", "I-KP"]
    doc = Document("d0", text, ("物流",))
    assert predicted_phrase_sets([doc], [probs_for(tags)], CLEANING) == [["物流"]]


def test_orphan_inside_tag_yields_a_phrase_but_no_strict_entity():
    # Phrase level reads the decoder's output (an orphan I-KP starts a span); seqeval strict does not.
    doc = Document("d0", "发展数字经济", ("数字经济",))
    pred = ["O", "O", "I-KP", "I-KP", "I-KP", "I-KP"]
    report = score_documents([doc], [gold_tags(doc)], [probs_for(pred)], CLEANING)
    assert report["per_document"][0]["predicted"] == ["数字经济"]
    assert report["phrase"]["micro"]["f1"] == 1.0
    assert report["entity"]["f1"] == 0.0


def test_per_document_rows_carry_the_lists_their_scores_come_from():
    docs = [
        Document("a", "数字经济推动服务业发展", ("数字经济", "服务业")),
        Document("b", "现代物流体系建设", ("现代物流", "体系建设")),
        Document("c", "没有关键词的句子", ()),
    ]
    preds = [
        ["B-KP", "I-KP", "I-KP", "I-KP", "O", "O", "O", "O", "O", "B-KP", "I-KP"],
        ["O", "O", "O", "O", "O", "O", "O", "O"],
        ["O", "O", "O", "O", "O", "O", "B-KP", "I-KP"],
    ]
    report = score_documents(docs, [gold_tags(d) for d in docs], [probs_for(p) for p in preds], CLEANING)
    rows = report["per_document"]
    assert [r["doc_id"] for r in rows] == ["a", "b", "c"]
    assert [r["predicted"] for r in rows] == [["数字经济", "发展"], [], ["句子"]]
    assert [r["gold"] for r in rows] == [["数字经济", "服务业"], ["现代物流", "体系建设"], []]
    # Hand-computed: a: TP 1 of 2 / 2 gold; b: nothing found of 2; c: 1 false positive, no gold.
    assert [r["f1"] for r in rows] == pytest.approx([0.5, 0.0, 0.0])
    micro = report["phrase"]["micro"]
    assert (micro["tp"], micro["n_pred"], micro["n_gold"]) == (1, 3, 4)
    tp = sum(len(set(r["predicted"]) & set(r["gold"])) for r in rows)
    assert micro == prf(tp, sum(len(r["predicted"]) for r in rows), sum(len(r["gold"]) for r in rows))
    assert report["n_documents"] == 3


def test_entity_scores_counted_in_pieces_are_seqevals_over_the_whole_text(monkeypatch):
    """A long text's tags are handed to seqeval a piece at a time, cut only where no entity of
    either side crosses; the scores are seqeval's own over the whole sequence."""
    from seqeval.metrics import f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    import keyphrase_tagger.evaluation.scoring as scoring

    monkeypatch.setattr(scoring, "ENTITY_PIECE_CHARS", 16)
    rng = np.random.default_rng(0)
    gold = rng.choice(3, size=2000, p=[0.5, 0.2, 0.3]).astype(np.int8)
    pred = np.where(rng.random(2000) < 0.8, gold, rng.choice(3, size=2000)).astype(np.int8)
    gold[300:360] = [1] + [2] * 59  # an entity longer than a piece
    pieces = list(scoring.entity_pieces(gold, pred))
    assert pieces[0][0] == 0 and pieces[-1][1] == 2000 and len(pieces) > 100
    assert all(a < b and (b == 2000 or (gold[b] != 2 and pred[b] != 2)) for a, b in pieces)
    text = "数" * 2000
    report = score_documents([Document("d0", text, ())], [gold], [np.eye(3, dtype=np.float32)[pred]], CLEANING)
    names = ["O", "B-KP", "I-KP"]
    g, p = [[names[t] for t in gold]], [[names[t] for t in pred]]
    kw = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    assert report["entity"] == {"precision": precision_score(g, p, **kw), "recall": recall_score(g, p, **kw),
                                "f1": f1_score(g, p, **kw)}
