"""recipe.py: the O prior and gazetteer fusion, chosen on validation and applied by the extractor."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from conftest import decision_config

from keyphrase_tagger.checkpoint import SETTINGS_FILE, CheckpointSettings
from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.decoding import decode_phrases
from keyphrase_tagger.inference.extractor import KeyphraseExtractor
from keyphrase_tagger.lexicon import build_lexicon
from keyphrase_tagger.lexicon_features import leave_one_out_lexicons
from keyphrase_tagger.recipe import DecodingSettings, adjust, fusion_matcher, tune_decoding
from keyphrase_tagger.records import B, I, O, Document

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
    settings = DecodingSettings()
    assert fusion_matcher(lexicon, settings) is None
    assert adjust("数字经济发展", probs, settings, None).probs is probs


@given(st.floats(0.05, 1.0), st.one_of(st.none(), st.floats(0.0, 0.9)), st.floats(0.0, 1.0))
def test_settings_round_trip_through_the_checkpoint_dict(o_scale, rate, weight):
    settings = DecodingSettings(o_scale, rate, weight)
    assert DecodingSettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings


def test_o_scale_below_one_turns_unsure_characters_into_a_phrase():
    text = "推动服务业发展"
    probs = confident_o(len(text))
    probs[2:5] = [[0.55, 0.4, 0.05], [0.55, 0.05, 0.4], [0.55, 0.05, 0.4]]  # 服务业: O wins narrowly
    assert phrases(text, probs) == []
    adjusted = adjust(text, probs, DecodingSettings(o_scale=0.5), None).probs
    assert phrases(text, adjusted) == ["服务业"]
    np.testing.assert_allclose(adjusted.sum(axis=-1), 1.0)


def test_full_weight_fusion_makes_every_calibrated_match_a_phrase(lexicon):
    text = "数字经济和服务业"
    settings = DecodingSettings(fusion_min_rate=0.5, fusion_weight=1.0)
    fused = adjust(text, confident_o(len(text)), settings, fusion_matcher(lexicon, settings)).probs
    assert phrases(text, fused) == ["数字经济", "服务业"]
    np.testing.assert_allclose(fused.sum(axis=-1), 1.0)


def test_fusion_skips_lexicon_phrases_at_or_below_the_rate_threshold(lexicon):
    text = "发展数字经济"
    settings = DecodingSettings(fusion_min_rate=0.5, fusion_weight=1.0)  # 发展 has rate 1/3
    fused = adjust(text, confident_o(len(text)), settings, fusion_matcher(lexicon, settings)).probs
    assert phrases(text, fused) == ["数字经济"]


def test_light_fusion_tips_only_characters_the_model_was_unsure_of(lexicon):
    text = "数字经济和服务业"
    probs = confident_o(len(text))
    probs[5:8] = [[0.6, 0.35, 0.05], [0.6, 0.05, 0.35], [0.6, 0.05, 0.35]]  # 服务业: unsure
    settings = DecodingSettings(fusion_min_rate=0.5, fusion_weight=0.3)
    fused = adjust(text, probs, settings, fusion_matcher(lexicon, settings)).probs
    # 0.7 * 0.9 = 0.63 for O against 0.3 + 0.7 * 0.05 for B: the confident 数字经济 stays O.
    assert phrases(text, fused) == ["服务业"]


def test_tuning_turns_fusion_on_when_the_model_misses_what_the_lexicon_knows(lexicon):
    docs = [Document("v", "数字经济和服务业", ("数字经济", "服务业"))]
    settings, f1 = tune_decoding(docs, [confident_o(8)], lexicon, CLEANING, decision_config("prior_fusion"))
    assert settings.fusion_min_rate is not None and settings.fusion_min_rate < 1.0
    assert f1 == 1.0


def test_tuning_keeps_the_model_alone_when_the_lexicon_would_only_add_errors(lexicon):
    text = "数字经济和服务业"
    probs = confident_o(len(text))
    probs[5:8] = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]]  # the model finds 服务业
    docs = [Document("v", text, ("服务业",))]  # and 数字经济 is not listed here
    settings, f1 = tune_decoding(docs, [probs], lexicon, CLEANING, decision_config("prior_fusion", o_scale=1.0))
    assert settings == DecodingSettings()
    assert f1 == 1.0


def test_tuning_honours_fixed_values_and_fusion_off(lexicon):
    docs = [Document("v", "数字经济和服务业", ("数字经济", "服务业"))]
    settings, _ = tune_decoding(docs, [confident_o(8)], lexicon, CLEANING,
                                decision_config("prior_fusion", fusion=False, o_scale=0.7))
    assert settings == DecodingSettings(o_scale=0.7)


def test_extractor_applies_the_checkpoints_fusion_and_can_skip_it(smoke_checkpoint, tmp_path):
    checkpoint = tmp_path / "model"
    shutil.copytree(smoke_checkpoint, checkpoint)
    settings = CheckpointSettings.load(checkpoint)
    fused_settings = DecodingSettings(fusion_min_rate=0.0, fusion_weight=1.0)
    CheckpointSettings(settings.max_chars, settings.stride, settings.cleaning, settings.data,
                       settings.lexicon_features, decoding=fused_settings.to_dict()).save(checkpoint)
    extractor = KeyphraseExtractor.from_pretrained(checkpoint, device="cpu")
    assert CheckpointSettings.load(checkpoint).decoding == fused_settings.to_dict()
    lexicon_phrase = max(extractor.fusion.phrases, key=len)
    text = f"。{lexicon_phrase}。"
    assert lexicon_phrase in [p.text for p in extractor.extract(text)]
    raw = extractor.predict_probs([text], adjust=False)[0]
    fused = extractor.predict_probs([text])[0]
    assert np.all(fused[1 : 1 + len(lexicon_phrase)].argmax(axis=-1)[1:] == I)
    assert not np.array_equal(raw, fused)


def test_training_saves_decoding_settings_chosen_on_validation(smoke_checkpoint):
    payload = json.loads((smoke_checkpoint / SETTINGS_FILE).read_text(encoding="utf-8"))
    settings = DecodingSettings.from_dict(payload["decoding"])
    assert payload["decoding"] == settings.to_dict()
    metrics = json.loads((smoke_checkpoint.parent / "metrics.json").read_text(encoding="utf-8"))
    # Tuning starts from the untouched model, so it can only match or beat its validation score.
    assert metrics["eval_tuned_phrase_f1"] >= metrics["eval_phrase_f1"] - 1e-9


def test_settings_describe_themselves_in_one_short_line_without_the_weights():
    assert DecodingSettings().describe() == "O scale 1, no fusion"
    assert DecodingSettings(0.7, 0.2, 0.3).describe() == (
        "O scale 0.7, fusion of lexicon phrases with rate > 0.2 at weight 0.3")
    rescore = {"candidate_o_scale": 0.5, "features": ["bias", "log_count"], "hidden": [[0.1, 0.2]] * 64,
               "hidden_bias": [0.0] * 64, "output": [0.5] * 64, "nested": True}
    assert DecodingSettings(rescore=rescore).describe() == (
        "phrase rescorer (hidden 64, 2 features, candidates at O scale 0.5, nested phrases)")
    assert "logistic regression" in DecodingSettings(rescore=dict(rescore, hidden=[])).describe()


def test_tuning_logs_each_step_with_its_result_in_short_lines(caplog):
    lexicon = build_lexicon(TRAIN, with_words=True)
    train = [(d, confident_o(len(d.text)), loo) for d, loo in zip(TRAIN, leave_one_out_lexicons(lexicon, TRAIN))]
    docs = [Document("v", "数字经济和服务业", ("数字经济", "服务业"))]
    with caplog.at_level("INFO", logger="keyphrase_tagger"):
        tune_decoding(docs, [confident_o(8)], lexicon, CLEANING,
                      decision_config("rescorer", rescore_hidden=4, rescore_steps=20), train=train)
    messages = [r.getMessage() for r in caplog.records]
    for step in ("decoding: best of 27 O prior / fusion settings on 1 validation documents",
                 "rescorer: ", "candidates of 3 training documents",
                 "rescorer: hidden layer of 4, 20 Adam steps fitted",
                 "rescorer: threshold ", "decoding: phrase rescorer "):
        assert any(step in m for m in messages), step
    assert all(len(m) < 300 and "np.float64" not in m for m in messages)
