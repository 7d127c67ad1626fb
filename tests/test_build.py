"""Model presets -> (model, tokenizer), and labeled documents -> one model row per window."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import compose

from keyphrase_tagger.data.labeling import label_text
from keyphrase_tagger.data.matching import PhraseMatcher
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.tagger.build import build_model_and_tokenizer
from keyphrase_tagger.tagger.encoding import CharEncoder, build_char_vocab
from keyphrase_tagger.tagger.inputs import (
    IGNORE_INDEX,
    WINDOW_POSITION,
    documents_dataset,
    window_rows,
    windows_dataset,
)
from keyphrase_tagger.tagger.windows import window_bounds

TEXTS = ["加快发展现代服务业，推进跨境电商综合试验区建设", "提升物流体系效率"]
ID2LABEL = {0: "O", 1: "B-KP", 2: "I-KP"}


def model_cfg(*overrides: str):
    return compose("train", list(overrides)).model


def test_tiny_preset_is_a_bert_over_the_training_characters():
    cfg = model_cfg("model.hidden_size=32", "model.num_attention_heads=2", "model.intermediate_size=64",
                    "model.num_hidden_layers=1", "model.max_position_embeddings=64")
    model, tokenizer = build_model_and_tokenizer(cfg, TEXTS, max_chars=62)
    assert type(model).__name__ == "BertForTokenClassification"
    assert model.config.id2label == ID2LABEL
    assert model.config.label2id == {v: k for k, v in ID2LABEL.items()}
    assert model.config.vocab_size == len(build_char_vocab(TEXTS)) == len(tokenizer)
    assert (model.config.hidden_size, model.config.num_hidden_layers) == (32, 1)
    assert tokenizer.model_max_length == model.config.max_position_embeddings == 64
    assert tokenizer.is_fast
    assert tokenizer.convert_ids_to_tokens(CharEncoder(tokenizer).encode("服务业").tolist()) == ["服", "务", "业"]


def test_window_longer_than_the_model_positions_is_a_config_error():
    cfg = model_cfg("model.hidden_size=32", "model.num_attention_heads=2", "model.max_position_embeddings=64")
    build_model_and_tokenizer(cfg, TEXTS, max_chars=62)  # 62 + [CLS] + [SEP] fits exactly
    with pytest.raises(ConfigError, match="max_chars=63"):
        build_model_and_tokenizer(cfg, TEXTS, max_chars=63)


def test_pretrained_preset_fine_tunes_a_local_checkpoint(pretrained_bert_dir):
    from safetensors.torch import load_file

    cfg = model_cfg("model=bert_base_chinese", f"model.name_or_path={pretrained_bert_dir}")
    model, tokenizer = build_model_and_tokenizer(cfg, TEXTS, max_chars=126)
    assert type(model).__name__ == "BertForTokenClassification"
    assert model.config.id2label == ID2LABEL and model.num_labels == 3
    saved = load_file(str(pretrained_bert_dir / "model.safetensors"))
    # The encoder comes from the checkpoint; only the classifier is new.
    torch.testing.assert_close(model.bert.embeddings.word_embeddings.weight, saved["bert.embeddings.word_embeddings.weight"])
    # The hub's tokenizer says 512; the model's own position limit is what counts.
    assert tokenizer.model_max_length == model.config.max_position_embeddings == 128
    assert len(CharEncoder(tokenizer).encode("服务业 ABC")) == 7
    with pytest.raises(ConfigError, match="128 positions"):
        build_model_and_tokenizer(cfg, TEXTS, max_chars=127)


def test_pretrained_preset_gets_token_types_for_the_lexicon_features_starting_as_type_0(pretrained_bert_dir):
    from safetensors.torch import load_file

    cfg = model_cfg("model=bert_base_chinese", f"model.name_or_path={pretrained_bert_dir}")
    model, _ = build_model_and_tokenizer(cfg, TEXTS, max_chars=126, n_token_types=17)
    saved = load_file(str(pretrained_bert_dir / "model.safetensors"))["bert.embeddings.token_type_embeddings.weight"]
    grown = model.bert.embeddings.token_type_embeddings.weight
    assert model.config.type_vocab_size == 17 and grown.shape == (17, saved.shape[1])
    torch.testing.assert_close(grown[:2], saved)
    torch.testing.assert_close(grown[2:], saved[0].expand(15, -1))
    ids = torch.tensor([[5, 6, 7]])
    types = torch.tensor([[0, 16, 3]])
    assert model(input_ids=ids, token_type_ids=types).logits.shape == (1, 3, 3)


@pytest.mark.parametrize("preset", ["bert_base_chinese", "roberta_wwm_ext", "macbert_base"])
def test_pretrained_preset_that_cannot_be_loaded_is_a_config_error(preset, tmp_path):
    cfg = model_cfg(f"model={preset}", f"model.name_or_path={tmp_path / 'missing'}")
    with pytest.raises(ConfigError, match="model.name_or_path="):
        build_model_and_tokenizer(cfg, TEXTS, max_chars=62)


def test_pretrained_preset_without_a_name_is_a_config_error():
    with pytest.raises(ConfigError, match="name_or_path"):
        build_model_and_tokenizer(model_cfg("model=bert_base_chinese", "model.name_or_path=null"), TEXTS, 62)


def test_each_window_is_cls_its_characters_sep_with_aligned_labels():
    cfg = model_cfg("model.hidden_size=32", "model.num_attention_heads=2", "model.max_position_embeddings=64")
    _, tokenizer = build_model_and_tokenizer(cfg, TEXTS, max_chars=10)
    encoder = CharEncoder(tokenizer)
    texts = [TEXTS[0], "短", ""]
    matcher = PhraseMatcher(["现代服务业", "跨境电商"])
    tags = [label_text(t, matcher)[0] for t in texts]
    rows = window_rows(texts, encoder, max_chars=10, stride=3, tags=tags)
    expected = [(k, s, e) for k, t in enumerate(texts) for s, e in window_bounds(len(t), 10, 3)]
    assert list(zip(rows["doc_index"], rows["window_start"])) == [(k, s) for k, s, _ in expected]
    for (k, s, e), ids, mask, labels in zip(expected, rows["input_ids"], rows["attention_mask"], rows["labels"]):
        assert ids == [encoder.cls_id, *encoder.encode(texts[k][s:e]).tolist(), encoder.sep_id]
        assert mask == [1] * (e - s + 2)
        assert labels == [IGNORE_INDEX, *tags[k][s:e].tolist(), IGNORE_INDEX]


@pytest.fixture(scope="module")
def char_encoder():
    _, tokenizer = build_model_and_tokenizer(model_cfg("model.hidden_size=32", "model.num_attention_heads=2",
                                                       "model.max_position_embeddings=64"), TEXTS, max_chars=10)
    return CharEncoder(tokenizer)


def test_windows_dataset_maps_each_document_to_its_window_rows(char_encoder):
    texts = ["", TEXTS[0], "短", TEXTS[1]]
    matcher = PhraseMatcher(["现代服务业", "跨境电商", "物流体系"])
    tags = [label_text(t, matcher)[0] for t in texts]
    types = [np.arange(len(t)) % 3 for t in texts]
    windows = windows_dataset(documents_dataset(texts, tags, types), char_encoder, max_chars=10, stride=3)
    assert windows.to_dict() == window_rows(texts, char_encoder, 10, 3, tags, types)
    assert set(windows.column_names) == {"input_ids", "attention_mask", "labels", "token_type_ids", *WINDOW_POSITION}


def test_documents_without_characters_give_an_empty_windows_dataset_with_typed_columns(char_encoder):
    windows = windows_dataset(documents_dataset(["", ""]), char_encoder, max_chars=10, stride=3)
    assert len(windows) == 0
    assert set(windows.column_names) == {"input_ids", "attention_mask", *WINDOW_POSITION}
    assert windows.features["input_ids"].feature.dtype == "int64"
