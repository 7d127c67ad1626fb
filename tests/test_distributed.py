"""``torchrun`` with two CPU processes (gloo): one run directory, a correct loss, a usable model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CORPUS, compose

BIN = Path(sys.executable).parent
SMOKE = ["experiment=smoke", "trainer.ddp_backend=gloo", f"data.corpus_path={CORPUS}"]


def torchrun(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": "1"}
    command = [str(BIN / "torchrun"), "--standalone", "--nproc_per_node=2", "-m", "keyphrase_tagger.train", *args]
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    return result


def validation_scores(model_dir: Path, overrides: list[str]) -> tuple[float, float]:
    """Token-mean loss and phrase F1 of the saved model on the run's validation documents, computed
    in this process without DDP: the loss one window at a time, the F1 from the extractor's
    probabilities."""
    from keyphrase_tagger import KeyphraseExtractor
    from keyphrase_tagger.data.prepare import prepare_corpus
    from keyphrase_tagger.evaluation.scoring import score_documents
    from keyphrase_tagger.tagger.inputs import IGNORE_INDEX, window_rows

    cfg = compose("train", overrides)
    docs = prepare_corpus(cfg.data).split("validation")[: max(1, cfg.data.max_documents // 2)]
    extractor = KeyphraseExtractor.from_pretrained(model_dir, device="cpu")  # model, encoder, lexicon features
    texts = [d.document.text for d in docs]
    types = [extractor.featurizer.type_ids(t) for t in texts] if extractor.featurizer is not None else None
    rows = window_rows(texts, extractor.encoder, cfg.data.window.max_chars, cfg.data.window.stride,
                       [d.tags for d in docs], types)
    total, count = 0.0, 0
    with torch.inference_mode():
        for r, (ids, labels) in enumerate(zip(rows["input_ids"], rows["labels"])):
            extra = {"token_type_ids": torch.tensor([rows["token_type_ids"][r]])} if types is not None else {}
            out = extractor.model(input_ids=torch.tensor([ids]), **extra).logits[0]
            labels = torch.tensor(labels)
            keep = labels != IGNORE_INDEX
            total += torch.nn.functional.cross_entropy(out[keep], labels[keep], reduction="sum").item()
            count += int(keep.sum())
    probs = extractor.predict_probs(texts)  # the model's own, before any decision
    cleaning = extractor.settings.cleaning
    f1 = score_documents([d.document for d in docs], [d.tags for d in docs], probs, cleaning)["phrase"]["micro"]["f1"]
    return total / count, f1


@pytest.mark.slow  # two processes importing torch: ~20 s
def test_torchrun_without_output_dir_writes_exactly_one_run_directory(tmp_path):
    torchrun(SMOKE, cwd=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "outputs"]  # rank 0 saved the prepared dataset
    runs = [p for p in (tmp_path / "outputs" / "smoke").iterdir() if p.name != "latest"]
    assert len(runs) == 1, "every rank must reuse rank 0's run directory"
    run_dir = runs[0]
    assert os.readlink(run_dir.parent / "latest") == run_dir.name
    assert json.loads((run_dir / "run_info.json").read_text(encoding="utf-8"))["run_stamp"] == run_dir.name
    for name in ("model/model.safetensors", "model/keyphrase_tagger.json", "model/lexicon.json", "metrics.json",
                 "run_info.json", ".hydra/config.yaml"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    # The reported loss is the model's mean token loss, not that times the number of processes;
    # the phrase F1 is that of the validation windows put back in their documents' order.
    loss, f1 = validation_scores(run_dir / "model", ["experiment=smoke", f"data.corpus_path={CORPUS}"])
    np.testing.assert_allclose(metrics["eval_loss"], loss, rtol=1e-3)
    assert metrics["eval_phrase_f1"] == pytest.approx(f1, abs=1e-9)


@pytest.mark.slow
def test_torchrun_with_output_dir_trains_a_model_the_extractor_loads(tmp_path):
    from keyphrase_tagger import KeyphraseExtractor

    run_dir = tmp_path / "ddp_run"
    torchrun([*SMOKE, f"output_dir={run_dir}"], cwd=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "ddp_run"]  # and the prepared dataset
    info = json.loads((run_dir / "run_info.json").read_text(encoding="utf-8"))
    assert info["n_train_windows"] > 0
    extractor = KeyphraseExtractor.from_pretrained(run_dir / "model", device="cpu")
    text = "加快发展现代服务业，推进跨境电商综合试验区建设"
    assert all(p.text == text[p.start : p.end] for p in extractor.extract(text))


@pytest.mark.parametrize(
    ("argv", "env", "cuda", "backend"),
    [
        ([], None, False, "gloo"),
        ([], None, True, "cpu:gloo,cuda:nccl"),  # objects over gloo, CUDA tensors over NCCL
        (["trainer=gpu", "trainer.ddp_backend=nccl"], None, True, "cpu:gloo,cuda:nccl"),
        (["trainer.ddp_backend=gloo"], None, True, "gloo"),  # what the user asked for, even with GPUs
        ([], "nccl", True, "cpu:gloo,cuda:nccl"),
        (["trainer.ddp_backend=gloo"], "nccl", True, "gloo"),  # the command line wins over the environment
    ],
)
def test_the_stamp_process_group_uses_the_backend_training_will(monkeypatch, argv, env, cuda, backend):
    from keyphrase_tagger.cli import train as cli_train

    monkeypatch.setattr(sys, "argv", ["kpt-train", *argv])
    if env is None:
        monkeypatch.delenv("KPT_DDP_BACKEND", raising=False)
    else:
        monkeypatch.setenv("KPT_DDP_BACKEND", env)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    assert cli_train._process_group_backend() == backend
