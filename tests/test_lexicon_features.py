"""tagger/lexicon_inputs.py: training-lexicon matches as token type ids, leave-one-out on training
docs, and optionally each character's place in its jieba word."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import compose
from hypothesis import given, settings
from hypothesis import strategies as st

from keyphrase_tagger.config.validate import validate_train_config
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.lexicon.leave_one_out import leave_one_out
from keyphrase_tagger.lexicon.lexicon import build_lexicon
from keyphrase_tagger.lexicon.segmentation import segment
from keyphrase_tagger.records import Document
from keyphrase_tagger.tagger.lexicon_inputs import (
    N_WORD_PLACES,
    WORD_ALONE,
    WORD_FIRST,
    WORD_INNER,
    WORD_LAST,
    LexiconFeatureConfig,
    LexiconFeaturizer,
    training_type_ids,
    word_places,
)

# Rates P(listed | occurs): 数字经济 2/2 = 1.0, 服务业 1/1 = 1.0, 发展 1/3 ≈ 0.33.
TRAIN = [
    Document("t1", "数字经济推动服务业发展", ("数字经济", "服务业", "发展")),
    Document("t2", "数字经济与发展", ("数字经济",)),
    Document("t3", "发展规划", ()),
]
EDGES = (0.1, 0.3, 0.6)


def featurizer(recurrence: bool = True, word_boundaries: bool = False) -> LexiconFeaturizer:
    return LexiconFeaturizer(build_lexicon(TRAIN), LexiconFeatureConfig(True, EDGES, recurrence, word_boundaries))


def type_of(bucket: int, recurs: bool, first: bool, recurrence: bool = True) -> int:
    cls = bucket * 2 + recurs if recurrence else bucket
    return 1 + 2 * cls if first else 2 + 2 * cls


def test_unmatched_characters_get_type_zero():
    assert featurizer().type_ids("今天天气").tolist() == [0, 0, 0, 0]


def test_a_match_gets_a_first_type_then_inside_types_of_its_rate_bucket():
    ids = featurizer().type_ids("和发展和")
    # 发展: rate 1/3 falls in bucket 2 of edges (0.1, 0.3, 0.6); it occurs once here.
    assert ids.tolist() == [0, type_of(2, False, True), type_of(2, False, False), 0]


def test_a_phrase_occurring_twice_in_the_text_is_marked_as_recurring():
    ids = featurizer().type_ids("服务业和服务业")
    first, inside = type_of(3, True, True), type_of(3, True, False)
    assert ids.tolist() == [first, inside, inside, 0, first, inside, inside]


def test_without_recurrence_the_classes_are_the_rate_buckets_alone():
    ids = featurizer(recurrence=False).type_ids("服务业和服务业")
    assert ids[:3].tolist() == [type_of(3, False, True, False), *[type_of(3, False, False, False)] * 2]


@given(st.text(alphabet="数字经济推动服务业发展与规划和", max_size=40), st.booleans())
def test_type_ids_cover_every_character_and_stay_below_n_types(text, recurrence):
    f = featurizer(recurrence)
    ids = f.type_ids(text)
    assert ids.shape == (len(text),) and ids.dtype == np.int64
    assert ids.min(initial=0) >= 0 and ids.max(initial=0) < f.config.n_types


def test_config_round_trips_and_defaults_to_disabled():
    config = LexiconFeatureConfig(True, (0.2, 0.5), False)
    assert LexiconFeatureConfig.from_dict(config.to_dict()) == config
    assert LexiconFeatureConfig.from_dict(None).enabled is False
    assert config.n_types == 1 + 2 * 3


def test_leave_one_out_forgets_what_only_this_document_listed():
    lexicon = build_lexicon(TRAIN)
    without = leave_one_out(lexicon, TRAIN[0], {"数字经济", "服务业", "发展"})
    assert "服务业" not in without.listed  # listed by t1 alone
    assert without.listed["数字经济"] == 1 and without.occurs["数字经济"] == 1
    assert without.rate("发展") == 0.0  # 发展 was listed only by t1, still occurs in t2 and t3


def test_training_documents_do_not_see_their_own_phrases():
    ids = training_type_ids(build_lexicon(TRAIN), TRAIN, LexiconFeatureConfig(True, EDGES, True))
    # In t1, 服务业 (positions 6-8) would be a lexicon match only thanks to t1's own list.
    assert ids[0][6:9].tolist() == [0, 0, 0]
    # 数字经济 is also listed by t2, so t1 still sees it (rate 1/1 without t1: bucket 3).
    assert ids[0][0] == type_of(3, False, True)


@settings(deadline=None)  # the first call loads jieba's dictionary
@given(st.text(alphabet="数字经济推动服务业发展与规划和，。ab1 ", max_size=60))
def test_word_places_mark_out_exactly_the_jieba_words(text):
    places = word_places(text).tolist()
    expected = []
    for word in segment(text).strings:
        expected += [WORD_ALONE] if len(word) == 1 else [WORD_FIRST, *[WORD_INNER] * (len(word) - 2), WORD_LAST]
    assert places == expected


@given(st.text(alphabet="数字经济推动服务业发展与规划和", max_size=40), st.booleans())
def test_with_word_boundaries_each_type_is_its_lexicon_type_times_four_plus_the_place(text, recurrence):
    plain, words = featurizer(recurrence), featurizer(recurrence, word_boundaries=True)
    ids = words.type_ids(text)
    np.testing.assert_array_equal(ids, plain.type_ids(text) * N_WORD_PLACES + word_places(text))
    assert words.config.n_types == plain.config.n_types * N_WORD_PLACES
    assert ids.min(initial=0) >= 0 and ids.max(initial=0) < words.config.n_types


def test_word_boundaries_need_the_lexicon_features_and_are_off_in_older_checkpoints():
    config = LexiconFeatureConfig(True, EDGES, True, word_boundaries=True)
    assert LexiconFeatureConfig.from_dict(config.to_dict()) == config
    saved_before = {"enabled": True, "rate_edges": list(EDGES), "recurrence": True}  # no word_boundaries key
    assert LexiconFeatureConfig.from_dict(saved_before).word_boundaries is False
    with pytest.raises(ConfigError, match="features.word_boundaries=true needs features.enabled=true"):
        LexiconFeatureConfig.from_dict({"enabled": False, "word_boundaries": True})
    with pytest.raises(ConfigError, match="features.word_boundaries"):
        validate_train_config(compose("train", ["features=none", "features.word_boundaries=true"]))
