"""Model presets train with their own settings (learning rate, warmup, epochs, batch, window), and
lexicon features reach only models with token types."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import REPO, compose, tiny_corpus_text
from omegaconf import OmegaConf

from keyphrase_tagger.config.validate import check_train_config
from keyphrase_tagger.errors import ConfigError

PRESETS = sorted(p.stem for p in (REPO / "configs" / "model").glob("*.yaml"))
PRETRAINED = [p for p in PRESETS if p != "tiny"]
# The tiny preset's training, with which docs/results.md was measured: it must not move.
TINY = {"learning_rate": 1e-3, "warmup_steps": 0.1, "num_train_epochs": 4, "per_device_train_batch_size": 16}
TINY_WINDOW = {"max_chars": 254, "stride": 64}
TRAINER_KEYS = tuple(TINY)


def resolved(cfg, key: str):
    return OmegaConf.to_container(OmegaConf.select(cfg, key), resolve=True)


def test_the_tiny_preset_trains_as_before():
    cfg = compose("train", ["model=tiny"])
    assert {k: resolved(cfg, "trainer")[k] for k in TRAINER_KEYS} == TINY
    assert resolved(cfg, "data.window") == TINY_WINDOW
    assert compose("train").trainer == cfg.trainer and compose("train").data == cfg.data


@pytest.mark.parametrize("preset", PRETRAINED)
def test_a_pretrained_preset_fine_tunes_with_its_own_settings(preset):
    cfg = compose("train", [f"model={preset}"])
    trainer, window, own = resolved(cfg, "trainer"), resolved(cfg, "data.window"), resolved(cfg, "model.finetune")
    assert {k: trainer[k] for k in TRAINER_KEYS} == {k: own[k] for k in TRAINER_KEYS}
    assert window == {"max_chars": own["max_chars"], "stride": own["stride"]}
    assert 2e-5 <= trainer["learning_rate"] <= 5e-5
    assert 0 < trainer["warmup_steps"] < 1 and 2 <= trainer["num_train_epochs"] <= 4
    assert trainer["per_device_train_batch_size"] in (16, 32)
    assert window["max_chars"] == 512 - 2 and 0 < window["stride"] < window["max_chars"]
    check_train_config(cfg)


def test_the_command_line_wins_over_the_preset():
    cfg = compose("train", ["model=bert_base_chinese", "trainer.learning_rate=5e-5", "data.window.max_chars=126",
                            "trainer.per_device_train_batch_size=8"])
    assert cfg.trainer.learning_rate == 5e-5 and cfg.model.finetune.learning_rate == 3e-5
    assert cfg.data.window.max_chars == 126 and cfg.data.window.stride == cfg.model.finetune.stride
    assert cfg.trainer.per_device_train_batch_size == 8
    # A preset setting changed on the command line reaches the trainer through the interpolation.
    assert compose("train", ["model=macbert_base", "model.finetune.learning_rate=2e-5"]).trainer.learning_rate == 2e-5


@pytest.mark.parametrize("preset", PRESETS)
def test_the_gpu_trainer_composes_with_every_preset_and_keeps_its_settings(preset):
    cpu, gpu = compose("train", [f"model={preset}"]), compose("train", [f"model={preset}", "trainer=gpu"])
    check_train_config(gpu)  # not TrainingArguments: bf16 needs a GPU this machine may lack
    assert {k: gpu.trainer[k] for k in TRAINER_KEYS} == {k: cpu.trainer[k] for k in TRAINER_KEYS}
    assert gpu.data.window == cpu.data.window and gpu.trainer.bf16 and not gpu.trainer.use_cpu


@pytest.mark.parametrize("override,key", [("model.finetune.learning_rate=abc", "model.finetune.learning_rate"),
                                          ("model.finetune.learning_rate=0", "model.finetune.learning_rate=0"),
                                          ("model.finetune.max_chars=0", "model.finetune.max_chars=0"),
                                          ("+model.finetune.lr=1", "model.finetune.lr")])
def test_a_bad_finetune_value_is_named_where_it_was_set(override, key):
    with pytest.raises(ConfigError, match=rf"^{key}(:| )"):
        check_train_config(compose("train", ["model=bert_base_chinese", override]))


def test_kpt_prepare_has_no_window_and_resolves_without_a_model():
    from keyphrase_tagger.config.validate import validate_prepare_config

    cfg = compose("prepare")
    assert "window" not in cfg.data and "model" not in cfg
    validate_prepare_config(cfg)  # resolves every key: none reads a model preset


@pytest.fixture
def torch_threads():
    """The runs below set ``threads=1`` (two threads on a busy 2-core machine spin several times
    slower); the test session gets its own setting back."""
    import torch

    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def small_run(corpus: Path, tmp_path: Path, *overrides: str) -> list[str]:
    """A few training steps on the tiny corpus (short documents: the rescorer fits in seconds),
    windows that fit 128 positions, quiet."""
    return [f"data.corpus_path={corpus}", "data.window.max_chars=62", "data.window.stride=16",
            "+trainer.max_steps=4", "trainer.logging_steps=1", "trainer.report_to=[]", "trainer.disable_tqdm=true",
            "threads=1", f"output_dir={tmp_path / 'run'}", f"data.processed_dir={tmp_path / 'processed'}", *overrides]


def logged_learning_rates(run_dir: Path) -> list[float]:
    with (run_dir / "logs" / "log_history.csv").open(encoding="utf-8") as f:
        return [float(row["learning_rate"]) for row in csv.DictReader(f) if row.get("learning_rate")]


def test_a_pretrained_preset_fine_tunes_below_1e3_with_lexicon_features_and_the_default_decision(
        pretrained_bert_dir, tiny_corpus, tmp_path, torch_threads):
    from transformers import AutoModelForTokenClassification

    from keyphrase_tagger.tagger.lexicon_inputs import LexiconFeatureConfig
    from keyphrase_tagger.training.train import train

    cfg = compose("train", ["model=bert_base_chinese", f"model.name_or_path={pretrained_bert_dir}",
                            *small_run(tiny_corpus, tmp_path)])
    assert cfg.decision == compose("train").decision and cfg.features == compose("train").features
    train(cfg)
    run_dir = tmp_path / "run"
    info = json.loads((run_dir / "run_info.json").read_text(encoding="utf-8"))
    default = OmegaConf.to_container(compose("train").decision, resolve=True)
    assert info["config"]["decision"] == default
    settings = json.loads((run_dir / "model" / "keyphrase_tagger.json").read_text(encoding="utf-8"))
    assert settings["decision"]["kind"] in ("rescorer", "prior_fusion")  # what the default decision fits
    # Trained at the preset's rate, not the tiny preset's 1e-3.
    assert info["config"]["trainer"]["learning_rate"] == 3e-5
    rates = logged_learning_rates(run_dir)
    assert rates and max(rates) <= 3e-5 < 1e-3
    # Lexicon features: the grown token types are in config.json, and plain transformers loads them.
    config = json.loads((run_dir / "model" / "config.json").read_text(encoding="utf-8"))
    assert config["type_vocab_size"] == LexiconFeatureConfig.from_dict(settings["lexicon_features"]).n_types > 2
    model = AutoModelForTokenClassification.from_pretrained(run_dir / "model")
    assert type(model).__name__ == "BertForTokenClassification"
    assert model.bert.embeddings.token_type_embeddings.num_embeddings == config["type_vocab_size"]


def test_masked_lm_pretraining_runs_before_fine_tuning_and_is_recorded(tiny_corpus, tmp_path, torch_threads):
    from keyphrase_tagger.training.train import train

    cfg = compose("train", [*small_run(tiny_corpus, tmp_path), "pretrain.mlm_epochs=1", "model.hidden_size=32",
                            "model.intermediate_size=64", "model.num_hidden_layers=1"])
    metrics = train(cfg)
    record = json.loads((tmp_path / "run" / "metrics.json").read_text(encoding="utf-8"))
    assert record["mlm_train_loss"] == metrics["mlm_train_loss"] > 0 and record["mlm_epoch"] == 1
    assert "eval_phrase_f1" in record  # then fine-tuned and evaluated as any run


@pytest.fixture(scope="module")
def distilbert_dir(tmp_path_factory) -> Path:
    """A small DistilBERT (no token type embeddings, no ``token_type_ids`` in its forward) saved with
    its tokenizer, as a hub checkpoint would be."""
    from transformers import DistilBertConfig, DistilBertForMaskedLM, DistilBertTokenizerFast

    from keyphrase_tagger.tagger.encoding import build_char_vocab

    directory = tmp_path_factory.mktemp("distilbert")
    vocab = build_char_vocab([tiny_corpus_text(), "abcdefghijklmnopqrstuvwxyz"])
    DistilBertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True,
                            model_max_length=512).save_pretrained(directory)
    config = DistilBertConfig(vocab_size=len(vocab), dim=32, n_layers=1, n_heads=2, hidden_dim=64,
                              max_position_embeddings=128)
    DistilBertForMaskedLM(config).save_pretrained(directory)
    return directory


def test_only_models_whose_forward_takes_token_types_are_sent_them():
    from transformers import BertConfig, BertForTokenClassification, DistilBertConfig, DistilBertForTokenClassification

    from keyphrase_tagger.tagger.inputs import pad_rows, reads_token_types

    bert = BertForTokenClassification(BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1,
                                                 num_attention_heads=1, intermediate_size=8))
    distil = DistilBertForTokenClassification(DistilBertConfig(vocab_size=10, dim=8, n_layers=1, n_heads=1,
                                                               hidden_dim=8))
    assert reads_token_types(bert) and not reads_token_types(distil)
    rows = {"input_ids": [[2, 5, 3], [2, 3]], "token_type_ids": [[0, 4, 0], [0, 0]]}
    assert set(pad_rows(rows, 0, "cpu", True)) == {"input_ids", "attention_mask", "token_type_ids"}
    assert set(pad_rows(rows, 0, "cpu", False)) == {"input_ids", "attention_mask"}


def test_lexicon_features_for_a_model_without_token_types_are_refused_before_any_data_is_read(
        distilbert_dir, tiny_corpus, tmp_path):
    from keyphrase_tagger.tagger.build import build_model_and_tokenizer
    from keyphrase_tagger.training.train import train

    cfg = compose("train", ["model=bert_base_chinese", f"model.name_or_path={distilbert_dir}", "features=lexicon",
                            *small_run(tiny_corpus, tmp_path)])
    with pytest.raises(ConfigError, match=r"^features\.enabled=true: .*distilbert.* features=none$"):
        train(cfg)
    assert not (tmp_path / "processed").exists() and not (tmp_path / "run").exists()
    # The loaded model is judged the same way (a config.json that claims token types it lacks).
    with pytest.raises(ConfigError, match=r"^features\.enabled=true: .*DistilBertForTokenClassification"):
        build_model_and_tokenizer(cfg.model, ["服务业"], 62, n_token_types=17)


def test_a_model_without_token_types_trains_and_predicts_without_lexicon_features(distilbert_dir, tiny_corpus,
                                                                                  tmp_path, torch_threads):
    from transformers import TrainerCallback

    from keyphrase_tagger import KeyphraseExtractor
    from keyphrase_tagger.training.train import train

    seen: list[set[str]] = []

    def record(module, args, kwargs):
        seen.append(set(kwargs))

    class RecordInputs(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            model.register_forward_pre_hook(record, with_kwargs=True)

    cfg = compose("train", ["model=bert_base_chinese", f"model.name_or_path={distilbert_dir}", "features=none",
                            "decision=prior_fusion", *small_run(tiny_corpus, tmp_path)])
    train(cfg, callbacks=[RecordInputs()])
    assert seen and all("token_type_ids" not in keys and "input_ids" in keys for keys in seen)  # training, fit
    model_dir = tmp_path / "run" / "model"
    assert json.loads((model_dir / "config.json").read_text(encoding="utf-8"))["model_type"] == "distilbert"
    extractor = KeyphraseExtractor.from_pretrained(model_dir, device="cpu")
    seen.clear()
    extractor.model.register_forward_pre_hook(record, with_kwargs=True)
    text = "加快推进跨境电商和养老服务，发展数字经济"
    for phrase in extractor.extract(text):
        assert phrase.text == text[phrase.start : phrase.end]
    assert seen and all("token_type_ids" not in keys for keys in seen)
