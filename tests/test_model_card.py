"""training/model_card.py: every checkpoint's ``model/README.md`` (Hugging Face model card), from
plain values and from a smoke training run."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from conftest import compose
from omegaconf import OmegaConf

from keyphrase_tagger.checkpoint import validate_checkpoint
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.evaluation.evaluate import evaluate
from keyphrase_tagger.training.model_card import CARD_FILE, MODEL_DIR_PLACEHOLDER, model_card

STATS = {"all": {"documents": 40, "characters": 249284, "kept_phrases": 11476, "tagged_spans": 27384},
         "train": {"documents": 32, "characters": 199168, "kept_phrases": 9512, "tagged_spans": 22453},
         "validation": {"documents": 4, "characters": 31003, "kept_phrases": 1057, "tagged_spans": 2704},
         "test": {"documents": 4, "characters": 19113, "kept_phrases": 907, "tagged_spans": 2227}}
METRICS = {"eval_phrase_f1": 0.3705, "eval_tuned_phrase_f1": 0.4764, "eval_entity_f1": 0.2871, "best_epoch": 4}
PRETRAINED = {"name": "bert_base_chinese", "from_scratch": False, "name_or_path": "bert-base-chinese"}
SCRATCH = {"name": "tiny", "from_scratch": True, "name_or_path": None}
LEXICON = {"enabled": True, "rate_edges": [0.1, 0.3, 0.6], "recurrence": True}
RESCORER_LINE = "phrase rescorer (hidden 64, 145 features, candidates at O scale 0.5, nested phrases)"


def split_card(text: str) -> tuple[dict, str]:
    """The front matter (parsed) and the Markdown body."""
    match = re.match(r"---\n(.*?)\n---\n(.*)", text, re.S)
    assert match, text[:200]
    return OmegaConf.to_container(OmegaConf.create(match[1])), match[2]


def section(body: str, heading: str) -> str:
    """The text under ``## heading`` up to the next heading of that level."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", body, re.S | re.M)
    assert match, f"no section {heading}"
    return match[1]


def test_the_card_has_the_front_matter_and_every_section_with_the_given_numbers():
    meta, body = split_card(model_card(model=PRETRAINED, head="softmax", data_stats=STATS, lexicon_features=LEXICON,
                                       decision_kind="rescorer", decision_line=RESCORER_LINE, metrics=METRICS,
                                       corpus="policy_keyphrases.txt", max_chars=126))
    assert meta == {"language": "zh", "library_name": "transformers", "pipeline_tag": "token-classification",
                    "tags": ["keyphrase-extraction", "token-classification", "chinese", "bert"],
                    "base_model": "bert-base-chinese"}
    model = section(body, "Model")
    assert "`model=bert_base_chinese`" in model and "fine-tuned from `bert-base-chinese`" in model
    assert "head: softmax" in model
    data = section(body, "Training data")
    assert "policy_keyphrases.txt" in data
    assert "| split | documents | characters | phrases | tagged spans |" in data
    for row in ("| train | 32 | 199168 | 9512 | 22453 |", "| validation | 4 | 31003 | 1057 | 2704 |",
                "| test | 4 | 19113 | 907 | 2227 |"):
        assert row in data
    assert "| all |" not in data
    features = section(body, "Lexicon features")
    assert features.lstrip().startswith("On (`features=lexicon`)") and "0.1, 0.3, 0.6" in features
    assert "recurs in the document" in features and "jieba word" not in features
    with_words = model_card(model=PRETRAINED, data_stats=STATS, lexicon_features={**LEXICON, "word_boundaries": True},
                            decision_kind="rescorer", decision_line=RESCORER_LINE, metrics=METRICS)
    assert "place in its jieba word" in section(split_card(with_words)[1], "Lexicon features")
    assert f"`rescorer`: {RESCORER_LINE}." in section(body, "Decision")
    scores = section(body, "Validation scores")
    for key, value in (("eval_tuned_phrase_f1", "0.4764"), ("eval_phrase_f1", "0.3705"),
                       ("eval_entity_f1", "0.2871"), ("best_epoch", "4")):
        assert re.search(rf"\(`{key}`\) \| {re.escape(value)} \|", scores), key
    assert f"kpt-evaluate checkpoint={MODEL_DIR_PLACEHOLDER} split=test" in section(body, "Test scores")
    usage = section(body, "How to use")
    for name in ("KeyphraseExtractor.from_pretrained", "AutoModelForTokenClassification.from_pretrained",
                 "AutoTokenizer.from_pretrained", "windows of 126 characters"):
        assert name in usage


