"""Shared fixtures: tiny corpora written inline, and one smoke checkpoint trained once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "data" / "raw" / "policy_keyphrases.txt"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def compose(config_name: str, overrides: list[str] | None = None):
    """A config as the command line would build it (``hydra.compose`` over ``configs/``)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    with initialize_config_dir(version_base="1.3", config_dir=str(REPO / "configs")):
        return hydra_compose(config_name=config_name, overrides=overrides or [])


def hide_module(monkeypatch, name: str) -> None:
    """Make ``importlib.util.find_spec(name)`` answer ``None``: an optional plugin not installed."""
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == name else real_find_spec(n, *a))


def decision_config(option: str = "rescorer", **changes) -> dict:
    """``configs/decision/<option>.yaml`` as the ``decision`` group composes it (plain values), with
    ``changes`` applied: what training hands to ``fit_decision``."""
    from omegaconf import OmegaConf

    return {**OmegaConf.to_container(compose("train", [f"decision={option}"]).decision, resolve=True), **changes}


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory) -> Path:
    """A run directory trained with ``experiment=smoke`` on the embedded corpus (a few seconds)."""
    from keyphrase_tagger.training.train import train

    run_dir = tmp_path_factory.mktemp("smoke_run")
    processed = tmp_path_factory.mktemp("smoke_processed") / "policy"  # not the checkout's data/processed
    cfg = compose("train", ["experiment=smoke", f"output_dir={run_dir}", f"data.corpus_path={CORPUS}",
                            f"data.processed_dir={processed}"])
    train(cfg)
    return run_dir


@pytest.fixture(scope="session")
def smoke_checkpoint(smoke_run: Path) -> Path:
    return smoke_run / "model"


# A tiny corpus in the corpus format: short documents of filler characters with a few known
# phrases placed by a fixed random rule, so every test that trains on it sees the same data.
TINY_PHRASES = ("现代服务业", "跨境电商", "物流体系", "养老服务", "金融科技", "数字经济")
TINY_FILLER = "加快推进完善提升促进支持鼓励强化优化建设发展体制机制水平能力的和与在为"


def tiny_corpus_text(n_documents: int = 10, pieces: int = 24) -> str:
    import random

    lines = []
    for d in range(n_documents):
        rng = random.Random(d)
        text = ""
        for _ in range(pieces):
            text += "".join(rng.choices(TINY_FILLER, k=rng.randint(2, 5)))
            if rng.random() < 0.5:
                text += rng.choice(TINY_PHRASES)
        lines += [text, "[" + ",".join(p for p in TINY_PHRASES if p in text) + "]"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """:func:`tiny_corpus_text` written to a file: 8 training, 1 validation, 1 test document."""
    path = tmp_path_factory.mktemp("tiny_corpus") / "tiny.txt"
    path.write_text(tiny_corpus_text(), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def pretrained_bert_dir(tmp_path_factory) -> Path:
    """A small pretrained-style BERT saved by ``save_pretrained``: a masked-LM head (no token
    classifier), a lowercasing character tokenizer whose ``model_max_length`` (512, as on the hub)
    exceeds the model's 128 positions. Stands in for bert-base-chinese, which needs the network."""
    from transformers import BertConfig, BertForMaskedLM, BertTokenizerFast

    from keyphrase_tagger.tagger.encoding import build_char_vocab

    directory = tmp_path_factory.mktemp("pretrained_bert")
    vocab = build_char_vocab([CORPUS.read_text(encoding="utf-8"), tiny_corpus_text(), "abcdefghijklmnopqrstuvwxyz"])
    tokenizer = BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True, model_max_length=512)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertForMaskedLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
