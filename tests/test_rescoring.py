"""decision/rescorer.py and decision/rescorer_fit.py: the phrase-level rescorer over candidate phrases
(candidates.py), its decision and its fit."""

from __future__ import annotations

import dataclasses
import json
import math
import shutil

import numpy as np
import pytest
from conftest import decision_config
from hypothesis import given
from hypothesis import strategies as st

from keyphrase_tagger.checkpoint import CheckpointSettings
from keyphrase_tagger.data.cleaning import CleaningConfig
from keyphrase_tagger.data.labeling import spans_to_tag_ids, tags_to_spans
from keyphrase_tagger.decision.candidates import (
    GROUPS,
    candidate_features,
    feature_names,
)
from keyphrase_tagger.decision.decoder import decode_phrases, scale_o
from keyphrase_tagger.decision.fit import fit_decision
from keyphrase_tagger.decision.kinds import PriorFusion, load_decision
from keyphrase_tagger.decision.rescorer import Rescorer, RescorerDecision
from keyphrase_tagger.decision.rescorer_fit import (
    choose_threshold,
    fit_ensemble,
    fit_logistic,
    fit_mlp,
    fit_rescorer,
)
from keyphrase_tagger.decision.spans import MAX_CHARS, MAX_WORDS
from keyphrase_tagger.errors import CheckpointError
from keyphrase_tagger.evaluation.metrics import phrase_scores
from keyphrase_tagger.inference.extractor import KeyphraseExtractor
from keyphrase_tagger.lexicon.leave_one_out import leave_one_out_lexicons
from keyphrase_tagger.lexicon.lexicon import build_lexicon
from keyphrase_tagger.records import B, Document, I, O

CLEANING = CleaningConfig()
# The groups that need no segmentation: small hand-made cases stay readable.
NO_WORDS = ("document", "lexicon", "tagger")
FEATURES = feature_names(NO_WORDS)


def confident_o(n: int) -> np.ndarray:
    probs = np.zeros((n, 3))
    probs[:, O] = 0.9
    probs[:, B] = probs[:, I] = 0.05
    return probs


def tagged(probs: np.ndarray, start: int, end: int) -> np.ndarray:
    probs = probs.copy()
    probs[start] = (0.0, 1.0, 0.0)
    probs[start + 1 : end] = (0.0, 0.0, 1.0)
    return probs


def feature(names: list[str], x: np.ndarray, phrase: str, name: str) -> float:
    return float(x[names.index(phrase), FEATURES.index(name)])


def fit(train, validation, lexicon, hidden: int, groups=GROUPS):
    """``fit_rescorer`` with the shipped rescorer's other settings (``configs/decision/rescorer.yaml``)."""
    cfg = decision_config("rescorer")
    return fit_rescorer(train, validation, lexicon, CLEANING, cfg["candidate_o_scale"], hidden, groups=groups,
                        steps=cfg["rescore_steps"], nested=cfg["rescore_nested"])


def accept_lexicon_phrases(threshold_logit: float = 0.0) -> Rescorer:
    """A hand-made rescorer: accept exactly the candidates that are in the lexicon."""
    weights = [0.0] * len(FEATURES)
    weights[FEATURES.index("in_lexicon")] = 10.0
    return Rescorer(0.5, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), tuple(weights), -5.0 - threshold_logit,
                    (), (), NO_WORDS, False)


def test_candidates_are_tagger_spans_and_lexicon_matches_with_their_recurrence():
    lexicon = build_lexicon([Document("t", "数字经济与服务业", ("数字经济",))])
    text = "数字经济推动服务业，数字经济"
    probs = tagged(confident_o(len(text)), 6, 9)  # the tagger finds 服务业 once
    names, x = candidate_features(text, probs, lexicon, CLEANING, 0.5, NO_WORDS)
    assert names == sorted(["数字经济", "服务业"])
    assert x.shape == (2, len(FEATURES))
    assert feature(names, x, "数字经济", "log_count") == pytest.approx(math.log(2))
    assert feature(names, x, "数字经济", "in_lexicon") == 1.0
    assert feature(names, x, "数字经济", "decoded") == 0.0
    assert feature(names, x, "服务业", "decoded") == 1.0
    assert feature(names, x, "服务业", "in_lexicon") == 0.0
    assert feature(names, x, "服务业", "score_max") == pytest.approx(1.0)


