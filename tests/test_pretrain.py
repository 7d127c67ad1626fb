"""training/pretrain.py: masked-language-model pretraining of the encoder before fine-tuning."""

from __future__ import annotations

import pytest
import torch
from conftest import compose

from keyphrase_tagger.config.validate import validate_train_config
from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.tagger.build import build_model_and_tokenizer
from keyphrase_tagger.tagger.encoding import CharEncoder
from keyphrase_tagger.tagger.inputs import documents_dataset, windows_dataset
from keyphrase_tagger.training.inputs import build_windows, load_inputs, mlm_windows
from keyphrase_tagger.training.pretrain import pretrain_encoder

TRAINER = {"use_cpu": True, "per_device_train_batch_size": 4, "disable_tqdm": True, "learning_rate": 5.0}  # a key it leaves
TEXTS = ["加快发展现代服务业，推进跨境电商综合试验区建设", "提升物流体系效率，完善养老服务体系"] * 4


def small_model():
    cfg = compose("train", ["model.hidden_size=32", "model.num_attention_heads=2", "model.intermediate_size=64",
                            "model.num_hidden_layers=1", "model.max_position_embeddings=64"])
    model, tokenizer = build_model_and_tokenizer(cfg.model, TEXTS, max_chars=30)
    windows = windows_dataset(documents_dataset(TEXTS), CharEncoder(tokenizer), max_chars=30, stride=8)
    return cfg, model, tokenizer, windows


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: w.detach().clone() for name, w in module.state_dict().items()}


def test_pretraining_changes_the_encoder_and_leaves_the_head(tmp_path):
    cfg, model, tokenizer, windows = small_model()
    encoder, head = weights(model.base_model), weights(model.classifier)
    settings = dict(cfg.pretrain, mlm_epochs=2, learning_rate=1e-2)
    metrics = pretrain_encoder(model, tokenizer, windows, settings, TRAINER, seed=0)
    assert metrics["mlm_train_loss"] > 0
    after = weights(model.base_model)
    changed = [name for name in encoder if not torch.equal(encoder[name], after[name])]
    assert "embeddings.word_embeddings.weight" in changed and any("encoder.layer.0" in n for n in changed)
    assert all(torch.equal(w, weights(model.classifier)[n]) for n, w in head.items())


def test_no_epochs_is_no_pretraining():
    cfg, model, tokenizer, windows = small_model()
    before = weights(model)
    assert cfg.pretrain.mlm_epochs == 0  # the default recipe
    assert pretrain_encoder(model, tokenizer, windows, cfg.pretrain, TRAINER, seed=0) == {}
    assert all(torch.equal(w, weights(model)[n]) for n, w in before.items())


def test_transductive_pretraining_adds_the_other_documents_text_and_no_labels(tiny_corpus, tmp_path):
    cfg = compose("train", [f"data.corpus_path={tiny_corpus}", f"data.processed_dir={tmp_path}",
                            "data.window.max_chars=62", "data.window.stride=16"])
    inputs = load_inputs(cfg)
    _, tokenizer = build_model_and_tokenizer(small_model()[0].model, [d.document.text for d in inputs.train_docs], 62)
    train_ds, _ = build_windows(inputs, tokenizer)
    assert cfg.pretrain.texts == "train" and mlm_windows(inputs, tokenizer, train_ds, "train") is train_ds
    mixed = mlm_windows(inputs, tokenizer, train_ds, "all")
    others = [d.document.text for name in ("validation", "test") for d in inputs.prepared.split(name)]
    expected = windows_dataset(documents_dataset(others), CharEncoder(tokenizer), 62, 16)
    assert len(others) == 2 and len(expected) > 0  # the tiny corpus: one validation, one test document
    assert mixed.column_names == ["input_ids"] and len(mixed) == len(train_ds) + len(expected)
    assert mixed["input_ids"][len(train_ds):] == expected["input_ids"]


@pytest.mark.parametrize("override", ["pretrain.mlm_epochs=-1", "pretrain.mlm_probability=1.5",
                                      "pretrain.learning_rate=0", "pretrain.texts=test"])
def test_bad_pretraining_settings_are_refused_with_their_key(override):
    with pytest.raises(ConfigError, match=override.split("=")[0]):
        validate_train_config(compose("train", [override]))
