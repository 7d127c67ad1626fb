"""``model.head=crf``: a linear-chain CRF over the token classifier's logits, trained with it, saved
beside it as ``crf.safetensors``; its marginals are the probabilities every later stage reads."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import CORPUS, REPO, compose

from keyphrase_tagger.errors import CheckpointError, ConfigError
from keyphrase_tagger.records import B, I, O


def crf_overrides(processed: Path) -> list[str]:
    # prior_fusion: a fitted decision that reads the probabilities, without the rescorer's minute of fitting.
    return ["experiment=smoke", "model.head=crf", "decision=prior_fusion", f"data.corpus_path={CORPUS}",
            f"data.processed_dir={processed}"]


@pytest.fixture(scope="module")
def processed(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("crf_processed") / "policy"


@pytest.fixture(scope="module")
def crf_run(tmp_path_factory, processed) -> Path:
    """A smoke run with the CRF head, evaluated and saved every 3 of its 6 steps, checkpoints kept."""
    from keyphrase_tagger.training.train import train

    run_dir = tmp_path_factory.mktemp("crf_run")
    steps = ["trainer.eval_strategy=steps", "trainer.save_strategy=steps", "+trainer.eval_steps=3",
             "+trainer.save_steps=3", "trainer.keep_checkpoints=true"]
    train(compose("train", [*crf_overrides(processed), *steps, f"output_dir={run_dir}"]))
    return run_dir


def crf_state(directory: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(directory / "crf.safetensors"))


def model_state(directory: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(directory / "model.safetensors"))


def assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for name, value in a.items():
        np.testing.assert_array_equal(value, b[name], err_msg=name)


# --- without training -------------------------------------------------------------------------------


def test_every_preset_keeps_the_softmax_head_and_the_schema_knows_both():
    import yaml

    from keyphrase_tagger.config.validate import validate_train_config

    presets = sorted((REPO / "configs" / "model").glob("*.yaml"))
    assert len(presets) >= 4
    for preset in presets:
        assert yaml.safe_load(preset.read_text(encoding="utf-8"))["head"] == "softmax", preset.name
    validate_train_config(compose("train", ["model.head=crf"]))
    with pytest.raises(ConfigError, match=r"^model\.head: expected one of 'softmax', 'crf', got 'bogus'$"):
        validate_train_config(compose("train", ["model.head=bogus"]))


def test_the_checkpoint_check_names_the_file_the_crf_module_writes():
    from keyphrase_tagger.checkpoint import CRF_WEIGHTS_FILE
    from keyphrase_tagger.tagger.crf import WEIGHTS_FILE

    assert CRF_WEIGHTS_FILE == WEIGHTS_FILE == "crf.safetensors"


def test_window_probs_is_a_softmax_or_the_crf_marginals_over_each_windows_characters():
    from keyphrase_tagger.tagger.crf import LinearChainCRF
    from keyphrase_tagger.tagger.inputs import window_probs

    torch.manual_seed(0)
    logits = torch.randn(2, 9, 3)
    np.testing.assert_array_equal(window_probs(logits, [7, 4]), torch.softmax(logits, dim=-1).numpy())
    crf = LinearChainCRF()
    with torch.no_grad():
        crf.transitions.normal_()
    padded = logits.clone()
    padded[1, 6:] = float("nan")  # the Trainer pads predictions with -100; whatever is there is not read
    probs = window_probs(padded, [7, 4], crf)
    assert probs.shape == (2, 9, 3) and probs.dtype == np.float32
    for row, n in enumerate([7, 4]):
        mask = torch.zeros(1, 9, dtype=torch.bool)
        mask[0, 1 : 1 + n] = True
        expected = crf.marginals(logits[row : row + 1], mask)[0].detach().numpy()
        np.testing.assert_allclose(probs[row], expected, rtol=0, atol=1e-6)
        np.testing.assert_allclose(probs[row, 1 : 1 + n].sum(axis=1), 1.0, atol=1e-6)
        assert probs[row, 1, I] == 0.0  # a window's first character never starts inside a phrase
        assert not probs[row, 0].any() and not probs[row, 1 + n :].any()  # [CLS], [SEP], padding


def test_the_loss_reads_a_window_cut_inside_a_phrase_as_starting_one():
    from keyphrase_tagger.tagger.crf import LinearChainCRF
    from keyphrase_tagger.training.crf_trainer import crf_loss

    torch.manual_seed(0)
    crf = LinearChainCRF()
    emissions = torch.randn(2, 6, 3, requires_grad=True)
    labels = torch.tensor([[-100, I, I, O, B, -100], [-100, O, B, I, -100, -100]])  # row 0 starts with I-KP
    loss = crf_loss(crf, emissions, labels)
    repaired = torch.tensor([[-100, B, I, O, B, -100], [-100, O, B, I, -100, -100]])
    mask = repaired != -100
    expected = crf.neg_log_likelihood(emissions, repaired, mask, reduction="sum") / 7  # per character
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert crf.transitions.grad.abs().sum() > 0 and emissions.grad[:, 0].abs().sum() == 0


# --- a trained checkpoint ---------------------------------------------------------------------------


def test_the_crf_run_ships_crf_safetensors_beside_plain_transformers_weights(crf_run):
    from transformers import AutoModelForTokenClassification

    model_dir = crf_run / "model"
    settings = json.loads((model_dir / "keyphrase_tagger.json").read_text(encoding="utf-8"))
    assert settings["head"] == "crf"
    assert set(crf_state(model_dir)) == {"start_transitions", "end_transitions", "transitions"}
    assert not any("crf" in name or "transitions" in name for name in model_state(model_dir))
    model, info = AutoModelForTokenClassification.from_pretrained(str(model_dir), output_loading_info=True)
    assert type(model).__name__ == "BertForTokenClassification"
    assert info["missing_keys"] == info["unexpected_keys"] == set() and not info["mismatched_keys"]
    # Every intermediate checkpoint holds its CRF; the shipped one is the best checkpoint's.
    checkpoints = sorted((crf_run / "checkpoints").glob("checkpoint-*"))
    assert [p.name for p in checkpoints] == ["checkpoint-3", "checkpoint-6"]
    assert all((p / "crf.safetensors").is_file() for p in checkpoints)
    best = Path(json.loads((crf_run / "run_info.json").read_text(encoding="utf-8"))["best_checkpoint"])
    assert_same(crf_state(model_dir), crf_state(best))
    assert_same(model_state(model_dir), model_state(best))
    if best.name != "checkpoint-6":  # (the smoke run's F1 ties at step 3: the first is kept) not the last CRF
        assert not np.array_equal(crf_state(model_dir)["transitions"], crf_state(checkpoints[-1])["transitions"])


def test_the_transitions_were_trained_and_the_forbidden_ones_never_count(crf_run):
    from keyphrase_tagger.tagger.crf import iob2_allowed, load_crf

    first, last = (load_crf(crf_run / "checkpoints" / name) for name in ("checkpoint-3", "checkpoint-6"))
    allowed_start, allowed = iob2_allowed()
    for crf in (first, last):
        assert (crf.transitions[allowed] != 0).all() and (crf.start_transitions[allowed_start] != 0).all()
        assert (crf.end_transitions != 0).all()
    assert not torch.equal(first.transitions, last.transitions)  # still moving between checkpoints


def test_the_extractor_serves_the_crf_marginals_and_exact_phrases(crf_run):
    from transformers import AutoModelForTokenClassification

    from keyphrase_tagger import KeyphraseExtractor
    from keyphrase_tagger.tagger.crf import load_crf
    from keyphrase_tagger.tagger.encoding import CharEncoder

    model_dir = crf_run / "model"
    extractor = KeyphraseExtractor.from_pretrained(model_dir, device="cpu")
    assert extractor.crf is not None
    text = "推动数字经济和实体经济深度融合，完善养老服务体系"  # one window (max_chars 62)
    (probs,) = extractor.predict_probs([text])
    model = AutoModelForTokenClassification.from_pretrained(str(model_dir)).eval()
    crf = load_crf(model_dir)
    encoder = CharEncoder(extractor.tokenizer)
    ids = torch.tensor([[encoder.cls_id, *encoder.encode(text).tolist(), encoder.sep_id]])
    types = torch.tensor([[0, *extractor.featurizer.type_ids(text).tolist(), 0]])  # the lexicon features
    with torch.no_grad():
        emissions = model(input_ids=ids, attention_mask=torch.ones_like(ids), token_type_ids=types).logits
        mask = torch.ones_like(ids, dtype=torch.bool)
        mask[0, 0] = mask[0, -1] = False
        direct = crf.marginals(emissions, mask)[0, 1:-1].numpy()
    assert probs.shape == (len(text), 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs, direct, rtol=0, atol=1e-6)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    assert probs[0, I] == 0.0
    texts = [text, "加快发展现代服务业，建设跨境电商和现代物流体系" * 5]  # the second: several windows
    for source, phrases in zip(texts, extractor.extract_many(texts)):
        assert all(source[p.start : p.end] == p.text for p in phrases)


def checkpoint_trainer(crf_run, processed, tmp_path):
    """The Trainer of the run's config over the shipped checkpoint's model and CRF, and what it reads."""
    from omegaconf import OmegaConf

    from keyphrase_tagger import KeyphraseExtractor
    from keyphrase_tagger.training.inputs import build_windows, load_inputs
    from keyphrase_tagger.training.train import build_trainer

    cfg = compose("train", crf_overrides(processed))
    inputs = load_inputs(cfg)
    extractor = KeyphraseExtractor.from_pretrained(crf_run / "model", device="cpu")  # as shipped
    _, val_ds = build_windows(inputs, extractor.tokenizer)
    trainer = build_trainer(OmegaConf.to_container(cfg.trainer, resolve=True), inputs, extractor.model,
                            extractor.tokenizer, val_ds, val_ds, tmp_path, int(cfg.seed), [], crf=extractor.crf)
    return trainer, extractor, inputs, val_ds


def test_training_sees_the_crf_probabilities_the_extractor_gives(crf_run, processed, tmp_path, monkeypatch):
    import keyphrase_tagger.training.train as train_module
    from keyphrase_tagger.tagger.inputs import WINDOW_POSITION, logits_to_probs
    from keyphrase_tagger.training.crf_trainer import CRFTrainer
    from keyphrase_tagger.training.fit_decision import predict_probs

    trainer, extractor, inputs, val_ds = checkpoint_trainer(crf_run, processed, tmp_path)
    assert isinstance(trainer, CRFTrainer) and trainer.crf is extractor.crf
    texts = [d.document.text for d in inputs.val_docs]
    shipped = extractor.predict_probs(texts)
    fitted = predict_probs(trainer, val_ds, inputs.val_docs, inputs.max_chars, inputs.stride)  # the decision's
    logits = trainer.predict(val_ds.remove_columns(list(WINDOW_POSITION))).predictions
    evaluated = logits_to_probs(logits, [len(t) for t in texts], inputs.max_chars, inputs.stride, trainer.crf)
    # And what the per-epoch metrics score: the probabilities compute_metrics hands to the scorer.
    scored = []
    real_score = train_module.score_documents
    monkeypatch.setattr(train_module, "score_documents", lambda *a: scored.append(a[2]) or real_score(*a))
    metrics = trainer.evaluate()
    assert len(shipped) == len(inputs.val_docs) > 0 and len(scored) == 1
    assert np.isfinite(metrics["eval_loss"]) and metrics["eval_loss"] > 0
    for text, ship, fit, evaluation, score in zip(texts, shipped, fitted, evaluated, scored[0], strict=True):
        assert ship.shape == (len(text), 3) and ship.dtype == fit.dtype == evaluation.dtype == np.float32
        assert ship[0, I] == 0.0
        np.testing.assert_array_equal(fit, ship)
        np.testing.assert_allclose(evaluation, ship, rtol=0, atol=1e-6)
        np.testing.assert_allclose(score, ship, rtol=0, atol=1e-6)


def test_the_trainer_restores_the_crf_with_the_best_and_the_resumed_checkpoint(crf_run, processed, tmp_path):
    trainer, extractor, _, _ = checkpoint_trainer(crf_run, processed, tmp_path)
    first = crf_run / "checkpoints" / "checkpoint-3"
    for load in (lambda: trainer._load_from_checkpoint(str(first)), trainer._load_best_model):
        with torch.no_grad():
            trainer.crf.transitions.fill_(7.0)
        trainer.state.best_model_checkpoint = str(first)
        load()
        assert_same({k: v.numpy() for k, v in trainer.crf.state_dict().items()}, crf_state(first))
        saved = model_state(first)
        assert_same({k: v.numpy() for k, v in trainer.model.state_dict().items() if k in saved}, saved)
    assert trainer.crf is extractor.crf  # restored in place: the optimizer and the metrics hold this module
    softmax_run = tmp_path / "softmax_checkpoint"
    shutil.copytree(first, softmax_run)
    (softmax_run / "crf.safetensors").unlink()
    with pytest.raises(ConfigError, match=r"crf\.safetensors: missing .*model\.head=softmax"):
        trainer._load_from_checkpoint(str(softmax_run))


def test_a_crf_checkpoint_without_its_crf_is_refused_in_one_line(crf_run, tmp_path):
    from keyphrase_tagger import KeyphraseExtractor
    from keyphrase_tagger.checkpoint import CheckpointSettings, validate_checkpoint

    broken = tmp_path / "model"
    shutil.copytree(crf_run / "model", broken)
    (broken / "crf.safetensors").unlink()
    for load in (validate_checkpoint, lambda path: KeyphraseExtractor.from_pretrained(path, device="cpu")):
        with pytest.raises(CheckpointError) as caught:
            load(broken)
        assert "\n" not in str(caught.value)
        assert str(caught.value).startswith(f"{broken / 'crf.safetensors'}: missing")
    (broken / "crf.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{")  # a damaged header
    with pytest.raises(CheckpointError, match=r"crf\.safetensors: unreadable CRF weights"):
        validate_checkpoint(broken)
    settings = json.loads((broken / "keyphrase_tagger.json").read_text(encoding="utf-8"))
    (broken / "keyphrase_tagger.json").write_text(json.dumps({**settings, "head": "bogus"}), encoding="utf-8")
    with pytest.raises(CheckpointError, match=r"keyphrase_tagger\.json: head='bogus', expected one of softmax, crf$"):
        validate_checkpoint(broken)
    # Parts loaded by hand must agree with the settings: a crf head needs its CRF.
    extractor = KeyphraseExtractor.from_pretrained(crf_run / "model", device="cpu")
    with pytest.raises(ConfigError, match="head is 'crf' and a CRF was not given"):
        KeyphraseExtractor(extractor.model, extractor.tokenizer, CheckpointSettings.load(crf_run / "model"))


def test_a_refit_keeps_the_checkpoints_crf(crf_run, processed, tmp_path):
    from keyphrase_tagger.training.train import train

    run_dir = tmp_path / "refit"
    # model.head is softmax here: a refit keeps the checkpoint's tagger, its head included.
    metrics = train(compose("train", ["experiment=smoke", "decision=argmax", f"data.corpus_path={CORPUS}",
                                      f"data.processed_dir={processed}", f"tagger_from={crf_run}",
                                      f"output_dir={run_dir}"]))
    source = json.loads((crf_run / "metrics.json").read_text(encoding="utf-8"))
    assert json.loads((run_dir / "model" / "keyphrase_tagger.json").read_text(encoding="utf-8"))["head"] == "crf"
    assert_same(crf_state(run_dir / "model"), crf_state(crf_run / "model"))
    assert_same(model_state(run_dir / "model"), model_state(crf_run / "model"))
    # Evaluated with the loaded CRF: the CRF's loss of the source run, not that of fresh transitions.
    assert metrics["eval_loss"] == pytest.approx(source["eval_loss"], rel=1e-6)
    assert metrics["eval_phrase_f1"] == source["eval_phrase_f1"]


DDP_SCRIPT = '''
import sys
import torch
import torch.distributed as dist
from transformers import TrainerCallback
from keyphrase_tagger.training.train import train
sys.path.insert(0, sys.argv[1])
from conftest import compose


class SameCRF(TrainerCallback):
    """After each step, whether every process holds the same CRF (the optimizer's last group)."""

    def on_step_end(self, args, state, control, optimizer=None, **kwargs):
        flat = torch.cat([p.detach().flatten() for p in optimizer.param_groups[-1]["params"]])
        gathered = [torch.zeros_like(flat) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, flat)
        if dist.get_rank() == 0:
            same = all(torch.equal(g, gathered[0]) for g in gathered)
            print(f"step {state.global_step} crf {flat.numel()} same {same}", flush=True)


train(compose("train", sys.argv[2:]), callbacks=[SameCRF()])
'''


@pytest.mark.slow  # two processes importing torch: ~40 s
def test_under_torchrun_every_process_trains_the_same_crf(processed, tmp_path):
    import os
    import subprocess
    import sys

    script = tmp_path / "ddp_crf.py"
    script.write_text(DDP_SCRIPT, encoding="utf-8")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": "1"}
    overrides = [*crf_overrides(processed), "decision=argmax", "trainer.ddp_backend=gloo",
                 f"output_dir={tmp_path / 'run'}"]
    command = [str(Path(sys.executable).parent / "torchrun"), "--standalone", "--nproc_per_node=2", str(script),
               str(REPO / "tests"), *overrides]
    result = subprocess.run(command, check=False, cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-4000:]
    steps = [line for line in result.stdout.splitlines() if line.startswith("step ")]
    # DDP averages the model's gradients; the CRF's are averaged too, so every process steps alike.
    assert steps == [f"step {k} crf 15 same True" for k in range(1, 7)], steps
    assert (tmp_path / "run" / "model" / "crf.safetensors").is_file()
