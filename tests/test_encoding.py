"""Characters -> token ids: exactly one id per character, whatever the character."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyphrase_tagger.tagger.encoding import (
    SPECIAL_TOKENS,
    CharEncoder,
    build_char_vocab,
    make_char_tokenizer,
)

TRAIN_TEXT = "加快发展现代服务业，推进跨境电商综合试验区建设。提升物流体系效率"


@pytest.fixture(scope="module")
def tokenizer():
    return make_char_tokenizer(build_char_vocab([TRAIN_TEXT]), model_max_length=64)


@pytest.fixture(scope="module")
def encoder(tokenizer):
    return CharEncoder(tokenizer)


@pytest.fixture(scope="module")
def lowercasing_encoder():
    """A pretrained-style tokenizer (bert-base-chinese lowercases and strips accents)."""
    from transformers import BertTokenizerFast

    vocab = build_char_vocab([TRAIN_TEXT + "abc"])
    return CharEncoder(BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True))


def test_vocab_is_special_tokens_then_characters_in_code_point_order():
    vocab = build_char_vocab(["服务业 服务\t", "业务\n"])
    assert vocab[: len(SPECIAL_TOKENS)] == list(SPECIAL_TOKENS)
    assert vocab[len(SPECIAL_TOKENS) :] == sorted("服务业")


def test_every_vocabulary_character_encodes_to_its_own_id(tokenizer, encoder):
    vocab = build_char_vocab([TRAIN_TEXT])
    chars = vocab[len(SPECIAL_TOKENS) :]
    np.testing.assert_array_equal(encoder.encode("".join(chars)), [vocab.index(c) for c in chars])
    assert tokenizer.convert_ids_to_tokens(encoder.encode("服务业").tolist()) == ["服", "务", "业"]


def test_encoding_matches_the_tokenizer_on_characters_as_words(tokenizer, encoder):
    text = "推进跨境电商"
    expected = tokenizer(list(text), is_split_into_words=True, add_special_tokens=False)["input_ids"]
    assert encoder.encode(text).tolist() == expected


@pytest.mark.parametrize(
    "odd",
    [
        " ",  # space
        "\t",
        "\n",
        "\r\n",
        "\u3000",  # ideographic space
        "\x00\x1f\x7f",  # control characters
        "\u200b\ufeff",  # zero-width space, BOM: format characters the tokenizer drops
        "😀🇨🇳",  # emoji, a flag of two regional indicators
        "ＡＢＣ１２３",  # full-width Latin and digits
        "發經濟與",  # traditional characters
        "ABCxyz",  # ASCII outside the vocabulary
        "e\u0301",  # a combining accent
    ],
)
def test_odd_characters_become_unk_in_place_and_shift_nothing(encoder, odd):
    text = f"服务{odd}业发展"
    ids = encoder.encode(text)
    assert len(ids) == len(text)
    np.testing.assert_array_equal(ids[:2], encoder.encode("服务"))
    np.testing.assert_array_equal(ids[2 + len(odd) :], encoder.encode("业发展"))
    assert (ids[2 : 2 + len(odd)] == encoder.unk_id).all()


def test_a_lone_surrogate_is_unk_not_an_error(encoder):
    ids = encoder.encode("服务\ud800业")
    assert ids.tolist() == [*encoder.encode("服务").tolist(), encoder.unk_id, *encoder.encode("业").tolist()]


# Property tests run without a deadline: CI shares two cores, so per-example timing means nothing.
@settings(deadline=None)
@given(st.text(max_size=60))
def test_one_id_per_character_whatever_the_text(encoder, text):
    ids = encoder.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    # A character's id does not depend on what surrounds it.
    assert ids.tolist() == [int(encoder.encode(c)[0]) for c in text]


@settings(deadline=None)
@given(st.text(max_size=40))
def test_one_id_per_character_with_a_lowercasing_tokenizer(lowercasing_encoder, text):
    ids = lowercasing_encoder.encode(text)
    assert ids.shape == (len(text),)
    assert ids.tolist() == [int(lowercasing_encoder.encode(c)[0]) for c in text]


def test_lowercasing_tokenizer_maps_upper_case_to_its_lower_case_token(lowercasing_encoder):
    assert lowercasing_encoder.encode("ABC").tolist() == lowercasing_encoder.encode("abc").tolist()
    assert lowercasing_encoder.unk_id not in lowercasing_encoder.encode("abc").tolist()


def test_a_long_text_keeps_one_id_per_character(encoder):
    text = (TRAIN_TEXT + " \n😀ＡＢ發") * 20_000  # ~900k characters
    ids = encoder.encode(text)
    assert len(ids) == len(text)
    period = len(TRAIN_TEXT) + 6
    np.testing.assert_array_equal(ids[-period:], ids[:period])


def test_saved_tokenizer_reloads_as_a_standard_bert_tokenizer(tokenizer, tmp_path):
    from transformers import AutoTokenizer

    tokenizer.save_pretrained(tmp_path)
    reloaded = AutoTokenizer.from_pretrained(tmp_path)
    assert type(reloaded).__name__ in ("BertTokenizer", "BertTokenizerFast")  # one class in transformers 5
    assert reloaded.is_fast
    assert reloaded.model_max_length == 64
    text = "服务业 ＡＢ發\t展😀"
    assert CharEncoder(reloaded).encode(text).tolist() == CharEncoder(tokenizer).encode(text).tolist()


@settings(deadline=None, max_examples=50)
@given(st.lists(st.text(max_size=20), min_size=1, max_size=5))
def test_ids_do_not_depend_on_what_was_encoded_before(tokenizer, texts):
    # The lookup table grows as new characters arrive; ids learnt earlier must stay put.
    together = CharEncoder(tokenizer)
    for text in texts:
        assert together.encode(text).tolist() == CharEncoder(tokenizer).encode(text).tolist()
