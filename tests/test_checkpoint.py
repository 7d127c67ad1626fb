"""A checkpoint is checked as a whole when it is loaded: every part it uses is there and the parts fit
together, or one line names the file at fault, before any weights are read."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from keyphrase_tagger import KeyphraseExtractor
from keyphrase_tagger.checkpoint import (
    SETTINGS_FILE,
    CheckpointSettings,
    validate_checkpoint,
)
from keyphrase_tagger.decision.candidates import feature_names
from keyphrase_tagger.decision.kinds import PriorFusion
from keyphrase_tagger.decision.rescorer import Rescorer, RescorerDecision
from keyphrase_tagger.errors import CheckpointError
from keyphrase_tagger.tagger.encoding import build_char_vocab, make_char_tokenizer


@pytest.fixture
def checkpoint(smoke_checkpoint, tmp_path) -> Path:
    """A copy of the smoke checkpoint, free to damage."""
    copy = tmp_path / "model"
    shutil.copytree(smoke_checkpoint, copy)
    return copy


def edit_json(path: Path, change: Callable[[dict], object]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def edit_rescore(checkpoint: Path, change: Callable[[dict], object]) -> None:
    """Change the saved rescorer decision (what :func:`use_word_rescorer` saved)."""
    edit_json(checkpoint / SETTINGS_FILE, lambda s: change(s["decision"]))


def use_word_rescorer(checkpoint: Path) -> None:
    """Decide with a rescorer that reads word statistics, whatever the smoke run chose on validation."""
    groups = ("document", "words")
    n = len(feature_names(groups))
    rescorer = Rescorer(0.5, (0.0,) * n, (1.0,) * n, (0.0,) * n, 0.0, (), (), groups, False)
    decision = RescorerDecision(rescorer, None, None)
    edit_json(checkpoint / SETTINGS_FILE, lambda s: s.__setitem__("decision", decision.to_dict()))


def use_prior_fusion(checkpoint: Path, **changes) -> None:
    """Decide with an O prior and fusion, with ``changes`` made to its saved settings."""
    decision = dict(PriorFusion(0.7, 0.2, 0.3).to_dict(), **changes)
    edit_json(checkpoint / SETTINGS_FILE, lambda s: s.__setitem__("decision", decision))


def without_lexicon_features(checkpoint: Path) -> None:
    """A tagger that reads no lexicon features: only the decision may need the lexicon."""
    edit_json(checkpoint / SETTINGS_FILE, lambda s: s.__setitem__("lexicon_features", {"enabled": False}))


def foreign_tokenizer(checkpoint: Path) -> None:
    make_char_tokenizer(build_char_vocab(["abcdef"]), model_max_length=64).save_pretrained(str(checkpoint))


DAMAGES: dict[str, tuple[Callable[[Path], object], str, str]] = {
    # name: (damage, the file the message names, what it says)
    "no_tokenizer": (lambda c: (c / "tokenizer.json").unlink(), "tokenizer.json", "missing"),
    "foreign_tokenizer": (foreign_tokenizer, "tokenizer.json", "11 tokens, the model"),
    "unreadable_tokenizer": (lambda c: (c / "tokenizer.json").write_text("{", encoding="utf-8"), "tokenizer.json",
                             "unreadable"),
    "no_weights": (lambda c: (c / "model.safetensors").unlink(), "model.safetensors", "missing"),
    "truncated_weights": (lambda c: (c / "model.safetensors").write_bytes((c / "model.safetensors").read_bytes()[:99]),
                          "model.safetensors", "unreadable model weights"),
    "no_lexicon": (lambda c: (c / "lexicon.json").unlink(), "lexicon.json", "missing"),
    "no_word_stats": (lambda c: (use_word_rescorer(c), (c / "word_stats.json").unlink()), "word_stats.json",
                      "missing"),
    "word_stats_of_four_counts": (lambda c: (use_word_rescorer(c), (c / "word_stats.json").write_text(
        '{"数字": [9, 9, 0, 9]}', encoding="utf-8")), "word_stats.json", "unreadable word statistics"),
    "no_decision": (lambda c: edit_json(c / SETTINGS_FILE, lambda s: s.pop("decision")), SETTINGS_FILE,
                    "unreadable settings \\(no 'decision'\\)"),
    "decision_not_an_object": (lambda c: edit_json(c / SETTINGS_FILE, lambda s: s.update(decision=[1])),
                               SETTINGS_FILE, "decision must be an object, not list"),
    "decision_of_unknown_kind": (lambda c: use_prior_fusion(c, kind="rescore"), SETTINGS_FILE,
                                 "decision.kind='rescore': not one of argmax, prior_fusion, rescorer"),
    "rescore_without_weights": (lambda c: (use_word_rescorer(c), edit_rescore(c, lambda r: r.pop("output"))),
                                SETTINGS_FILE, r"decision \(rescorer\) lacks 'output'"),
    "rescore_weights_not_numbers": (lambda c: (use_word_rescorer(c), edit_rescore(c, lambda r: r.update(mean="x"))),
                                    SETTINGS_FILE, r"unreadable decision \(rescorer\)"),
    "rescore_weights_too_short": (lambda c: (use_word_rescorer(c), edit_rescore(c, lambda r: r["scale"].pop())),
                                  SETTINGS_FILE, "weights do not fit"),
    "rescore_unknown_features": (lambda c: (use_word_rescorer(c), edit_rescore(c, lambda r: r.update(groups=["x"]))),
                                 SETTINGS_FILE, "unknown rescorer feature groups"),
    "o_scale_not_a_number": (lambda c: use_prior_fusion(c, o_scale="x"), SETTINGS_FILE,
                             r"unreadable decision \(prior_fusion\)"),
    "fusion_without_lexicon": (lambda c: (use_prior_fusion(c), without_lexicon_features(c),
                                          (c / "lexicon.json").unlink()), "lexicon.json", "missing"),
    "window_beyond_positions": (lambda c: edit_json(c / SETTINGS_FILE, lambda s: s["window"].update(max_chars=63)),
                                SETTINGS_FILE, "max_chars=63 .* exceeds the model's 64 positions"),
    "unreadable_model_config": (lambda c: (c / "config.json").write_text("{", encoding="utf-8"), "config.json",
                                "unreadable model config"),
    "too_few_token_types": (lambda c: edit_json(c / "config.json", lambda m: m.update(type_vocab_size=2)),
                            "config.json", "type_vocab_size=2"),
}


@pytest.mark.parametrize("damage", list(DAMAGES))
def test_a_damaged_checkpoint_is_refused_in_one_line_naming_the_file(checkpoint, damage):
    apply, name, message = DAMAGES[damage]
    apply(checkpoint)
    with pytest.raises(CheckpointError, match=message) as info:
        validate_checkpoint(checkpoint)
    assert str(info.value).startswith(str(checkpoint / name))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("damage", ["no_tokenizer", "no_weights", "no_word_stats", "word_stats_of_four_counts",
                                    "window_beyond_positions"])
def test_loading_a_damaged_checkpoint_fails_before_the_model_runs(checkpoint, damage):
    apply, name, message = DAMAGES[damage]
    apply(checkpoint)
    with pytest.raises(CheckpointError, match=message):
        KeyphraseExtractor.from_pretrained(checkpoint, device="cpu")


def test_an_intact_checkpoint_validates_to_its_settings(smoke_checkpoint):
    assert validate_checkpoint(smoke_checkpoint) == CheckpointSettings.load(smoke_checkpoint)


@pytest.mark.parametrize("decision", [{}, {"kind": "argmax"}, PriorFusion(0.7).to_dict()])
def test_a_decision_that_reads_no_lexicon_needs_none(checkpoint, decision):
    without_lexicon_features(checkpoint)
    edit_json(checkpoint / SETTINGS_FILE, lambda s: s.__setitem__("decision", decision))
    (checkpoint / "lexicon.json").unlink()
    assert validate_checkpoint(checkpoint).decision == decision


def test_a_tokenizer_built_from_a_vocabulary_file_of_another_size_is_refused(checkpoint):
    (checkpoint / "tokenizer.json").unlink()
    (checkpoint / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n服\n务\n", encoding="utf-8")
    with pytest.raises(CheckpointError, match="has 7 tokens") as info:
        KeyphraseExtractor.from_pretrained(checkpoint, device="cpu")
    assert str(info.value).startswith(str(checkpoint / "vocab.txt"))


def test_sharded_safetensors_weights_load_and_a_missing_shard_is_named(smoke_checkpoint, checkpoint):
    from transformers import AutoModelForTokenClassification

    model = AutoModelForTokenClassification.from_pretrained(str(checkpoint))
    (checkpoint / "model.safetensors").unlink()
    model.save_pretrained(str(checkpoint), max_shard_size="60KB")
    shards = sorted(checkpoint.glob("model-*.safetensors"))
    assert len(shards) > 1 and (checkpoint / "model.safetensors.index.json").is_file()
    text = "完善养老服务体系，发展数字经济和金融科技"
    whole = KeyphraseExtractor.from_pretrained(smoke_checkpoint, device="cpu").predict_probs([text])
    sharded = KeyphraseExtractor.from_pretrained(checkpoint, device="cpu").predict_probs([text])
    assert (sharded[0] == whole[0]).all()
    shards[-1].unlink()
    with pytest.raises(CheckpointError, match="missing") as info:
        validate_checkpoint(checkpoint)
    assert str(info.value).startswith(str(shards[-1]))


def test_evaluation_refuses_a_damaged_checkpoint_before_reading_the_corpus(checkpoint):
    from keyphrase_tagger.evaluation.evaluate import build_report

    (checkpoint / "tokenizer.json").unlink()
    edit_json(checkpoint / SETTINGS_FILE, lambda s: s["data"].update(corpus_path=str(checkpoint / "absent.txt")))
    with pytest.raises(CheckpointError, match="tokenizer.json: missing"):
        build_report(checkpoint, "test", device="cpu")