def test_the_card_says_what_a_run_did_not_have():
    meta, body = split_card(model_card(model={**SCRATCH, "head": "crf"}, head="crf", data_stats=STATS,
                                       lexicon_features={"enabled": False}, decision_kind="argmax",
                                       decision_line="argmax", metrics={}, max_documents=3))
    assert "base_model" not in meta  # trained from scratch
    assert "trained from scratch" in section(body, "Model") and "head: crf" in section(body, "Model")
    assert "`data.max_documents=3`" in section(body, "Training data")
    assert section(body, "Lexicon features").lstrip().startswith("Off (`features=none`)")
    assert "Nothing is fitted" in section(body, "Decision")
    assert "no validation documents" in section(body, "Validation scores")
    assert "without the lexicon features" not in section(body, "How to use")
    # A tagger kept from another checkpoint, pretrained from a local path: no hub base model.
    meta, body = split_card(model_card(model={**PRETRAINED, "name_or_path": "/models/bert-base-chinese"},
                                       data_stats=STATS, lexicon_features=LEXICON, decision_kind="prior_fusion",
                                       decision_line="O prior", metrics=METRICS, tagger_from="/runs/a/model"))
    assert "base_model" not in meta
    model = section(body, "Model")
    assert "fine-tuned from `/models/bert-base-chinese`" in model and "head: softmax" in model
    assert "tagger: kept from `/runs/a/model`" in model


def test_a_trained_checkpoint_has_a_card_naming_its_decision_and_validation_f1(smoke_run):
    card = (smoke_run / "model" / CARD_FILE).read_text(encoding="utf-8")
    meta, body = split_card(card)
    assert meta["language"] == "zh" and meta["pipeline_tag"] == "token-classification"
    metrics = json.loads((smoke_run / "metrics.json").read_text(encoding="utf-8"))
    settings = json.loads((smoke_run / "model" / "keyphrase_tagger.json").read_text(encoding="utf-8"))
    kind = settings["decision"].get("kind", "argmax")
    assert f"`{kind}`: {metrics['decision']}." in section(body, "Decision")
    scores = section(body, "Validation scores")
    assert f"(`eval_tuned_phrase_f1`) | {metrics['eval_tuned_phrase_f1']:.4f} |" in scores
    assert f"(`eval_phrase_f1`) | {metrics['eval_phrase_f1']:.4f} |" in scores
    assert "`model=tiny`" in section(body, "Model") and "head: softmax" in section(body, "Model")
    stats = json.loads((smoke_run / "run_info.json").read_text(encoding="utf-8"))["data_stats"]
    assert f"| train | {stats['train']['documents']} | {stats['train']['characters']} |" in body


def test_the_cards_loading_examples_run_on_the_checkpoint(smoke_checkpoint):
    body = (smoke_checkpoint / CARD_FILE).read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", body, re.S)
    assert len(blocks) == 2
    extractor_code, transformers_code = (b.replace(MODEL_DIR_PLACEHOLDER, str(smoke_checkpoint)) for b in blocks)
    exec(compile(extractor_code, "card-extractor", "exec"), {})
    scope: dict = {}
    exec(compile(transformers_code, "card-transformers", "exec"), scope)
    assert len(scope["tags"]) == len(scope["text"]) and set(scope["tags"]) <= {"O", "B-KP", "I-KP"}


def test_the_card_leaves_checkpoint_validation_and_evaluations_refusals_as_they_were(smoke_run, tmp_path):
    run = shutil.copytree(smoke_run, tmp_path / "run")
    assert (run / "model" / CARD_FILE).is_file()
    validate_checkpoint(run / "model")
    (run / "model" / CARD_FILE).unlink()  # a checkpoint without a card is as valid
    validate_checkpoint(run / "model")
    shutil.copy(smoke_run / "model" / CARD_FILE, run / "model" / CARD_FILE)
    for output_dir in (run / "model", run):
        cfg = compose("evaluate", [f"checkpoint={run / 'model'}", f"output_dir={output_dir}", "device=cpu"])
        with pytest.raises(ConfigError, match="holds the checkpoint"):
            evaluate(cfg)
    assert (run / "model" / CARD_FILE).read_text(encoding="utf-8") == (smoke_run / "model" / CARD_FILE).read_text(
        encoding="utf-8")
    # A directory holding only a copy of a card is not this program's output either.
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(smoke_run / "model" / CARD_FILE, tmp_path / "elsewhere" / CARD_FILE)
    cfg = compose("evaluate", [f"checkpoint={run / 'model'}", f"output_dir={tmp_path / 'elsewhere'}", "device=cpu"])
    with pytest.raises(ConfigError, match="holds files keyphrase-tagger did not write"):
        evaluate(cfg)
    assert [p.name for p in (tmp_path / "elsewhere").iterdir()] == [CARD_FILE]


def test_a_refit_describes_the_kept_tagger_by_the_config_it_was_trained_with(smoke_run, tmp_path):
    from conftest import CORPUS

    from keyphrase_tagger.training.train import train

    out = tmp_path / "refit"
    # model=bert_base_chinese here is not what the kept tagger is: the card reads the tagger's own run.
    train(compose("train", ["experiment=smoke", "model=bert_base_chinese", f"tagger_from={smoke_run}",
                            "decision=argmax", f"output_dir={out}", f"data.corpus_path={CORPUS}",
                            f"data.processed_dir={tmp_path / 'processed'}"]))
    meta, body = split_card((out / "model" / CARD_FILE).read_text(encoding="utf-8"))
    model = section(body, "Model")
    assert "`model=tiny`: a BERT trained from scratch" in model and "base_model" not in meta
    assert f"tagger: kept from `{smoke_run / 'model'}`" in model
    assert "`argmax`: argmax. Nothing is fitted" in section(body, "Decision")
