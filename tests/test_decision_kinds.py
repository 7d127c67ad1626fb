"""decision/kinds.py and decision/fit.py: the argmax and O prior / gazetteer fusion decisions, their
checkpoint dicts, and ``fit_decision`` choosing one on validation; the extractor applies it."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import decision_config
from hypothesis import given
from hypothesis import strategies as st

from keyphrase_tagger.checkpoint import SETTINGS_FILE, CheckpointSettings
from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.decision.candidates import feature_names
from keyphrase_tagger.decision.decoder import argmax_decided, decode_phrases
from keyphrase_tagger.decision.fit import fit_decision
from keyphrase_tagger.decision.kinds import Argmax, PriorFusion, load_decision
from keyphrase_tagger.decision.rescorer import Rescorer, RescorerDecision
from keyphrase_tagger.errors import CheckpointError
from keyphrase_tagger.inference.extractor import KeyphraseExtractor
from keyphrase_tagger.lexicon.leave_one_out import leave_one_out_lexicons
from keyphrase_tagger.lexicon.lexicon import build_lexicon
from keyphrase_tagger.records import B, Document, I, O

CLEANING = CleaningConfig()
# Rates P(listed | occurs): 数字经济 2/2, 服务业 1/1, 发展 1/3.
TRAIN = [
    Document("t1", "数字经济推动服务业发展", ("数字经济", "服务业", "发展")),
    Document("t2", "数字经济与发展", ("数字经济",)),
    Document("t3", "发展规划", ()),
]


def confident_o(n: int) -> np.ndarray:
    probs = np.zeros((n, 3))
    probs[:, O] = 0.9
    probs[:, B] = probs[:, I] = 0.05
    return probs


def phrases(text: str, probs: np.ndarray) -> list[str]:
    return [p.text for p in decode_phrases(text, probs, CLEANING)]


@pytest.fixture
def lexicon():
    return build_lexicon(TRAIN)


def test_default_settings_leave_the_probabilities_untouched(lexicon):
    probs = confident_o(6)
    settings = PriorFusion(1.0, None, 1.0, lexicon)
    assert settings.matcher is None and not settings.uses_lexicon
    assert settings.adjusted("数字经济发展", probs) is probs
    decided, plain = settings.decide("数字经济发展", probs), argmax_decided(probs)
    np.testing.assert_array_equal(decided.tags, plain.tags)
    assert decided.spans == plain.spans


@given(st.floats(0.05, 1.0), st.one_of(st.none(), st.floats(0.0, 0.9)), st.floats(0.0, 1.0))
def test_settings_round_trip_through_the_checkpoint_dict(o_scale, rate, weight):
    settings = PriorFusion(o_scale, rate, weight)
    assert settings.to_dict()["kind"] == "prior_fusion"
    assert load_decision(json.loads(json.dumps(settings.to_dict()))) == settings


def test_argmax_round_trips_and_is_what_an_empty_decision_means():
    assert Argmax().to_dict() == {"kind": "argmax"}
    assert load_decision(json.loads(json.dumps(Argmax().to_dict()))) == Argmax()
    assert load_decision({}) == load_decision(None) == Argmax()
    # Equal iff the same kind with the same settings.
    assert PriorFusion() != Argmax() and PriorFusion(0.7) != PriorFusion(0.5)
    assert PriorFusion(0.7, None, 1.0, build_lexicon(TRAIN)) == PriorFusion(0.7)


@pytest.mark.parametrize(("cfg", "message"), [
    ({"kind": "no_such_kind"}, "decision.kind='no_such_kind': not one of argmax, prior_fusion, rescorer"),
    ({"kind": "prior_fusion", "o_scale": 1.0, "fusion_min_rate": None},
     r"decision \(prior_fusion\) lacks 'fusion_weight'"),
    ({"kind": "prior_fusion", "o_scale": "x", "fusion_min_rate": None, "fusion_weight": 1.0},
     r"unreadable decision \(prior_fusion\)"),
])
def test_a_malformed_decision_dict_is_a_checkpoint_error(cfg, message):
    with pytest.raises(CheckpointError, match=message):
        load_decision(cfg)


def test_fusion_without_the_lexicon_is_refused_when_applied():
    with pytest.raises(ValueError, match="lexicon"):
        PriorFusion(1.0, 0.5, 1.0).adjusted("数字经济", confident_o(4))


def test_o_scale_below_one_turns_unsure_characters_into_a_phrase():
    text = "推动服务业发展"
    probs = confident_o(len(text))
    probs[2:5] = [[0.55, 0.4, 0.05], [0.55, 0.05, 0.4], [0.55, 0.05, 0.4]]  # 服务业: O wins narrowly
    assert phrases(text, probs) == []
    adjusted = PriorFusion(0.5, None, 1.0).adjusted(text, probs)
    assert phrases(text, adjusted) == ["服务业"]
    np.testing.assert_allclose(adjusted.sum(axis=-1), 1.0)


def test_full_weight_fusion_makes_every_calibrated_match_a_phrase(lexicon):
    text = "数字经济和服务业"
    settings = PriorFusion(1.0, 0.5, 1.0, lexicon)
    fused = settings.adjusted(text, confident_o(len(text)))
    assert phrases(text, fused) == ["数字经济", "服务业"]
    np.testing.assert_allclose(fused.sum(axis=-1), 1.0)


def test_fusion_skips_lexicon_phrases_at_or_below_the_rate_threshold(lexicon):
    text = "发展数字经济"
    settings = PriorFusion(1.0, 0.5, 1.0, lexicon)  # 发展 has rate 1/3
    fused = settings.adjusted(text, confident_o(len(text)))
    assert phrases(text, fused) == ["数字经济"]


def test_light_fusion_tips_only_characters_the_model_was_unsure_of(lexicon):
    text = "数字经济和服务业"
    probs = confident_o(len(text))
    probs[5:8] = [[0.6, 0.35, 0.05], [0.6, 0.05, 0.35], [0.6, 0.05, 0.35]]  # 服务业: unsure
    settings = PriorFusion(1.0, 0.5, 0.3, lexicon)
    fused = settings.adjusted(text, probs)
    # 0.7 * 0.9 = 0.63 for O against 0.3 + 0.7 * 0.05 for B: the confident 数字经济 stays O.
    assert phrases(text, fused) == ["服务业"]


def test_tuning_turns_fusion_on_when_the_model_misses_what_the_lexicon_knows(lexicon):
    docs = [Document("v", "数字经济和服务业", ("数字经济", "服务业"))]
    settings, f1 = fit_decision(decision_config("prior_fusion"), docs, [confident_o(8)], lexicon, CLEANING)
    assert isinstance(settings, PriorFusion)
    assert settings.fusion_min_rate is not None and settings.fusion_min_rate < 1.0
    assert f1 == 1.0


def test_tuning_keeps_the_model_alone_when_the_lexicon_would_only_add_errors(lexicon):
    text = "数字经济和服务业"
    probs = confident_o(len(text))
    probs[5:8] = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]  # the model finds 服务业
    docs = [Document("v", text, ("服务业",))]  # and 数字经济 is not listed here
    settings, f1 = fit_decision(decision_config("prior_fusion", o_scale=1.0), docs, [probs], lexicon, CLEANING)
    assert settings == PriorFusion(1.0, None, 1.0, lexicon)
    assert f1 == 1.0


def test_tuning_honours_fixed_values_and_fusion_off(lexicon):
    docs = [Document("v", "数字经济和服务业", ("数字经济", "服务业"))]
    settings, _ = fit_decision(decision_config("prior_fusion", fusion=False, o_scale=0.7), docs, [confident_o(8)],
                               lexicon, CLEANING)
    assert settings == PriorFusion(0.7, None, 1.0, lexicon)


def test_fitting_argmax_fits_nothing_and_reports_its_f1(lexicon):
    text = "数字经济和服务业"
    probs = confident_o(len(text))
    probs[5:8] = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]  # the model finds 服务业 only
    docs = [Document("v", text, ("数字经济", "服务业"))]
    settings, f1 = fit_decision(decision_config("argmax"), docs, [probs], lexicon, CLEANING)
    assert settings == Argmax()
    assert f1 == pytest.approx(2 / 3)


def test_extractor_applies_the_checkpoints_fusion_to_the_models_probabilities(smoke_checkpoint, tmp_path):
    checkpoint = tmp_path / "model"
    shutil.copytree(smoke_checkpoint, checkpoint)
    settings = CheckpointSettings.load(checkpoint)
    fused_settings = PriorFusion(1.0, 0.0, 1.0)
    CheckpointSettings(settings.max_chars, settings.stride, settings.cleaning, settings.data,
                       settings.lexicon_features, decision=fused_settings.to_dict()).save(checkpoint)
    extractor = KeyphraseExtractor.from_pretrained(checkpoint, device="cpu")
    assert CheckpointSettings.load(checkpoint).decision == fused_settings.to_dict()
    assert extractor.decision == fused_settings
    lexicon_phrase = max(extractor.decision.matcher.phrases, key=len)
    text = f"。{lexicon_phrase}。"
    assert lexicon_phrase in [p.text for p in extractor.extract(text)]
    raw = extractor.predict_probs([text])[0]  # the model's own probabilities
    fused = extractor.decision.adjusted(text, raw)
    assert np.all(fused[1 : 1 + len(lexicon_phrase)].argmax(axis=-1)[1:] == I)
    assert not np.array_equal(raw, fused)
    # What the extractor decides is the fused probabilities read by argmax.
    np.testing.assert_array_equal(extractor.predict([text])[0].tags, fused.argmax(axis=-1))


def test_training_saves_the_decision_chosen_on_validation(smoke_checkpoint):
    payload = json.loads((smoke_checkpoint / SETTINGS_FILE).read_text(encoding="utf-8"))
    settings = load_decision(payload["decision"])
    assert payload["decision"] == settings.to_dict()
    assert payload["decision"]["kind"] in ("prior_fusion", "rescorer")  # the default config fits one
    metrics = json.loads((smoke_checkpoint.parent / "metrics.json").read_text(encoding="utf-8"))
    # Tuning starts from the untouched model, so it can only match or beat its validation score.
    assert metrics["eval_tuned_phrase_f1"] >= metrics["eval_phrase_f1"] - 1e-9


def test_settings_describe_themselves_in_one_short_line_without_the_weights():
    assert Argmax().describe() == "argmax"
    assert PriorFusion().describe() == "O scale 1, no fusion"
    assert PriorFusion(0.7, 0.2, 0.3).describe() == (
        "O scale 0.7, fusion of lexicon phrases with rate > 0.2 at weight 0.3")
    groups = ("document",)
    n = len(feature_names(groups))
    rescorer = Rescorer(0.5, (0.0,) * n, (1.0,) * n, (0.5,) * 64, 0.0, ((0.1,) * n,) * 64, (0.0,) * 64, groups, True)
    assert RescorerDecision(rescorer, None, None).describe() == (
        f"phrase rescorer (hidden 64, {n} features, candidates at O scale 0.5, nested phrases)")
    linear = Rescorer(0.5, (0.0,) * n, (1.0,) * n, (0.5,) * n, 0.0, (), (), groups, True)
    assert "logistic regression" in RescorerDecision(linear, None, None).describe()


def test_tuning_logs_each_step_with_its_result_in_short_lines(caplog):
    lexicon = build_lexicon(TRAIN, with_words=True)
    train = [(d, confident_o(len(d.text)), loo) for d, loo in zip(TRAIN, leave_one_out_lexicons(lexicon, TRAIN))]
    docs = [Document("v", "数字经济和服务业", ("数字经济", "服务业"))]
    with caplog.at_level("INFO", logger="keyphrase_tagger"):
        fit_decision(decision_config("rescorer", rescore_hidden=4, rescore_steps=20), docs, [confident_o(8)], lexicon,
                     CLEANING, train=train)
    messages = [r.getMessage() for r in caplog.records]
    for step in ("decision: best of 27 O prior / fusion settings on 1 validation documents",
                 "rescorer: ", "candidates of 3 training documents",
                 "rescorer: hidden layer of 4, 20 Adam steps fitted",
                 "rescorer: threshold ", "decision: phrase rescorer "):
        assert any(step in m for m in messages), step
    assert all(len(m) < 300 and "np.float64" not in m for m in messages)
