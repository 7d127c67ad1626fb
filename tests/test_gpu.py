"""GPU readiness: a few training steps of a BERT-base-shaped model under ``trainer=gpu`` (bf16,
dataloader workers), then prediction on CUDA. Skipped without a CUDA device; run on a GPU machine
with ``pytest -m gpu -s`` (the steps' wall times are printed, never asserted)."""

from __future__ import annotations

import json
import time

import pytest
import torch

from conftest import CORPUS, compose

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")]

BERT_BASE_SHAPE = ["model.hidden_size=768", "model.num_hidden_layers=12", "model.num_attention_heads=12",
                   "model.intermediate_size=3072", "model.max_position_embeddings=512"]


@pytest.mark.parametrize("head", ["softmax", "crf"])
def test_a_bert_base_shaped_model_trains_in_bf16_and_predicts_on_cuda(tmp_path, head):
    from keyphrase_tagger import KeyphraseExtractor
    from keyphrase_tagger.training.train import train

    cfg = compose("train", ["trainer=gpu", *BERT_BASE_SHAPE, f"model.head={head}", f"data.corpus_path={CORPUS}",
                            f"data.processed_dir={tmp_path / 'processed'}", "data.max_documents=8",
                            "data.window.max_chars=510", "data.window.stride=128", "+trainer.max_steps=20",
                            "trainer.report_to=[]", "trainer.disable_tqdm=true", "decision=prior_fusion",
                            f"output_dir={tmp_path / 'run'}"])
    started = time.perf_counter()
    metrics = train(cfg)
    trained = time.perf_counter() - started
    info = json.loads((tmp_path / "run" / "run_info.json").read_text(encoding="utf-8"))
    assert info["config"]["trainer"]["bf16"] is True
    assert metrics["eval_tuned_phrase_f1"] >= 0.0
    extractor = KeyphraseExtractor.from_pretrained(tmp_path / "run" / "model", device="cuda")
    assert extractor.device.type == "cuda"
    text = CORPUS.read_text(encoding="utf-8")[:20000]
    started = time.perf_counter()
    phrases = extractor.extract(text)
    predicted = time.perf_counter() - started
    assert all(text[p.start:p.end] == p.text for p in phrases)
    print(f"\n{head}: {torch.cuda.get_device_name()}: 20 bf16 steps + decision fit {trained:.1f} s; "
          f"extract on {len(text)} characters {predicted:.2f} s ({len(text) / predicted:,.0f} chars/s), "
          f"{len(phrases)} phrases")