def test_a_permissive_o_prior_adds_spans_the_argmax_misses():
    lexicon = build_lexicon([])
    text = "推动服务业发展"
    probs = confident_o(len(text))
    probs[2:5] = [[0.55, 0.4, 0.05], [0.55, 0.05, 0.4], [0.55, 0.05, 0.4]]
    assert candidate_features(text, probs, lexicon, CLEANING, 1.0, NO_WORDS)[0] == []
    names, x = candidate_features(text, probs, lexicon, CLEANING, 0.5, NO_WORDS)
    assert names == ["服务业"]
    assert feature(names, x, "服务业", "decoded_permissive") == 1.0


def test_scale_o_renormalises_and_leaves_one_alone():
    probs = confident_o(4)
    assert scale_o(probs, 1.0) is probs
    np.testing.assert_allclose(scale_o(probs, 0.5).sum(axis=-1), 1.0)


def test_logistic_fit_ranks_the_positive_class_higher():
    rng = np.random.default_rng(0)
    signal = rng.normal(size=400)
    y = (signal + 0.3 * rng.normal(size=400) > 0).astype(float)
    x = np.column_stack([np.ones(400), signal])
    w = fit_logistic(x, y)
    assert w[1] > 0
    p = 1 / (1 + np.exp(-(x @ w)))
    assert ((p > 0.5) == (y == 1)).mean() > 0.85


@given(st.floats(0.05, 0.95), st.floats(-5, 5), st.booleans())
def test_with_threshold_moves_the_decision_to_one_half(threshold, z, hidden):
    weights = [z] + [0.0] * (len(FEATURES) - 1)
    rescorer = Rescorer(0.5, (0.0,) * len(FEATURES), (1.0,) * len(FEATURES), tuple(weights), 0.0, (), (), NO_WORDS,
                        False)
    if hidden:
        rescorer = dataclasses.replace(rescorer, output=(1.0, 0.0), hidden=(tuple(weights), (0.0,) * len(FEATURES)),
                                       hidden_bias=(0.0, 0.0))
    x = np.zeros((1, len(FEATURES)))
    x[0, 0] = 1.0  # the bias column
    before, after = rescorer.probabilities(x)[0], rescorer.with_threshold(threshold).probabilities(x)[0]
    if abs(before - threshold) > 1e-6:
        assert (before > threshold) == (after > 0.5)


def test_rescorer_round_trips_through_the_checkpoint_json():
    rescorer = accept_lexicon_phrases()
    layered = dataclasses.replace(rescorer, output=(0.5, -0.5), hidden=(rescorer.output, rescorer.output),
                                  hidden_bias=(0.1, 0.2))
    assert Rescorer.from_dict(json.loads(json.dumps(layered.to_dict()))) == layered
    assert Rescorer.from_dict(json.loads(json.dumps(rescorer.to_dict()))) == rescorer
    settings = RescorerDecision(rescorer, None, None)
    assert settings.to_dict() == {"kind": "rescorer", **rescorer.to_dict()}
    loaded = load_decision(json.loads(json.dumps(settings.to_dict())))
    assert loaded == settings and loaded.rescorer == rescorer


def test_a_rescorer_fitted_on_other_features_is_refused():
    payload = dict(accept_lexicon_phrases().to_dict(), features=["bias", "something_else"])
    with pytest.raises(CheckpointError, match="features"):
        Rescorer.from_dict(payload)
    with pytest.raises(CheckpointError, match="groups"):
        Rescorer.from_dict(dict(accept_lexicon_phrases().to_dict(), groups=["no_such_group"]))


# Keys a rescorer saved before them lacks: their absence reads as that rescorer's settings.
LATER_KEYS = {"members": 1, "max_words": MAX_WORDS, "max_chars": MAX_CHARS}


@pytest.mark.parametrize("key", sorted(set(accept_lexicon_phrases().to_dict()) - set(LATER_KEYS)))
def test_a_saved_rescorer_lacking_a_key_is_refused(key):
    payload = accept_lexicon_phrases().to_dict()
    del payload[key]
    with pytest.raises(KeyError):
        Rescorer.from_dict(payload)
    with pytest.raises(CheckpointError, match=rf"decision \(rescorer\) lacks '{key}'"):
        load_decision({"kind": "rescorer", **payload})


