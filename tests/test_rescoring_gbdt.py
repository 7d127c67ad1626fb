"""The gradient-boosted phrase rescorer (``decision.rescore_model: gbdt``, ``decision/gbdt.py``)."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from conftest import decision_config
from test_rescoring import CLEANING, TRAIN, confident_o, tagged

from keyphrase_tagger.decision.decoder import decode_phrases
from keyphrase_tagger.decision.fit import check_decision, fit_decision
from keyphrase_tagger.decision.gbdt import GbdtRescorer, GbdtRescorerDecision
from keyphrase_tagger.decision.kinds import load_decision
from keyphrase_tagger.errors import CheckpointError, ConfigError
from keyphrase_tagger.lexicon.leave_one_out import leave_one_out_lexicons
from keyphrase_tagger.lexicon.lexicon import build_lexicon
from keyphrase_tagger.records import Document

VALIDATION = [Document("v", "数字经济，数字经济。绿色发展", ("数字经济",))]
# Texts the round trip is checked on: recurring and single phrases, one the tagger marks.
TEXTS = ["绿色发展和绿色发展。数字经济与服务业", "数字经济，数字经济。绿色发展的服务业"]


def gbdt_config(**params) -> dict:
    """The shipped rescorer with ``rescore_model: gbdt``; ``params`` change ``rescore_gbdt`` (the
    hand-made training set has a handful of candidates: leaves of one)."""
    cfg = decision_config("rescorer", rescore_model="gbdt")
    cfg["rescore_gbdt"] = {**cfg["rescore_gbdt"], "min_data_in_leaf": 1, **params}
    return cfg


def fitted(cfg: dict | None = None) -> tuple[GbdtRescorerDecision, float]:
    lexicon = build_lexicon(TRAIN, with_words=True)
    train = [(d, confident_o(len(d.text)), loo) for d, loo in zip(TRAIN, leave_one_out_lexicons(lexicon, TRAIN))]
    probs = [confident_o(len(d.text)) for d in VALIDATION]
    return fit_decision(cfg or gbdt_config(), VALIDATION, probs, lexicon, CLEANING, train=train)


def test_fitted_gbdt_learns_that_recurring_phrases_are_listed():
    decision, f1 = fitted()
    assert isinstance(decision, GbdtRescorerDecision) and f1 == 1.0
    assert "LightGBM" in decision.describe()
    text = TEXTS[0]
    accepted = decision.rescorer.accepted(text, confident_o(len(text)), decision.lexicon, CLEANING)
    assert set(accepted) == {"绿色发展"}


def test_gbdt_round_trips_through_the_checkpoint_json_with_identical_probabilities_and_phrases():
    decision, _ = fitted()
    saved = json.loads(json.dumps(decision.to_dict()))
    assert saved["kind"] == "rescorer" and saved["model"] == "gbdt"
    loaded = load_decision(saved, decision.lexicon, CLEANING)
    assert isinstance(loaded, GbdtRescorerDecision) and loaded == decision
    for text in TEXTS:
        probs = tagged(confident_o(len(text)), 0, 4)
        names, x = decision.rescorer.candidates(text, probs, decision.lexicon, CLEANING)
        np.testing.assert_array_equal(loaded.rescorer.probabilities(x), decision.rescorer.probabilities(x))
        before, after = decision.decide(text, probs), loaded.decide(text, probs)
        np.testing.assert_array_equal(after.tags, before.tags)
        assert ([(p.text, p.start, p.score) for p in decode_phrases(text, after, CLEANING)]
                == [(p.text, p.start, p.score) for p in decode_phrases(text, before, CLEANING)])


def test_decide_reads_the_same_probabilities_as_the_full_matrix():
    rescorer = fitted()[0].rescorer
    lexicon = build_lexicon(TRAIN, with_words=True)
    text = TEXTS[1]
    names, x = rescorer.candidates(text, confident_o(len(text)), lexicon, CLEANING)
    accepted = rescorer.accepted(text, confident_o(len(text)), lexicon, CLEANING)
    decided = [p.text for p in decode_phrases(text, rescorer.decide(text, confident_o(len(text)), lexicon, CLEANING),
                                              CLEANING)]
    assert set(decided) == set(accepted) and all(v > 0.5 for v in accepted.values())
    assert {n for n, v in zip(names, rescorer.probabilities(x)) if v > 0.5} == set(accepted)


def test_the_same_data_and_seed_give_the_same_booster():
    assert fitted()[0].rescorer.booster == fitted()[0].rescorer.booster
    assert fitted()[0].rescorer.booster != fitted(gbdt_config(num_boost_round=5))[0].rescorer.booster


def test_a_damaged_or_unknown_gbdt_is_refused():
    saved = fitted()[0].to_dict()
    wider = GbdtRescorer.of(0.5, saved["booster"], 0.0, ("document",), True, (4, 16)).to_dict()
    with pytest.raises(CheckpointError, match="booster reads"):
        load_decision({"kind": "rescorer", **wider})
    with pytest.raises(CheckpointError, match="model 'forest'"):
        load_decision(dict(saved, model="forest"))
    with pytest.raises(CheckpointError, match="lacks 'booster'"):
        load_decision({k: v for k, v in saved.items() if k != "booster"})


def test_gbdt_without_lightgbm_is_refused_in_one_line_naming_the_key(monkeypatch):
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # import lightgbm raises ImportError
    with pytest.raises(ConfigError, match=r"^decision\.rescore_model=gbdt needs LightGBM[^\n]*$"):
        check_decision(gbdt_config())
    check_decision(decision_config("rescorer"))  # the network needs no LightGBM