def test_a_rescorer_saved_without_members_or_word_limits_is_one_network_over_the_first_limits():
    rescorer = dataclasses.replace(accept_lexicon_phrases(), members=2, word_limits=(6, 20))
    payload = rescorer.to_dict()
    assert {k: payload[k] for k in LATER_KEYS} == {"members": 2, "max_words": 6, "max_chars": 20}
    old = {k: v for k, v in payload.items() if k not in LATER_KEYS}
    assert Rescorer.from_dict(old) == accept_lexicon_phrases()
    assert accept_lexicon_phrases().word_limits == (MAX_WORDS, MAX_CHARS) == (4, 16)


@pytest.mark.parametrize("change", [{"members": 0}, {"max_words": 0}, {"members": 3}])
def test_a_saved_rescorer_with_impossible_members_or_limits_is_refused(change):
    layered = dataclasses.replace(accept_lexicon_phrases(), output=(0.5, -0.5), hidden=((0.0,) * len(FEATURES),) * 2,
                                  hidden_bias=(0.1, 0.2))
    with pytest.raises(CheckpointError, match="damaged"):
        load_decision({"kind": "rescorer", **layered.to_dict(), **change})


@pytest.mark.parametrize("nested", [False, True])
def test_decision_decodes_to_every_occurrence_of_accepted_strings_only(nested):
    lexicon = build_lexicon([Document("t", "数字经济", ("数字经济",))])
    text = "数字经济推动服务业，数字经济"
    probs = tagged(confident_o(len(text)), 6, 9)  # the tagger's 服务业 is not in the lexicon: rejected
    rescorer = dataclasses.replace(accept_lexicon_phrases(), nested=nested)
    decision = RescorerDecision(rescorer, lexicon, CLEANING).decide(text, probs)
    assert decision.tags.shape == (len(text),)
    found = decode_phrases(text, decision, CLEANING)
    assert [(p.text, p.start, p.end) for p in found] == [("数字经济", 0, 4), ("数字经济", 10, 14)]
    assert all(p.score > 0.5 for p in found)
    # Nothing nests here: the tags mark exactly the accepted occurrences (B-KP, then I-KP), and
    # each span's score is its string's probability.
    np.testing.assert_array_equal(decision.tags, spans_to_tag_ids(len(text), [0, 10], [4, 14]))
    assert [(s, e) for s, e, _ in decision.spans] == list(zip(*(a.tolist() for a in tags_to_spans(decision.tags))))
    accepted = rescorer.accepted(text, probs, lexicon, CLEANING)
    assert set(accepted) == {"数字经济"}
    assert [score for _, _, score in decision.spans] == pytest.approx([accepted["数字经济"]] * 2)


def test_nested_decision_returns_phrases_inside_accepted_ones():
    lexicon = build_lexicon([Document("t", "数字经济发展，数字经济", ("数字经济发展", "数字经济"))])
    text = "推动数字经济发展"
    rescorer = dataclasses.replace(accept_lexicon_phrases(), nested=True)
    assert set(rescorer.accepted(text, confident_o(len(text)), lexicon, CLEANING)) == {"数字经济发展", "数字经济"}
    decision = RescorerDecision(rescorer, lexicon, CLEANING).decide(text, confident_o(len(text)))
    found = decode_phrases(text, decision, CLEANING)
    assert [(p.text, p.start, p.end) for p in found] == [("数字经济", 2, 6), ("数字经济发展", 2, 8)]
    # The tags hold the longest match only: what the entity scores count, and all that a flat
    # rescorer returns.
    assert [text[s:e] for s, e in zip(*(a.tolist() for a in tags_to_spans(decision.tags)))] == ["数字经济发展"]
    flat_rescorer = dataclasses.replace(rescorer, nested=False)
    flat = RescorerDecision(flat_rescorer, lexicon, CLEANING).decide(text, confident_o(len(text)))
    assert [p.text for p in decode_phrases(text, flat, CLEANING)] == ["数字经济发展"]
    np.testing.assert_array_equal(flat.tags, decision.tags)
    assert Rescorer.from_dict(json.loads(json.dumps(rescorer.to_dict()))).nested


def test_the_saved_rescorer_decision_applies_the_rescorer_and_needs_the_lexicon():
    lexicon = build_lexicon([Document("t", "数字经济", ("数字经济",))])
    text = "发展数字经济"
    saved = RescorerDecision(accept_lexicon_phrases(), None, None).to_dict()
    out = load_decision(saved, lexicon, CLEANING).decide(text, confident_o(len(text)))
    assert [p.text for p in decode_phrases(text, out, CLEANING)] == ["数字经济"]
    with pytest.raises(ValueError, match="lexicon"):
        load_decision(saved).decide(text, confident_o(len(text)))


# Listed where they recur, not where they occur once: what the rescorer has to learn.
TRAIN = [
    Document("a", "绿色发展，绿色发展。数字经济", ("绿色发展",)),
    Document("b", "数字经济，数字经济。绿色发展", ("数字经济",)),
    Document("c", "绿色发展和绿色发展。数字经济", ("绿色发展",)),
    Document("d", "数字经济与数字经济。绿色发展", ("数字经济",)),
]


@pytest.mark.parametrize("hidden", [0, 8])
@pytest.mark.parametrize("groups", [GROUPS, NO_WORDS])
def test_fitted_rescorer_learns_that_recurring_phrases_are_listed(hidden, groups):
    lexicon = build_lexicon(TRAIN, with_words=True)
    train = [(d, confident_o(len(d.text)), loo) for d, loo in zip(TRAIN, leave_one_out_lexicons(lexicon, TRAIN))]
    validation = [Document("v", "数字经济，数字经济。绿色发展", ("数字经济",))]
    rescorer, f1 = fit(train, [(validation[0], confident_o(len(validation[0].text)))], lexicon, hidden, groups)
    assert len(rescorer.hidden) == hidden and rescorer.groups == groups
    assert f1 == 1.0
    text = "绿色发展和绿色发展。数字经济"
    accepted = rescorer.accepted(text, confident_o(len(text)), lexicon, CLEANING)
    assert set(accepted) == {"绿色发展"}


def test_an_ensemble_of_one_is_the_single_network_and_more_average_their_logits():
    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(300), rng.normal(size=(300, 4))])
    y = (x[:, 1] + 0.5 * rng.normal(size=300) > 0.8).astype(float)
    single = fit_mlp(x, y, 6, steps=30)
    for got, want in zip(fit_ensemble(x, y, 6, 30, 1), single):
        np.testing.assert_array_equal(got, want)
    w1, b1, w2, b2 = fit_ensemble(x, y, 6, 30, 3)
    assert w1.shape == (18, 5) and b1.shape == w2.shape == (18,)
    members = [fit_mlp(x, y, 6, steps=30, seed=seed) for seed in range(3)]
    np.testing.assert_array_equal(w1[6:12], members[1][0])
    logits = [np.tanh(x @ m[0].T + m[1]) @ m[2] + m[3] for m in members]
    np.testing.assert_allclose(np.tanh(x @ w1.T + b1) @ w2 + b2, np.mean(logits, axis=0), rtol=0, atol=1e-12)


def test_fitted_ensemble_and_word_limits_are_saved_and_applied():
    lexicon = build_lexicon(TRAIN, with_words=True)
    train = [(d, confident_o(len(d.text)), loo) for d, loo in zip(TRAIN, leave_one_out_lexicons(lexicon, TRAIN))]
    validation = [(Document("v", "数字经济，数字经济。绿色发展", ("数字经济",)), confident_o(14))]
    cfg = decision_config("rescorer")
    rescorer, f1 = fit_rescorer(train, validation, lexicon, CLEANING, 0.5, 8, groups=GROUPS, steps=50, nested=True,
                                ensemble=2, word_limits=(2, 3))
    assert rescorer.members == 2 and len(rescorer.hidden) == 16 and rescorer.word_limits == (2, 3)
    assert "2 networks of hidden 8" in RescorerDecision(rescorer, None, None).describe()
    assert Rescorer.from_dict(json.loads(json.dumps(rescorer.to_dict()))) == rescorer
    text = "绿色发展和绿色发展。数字经济"
    names, _ = rescorer.candidates(text, confident_o(len(text)), lexicon, CLEANING)
    wider, _ = dataclasses.replace(rescorer, word_limits=(MAX_WORDS, MAX_CHARS)).candidates(
        text, confident_o(len(text)), lexicon, CLEANING)
    # Past 3 characters only the lexicon's phrases are candidates (no tagger spans here).
    assert {n for n in names if len(n) > 3} == {"绿色发展", "数字经济"}
    assert "发展和绿色" in set(wider) - set(names)
    assert (cfg["rescore_ensemble"], cfg["rescore_max_words"], cfg["rescore_max_chars"]) == (1, MAX_WORDS, MAX_CHARS)


def test_fitting_keeps_the_rescorer_only_when_asked_and_needs_training_documents():
    lexicon = build_lexicon(TRAIN, with_words=True)
    train = [(d, confident_o(len(d.text)), loo) for d, loo in zip(TRAIN, leave_one_out_lexicons(lexicon, TRAIN))]
    docs = [Document("v", "数字经济，数字经济。绿色发展", ("数字经济",))]
    probs = [confident_o(len(docs[0].text))]
    settings, f1 = fit_decision(decision_config("rescorer"), docs, probs, lexicon, CLEANING, train=train)
    assert isinstance(settings, RescorerDecision) and f1 == 1.0
    assert isinstance(fit_decision(decision_config("prior_fusion"), docs, probs, lexicon, CLEANING, train=train)[0],
                      PriorFusion)
    with pytest.raises(ValueError, match="training documents"):
        fit_decision(decision_config("rescorer"), docs, probs, lexicon, CLEANING)


def test_extractor_applies_the_checkpoints_rescorer(smoke_checkpoint, tmp_path):
    checkpoint = tmp_path / "model"
    shutil.copytree(smoke_checkpoint, checkpoint)
    settings = CheckpointSettings.load(checkpoint)
    rescored = RescorerDecision(accept_lexicon_phrases(), None, None)
    CheckpointSettings(settings.max_chars, settings.stride, settings.cleaning, settings.data,
                       settings.lexicon_features, decision=rescored.to_dict()).save(checkpoint)
    extractor = KeyphraseExtractor.from_pretrained(checkpoint, device="cpu")
    assert extractor.decision == rescored and extractor.decision.lexicon is not None
    phrase = max(extractor.decision.lexicon.phrases(), key=len)
    text = f"。{phrase}。{phrase}。"
    found = extractor.extract(text)
    assert [(p.text, p.start) for p in found if p.text == phrase] == [(phrase, 1), (phrase, len(phrase) + 2)]
    assert {p.text for p in found} <= set(extractor.decision.lexicon.phrases())


def test_reported_validation_f1_is_the_f1_of_what_the_rescorer_decodes():
    # Texts where a phrase is listed with a low rescorer probability: the chosen threshold must
    # be allowed below 0.5, and the F1 reported must be the F1 of the saved rescorer's output.
    lexicon = build_lexicon(TRAIN, with_words=True)
    train = [(d, confident_o(len(d.text)), loo) for d, loo in zip(TRAIN, leave_one_out_lexicons(lexicon, TRAIN))]
    validation = [Document("v", "数字经济，数字经济。绿色发展和服务业", ("数字经济", "绿色发展")),
                  Document("w", "绿色发展，绿色发展。数字经济与服务业", ("绿色发展", "数字经济"))]
    pairs = [(d, confident_o(len(d.text))) for d in validation]
    rescorer, f1 = fit(train, pairs, lexicon, hidden=0)
    settings = RescorerDecision(rescorer, lexicon, CLEANING)
    decoded = [{p.text for p in decode_phrases(d.text, settings.decide(d.text, p), CLEANING)} for d, p in pairs]
    assert f1 == pytest.approx(phrase_scores(decoded, [d.phrases for d in validation])["micro"]["f1"])


def test_threshold_search_reaches_below_one_half():
    # A rescorer that gives the lexicon phrase probability ~0.27 and everything else ~0.007.
    rescorer = accept_lexicon_phrases(threshold_logit=6.0)
    lexicon = build_lexicon([Document("t", "数字经济", ("数字经济",))])
    doc = Document("v", "发展数字经济，数字经济", ("数字经济",))
    threshold, f1 = choose_threshold(rescorer, [(doc, confident_o(len(doc.text)))], lexicon, CLEANING)
    assert f1 == 1.0 and threshold < 0.27
    found = RescorerDecision(rescorer.with_threshold(threshold), lexicon, CLEANING).decide(
        doc.text, confident_o(len(doc.text)))
    assert [p.text for p in decode_phrases(doc.text, found, CLEANING)] == ["数字经济", "数字经济"]
