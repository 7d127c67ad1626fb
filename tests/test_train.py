"""Training end to end: run directory, plain-transformers checkpoint, presets, resume, multirun."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import CORPUS, REPO, compose

from keyphrase_tagger.errors import ConfigError

BIN = Path(sys.executable).parent
ID2LABEL = {"0": "O", "1": "B-KP", "2": "I-KP"}
SMOKE = ["experiment=smoke", f"data.corpus_path={CORPUS}"]


def run_cli(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def load_weights(model_dir: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(model_dir / "model.safetensors"))


def assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = load_weights(a), load_weights(b)
    assert wa.keys() == wb.keys()
    for name in wa:
        np.testing.assert_array_equal(wa[name], wb[name], err_msg=name)


def assert_is_checkpoint(model_dir: Path) -> None:
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    assert config["id2label"] == ID2LABEL
    assert config["label2id"] == {v: int(k) for k, v in ID2LABEL.items()}
    for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json", "keyphrase_tagger.json", "lexicon.json"):
        assert (model_dir / name).is_file(), name
    tokenizer_config = json.loads((model_dir / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert tokenizer_config["model_max_length"] == config["max_position_embeddings"]


def test_kpt_train_smoke_leaves_a_complete_run_directory(tmp_path):
    result = run_cli([str(BIN / "kpt-train"), *SMOKE], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    experiment_dir = tmp_path / "outputs" / "smoke"
    (run_dir,) = [p for p in experiment_dir.iterdir() if p.name != "latest"]
    assert os.readlink(experiment_dir / "latest") == run_dir.name
    assert_is_checkpoint(run_dir / "model")
    saved = yaml.safe_load((run_dir / ".hydra" / "config.yaml").read_text(encoding="utf-8"))
    assert saved["experiment_name"] == "smoke" and saved["data"]["max_documents"] == 3
    info = json.loads((run_dir / "run_info.json").read_text(encoding="utf-8"))
    if (REPO / ".git").exists():  # recorded from the code's checkout, though the run started elsewhere
        assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", info["git_commit"])
    assert {"torch", "transformers", "datasets", "keyphrase-tagger"} <= set(info["packages"])
    assert info["packages"]["transformers"]
    assert info["seed"] == 42 and info["wall_time_s"] > 0
    assert info["run_dir"] == str(run_dir) and info["config"]["output_dir"] == str(run_dir)
    assert info["run_stamp"] == run_dir.name == info["config"]["run_stamp"]  # the stamp Hydra named it by
    assert info["config"]["data"]["window"] == {"max_chars": 62, "stride": 16}  # resolved, as used
    assert info["data_stats"]["all"]["documents"] == 40
    assert info["data_stats"]["train"]["documents"] + info["data_stats"]["validation"]["documents"] <= 40
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert 0.0 <= metrics["eval_phrase_f1"] <= 1.0 and np.isfinite(metrics["eval_loss"])
    # The working directory gets outputs/ and the prepared dataset, which the next run reads.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "outputs"]
    stats = json.loads((tmp_path / "data" / "processed" / "policy" / "stats.json").read_text(encoding="utf-8"))
    assert stats["fingerprint"]["digest"]
    assert "prepared dataset: data/processed/policy: no prepared dataset there; labeling" in result.stdout + result.stderr
    # The console and the run's log file state the decision in one short line, the weights stay in the model.
    log_files = "".join(p.read_text(encoding="utf-8") for p in run_dir.glob("*.log"))
    for text in (result.stdout + result.stderr, log_files):
        assert all(len(line) <= 1000 for line in text.splitlines())
        assert "np.float64" not in text
    assert "decision: phrase rescorer (" in result.stdout + result.stderr


def test_run_directory_holds_metrics_and_the_log_history(smoke_run):
    metrics = json.loads((smoke_run / "metrics.json").read_text(encoding="utf-8"))
    assert {"eval_phrase_f1", "eval_phrase_precision", "eval_phrase_recall", "eval_entity_f1", "train_loss"} <= set(metrics)
    history = (smoke_run / "logs" / "log_history.csv").read_text(encoding="utf-8").splitlines()
    assert "eval_phrase_f1" in history[0] and len(history) > 1


def test_every_metric_a_sweeper_may_optimise_is_reported_by_a_run(smoke_run):
    from keyphrase_tagger.training.run_record import VALIDATION_METRICS

    metrics = json.loads((smoke_run / "metrics.json").read_text(encoding="utf-8"))
    assert set(VALIDATION_METRICS) <= set(metrics)


def test_sweepers_get_the_validation_f1_of_the_decision_that_ships():
    from keyphrase_tagger.training.run_record import optimized_value

    fitted = {"eval_phrase_f1": 0.40, "eval_tuned_phrase_f1": 0.45, "eval_loss": 0.2}
    assert optimized_value(fitted, compose("train").optimized_metric) == 0.45
    argmax = {"eval_phrase_f1": 0.40, "eval_loss": 0.2}  # decision=argmax: nothing fitted
    assert optimized_value(argmax, compose("train", ["decision=argmax"]).optimized_metric) == 0.40
    assert optimized_value(fitted, "eval_loss") == 0.2
    assert optimized_value({"train_loss": 1.0}, "eval_tuned_phrase_f1") is None  # no validation split


def test_checkpoint_loads_with_plain_transformers(smoke_checkpoint):
    from transformers import AutoModelForTokenClassification, AutoTokenizer, pipeline

    assert_is_checkpoint(smoke_checkpoint)
    model = AutoModelForTokenClassification.from_pretrained(smoke_checkpoint)
    tokenizer = AutoTokenizer.from_pretrained(smoke_checkpoint)
    assert model.config.id2label == {0: "O", 1: "B-KP", 2: "I-KP"}
    assert tokenizer.model_max_length == model.config.max_position_embeddings
    text = "加快发展现代服务业，推进跨境电商综合试验区建设"
    # Chinese characters are single tokens for the character tokenizer, so plain tokenization aligns.
    encoded = tokenizer(text)
    assert len(encoded["input_ids"]) == len(text) + 2
    tagger = pipeline("token-classification", model=model, tokenizer=tokenizer, device="cpu")
    entities = tagger(text)
    assert isinstance(entities, list)
    for entity in entities:
        assert entity["entity"] in ("B-KP", "I-KP")
        assert text[entity["start"] : entity["end"]] == entity["word"]


def test_training_sees_the_validation_probabilities_the_extractor_gives(smoke_checkpoint, tmp_path):
    from omegaconf import OmegaConf

    from keyphrase_tagger import KeyphraseExtractor
    from keyphrase_tagger.tagger.inputs import WINDOW_POSITION, logits_to_probs
    from keyphrase_tagger.training.fit_decision import predict_probs
    from keyphrase_tagger.training.inputs import build_windows, load_inputs
    from keyphrase_tagger.training.train import build_trainer

    cfg = compose("train", SMOKE)
    inputs = load_inputs(cfg)
    trainer_cfg = OmegaConf.to_container(cfg.trainer, resolve=True)
    extractor = KeyphraseExtractor.from_pretrained(smoke_checkpoint, device="cpu")  # as shipped: default batches
    _, val_ds = build_windows(inputs, extractor.tokenizer)
    trainer = build_trainer(trainer_cfg, inputs, extractor.model, extractor.tokenizer, val_ds, val_ds, tmp_path,
                            int(cfg.seed), [])
    texts = [d.document.text for d in inputs.val_docs]
    shipped = extractor.predict_probs(texts)
    # What the decision is fitted on: the extractor's path and batches, hence the same numbers.
    fitted = predict_probs(trainer, val_ds, inputs.val_docs, inputs.max_chars, inputs.stride)
    # What the per-epoch evaluation scores: the Trainer's batches, equal up to rounding.
    logits = trainer.predict(val_ds.remove_columns(list(WINDOW_POSITION))).predictions
    evaluated = logits_to_probs(logits, [len(t) for t in texts], inputs.max_chars, inputs.stride)
    assert len(shipped) == len(inputs.val_docs) > 0
    for text, ship, fit, evaluation in zip(texts, shipped, fitted, evaluated, strict=True):
        assert ship.shape == (len(text), 3) and ship.dtype == fit.dtype == evaluation.dtype == np.float32
        np.testing.assert_array_equal(fit, ship)
        np.testing.assert_allclose(evaluation, ship, rtol=0, atol=1e-6)


def test_pretrained_preset_fine_tunes_a_saved_checkpoint_and_predicts(pretrained_bert_dir, tmp_path):
    from keyphrase_tagger import KeyphraseExtractor
    from keyphrase_tagger.tagger.lexicon_inputs import LexiconFeatureConfig
    from keyphrase_tagger.training.train import train

    run_dir = tmp_path / "run"
    cfg = compose("train", [*SMOKE, "model=bert_base_chinese", f"model.name_or_path={pretrained_bert_dir}",
                            f"output_dir={run_dir}", f"data.processed_dir={tmp_path / 'processed'}"])
    metrics = train(cfg)
    assert 0.0 <= metrics["eval_phrase_f1"] <= 1.0
    model_dir = run_dir / "model"
    assert_is_checkpoint(model_dir)
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    assert config["max_position_embeddings"] == 128 and config["hidden_size"] == 32
    # The default recipe, as with the tiny preset: lexicon input features and a fitted decision.
    settings = json.loads((model_dir / "keyphrase_tagger.json").read_text(encoding="utf-8"))
    assert settings["lexicon_features"]["enabled"]
    assert config["type_vocab_size"] == LexiconFeatureConfig.from_dict(settings["lexicon_features"]).n_types
    assert "eval_tuned_phrase_f1" in metrics
    # The encoder was fine-tuned from the saved weights, not rebuilt.
    before, after = load_weights(pretrained_bert_dir), load_weights(model_dir)
    name = "bert.embeddings.position_embeddings.weight"
    assert before[name].shape == after[name].shape
    assert not np.array_equal(before[name], after[name])
    assert np.corrcoef(before[name].ravel(), after[name].ravel())[0, 1] > 0.9
    extractor = KeyphraseExtractor.from_pretrained(model_dir, device="cpu")
    text = "推进跨境电商 ABC 综合试验区建设"
    for phrase in extractor.extract(text):
        assert phrase.text == text[phrase.start : phrase.end]


def smoke_resume_cfg(corpus: Path, run_dir: Path, *extra: str):
    """Two real epochs on the tiny corpus, a checkpoint and an evaluation after each."""
    return compose("train", ["experiment=smoke", f"data.corpus_path={corpus}", "data.max_documents=null",
                             "trainer.max_steps=-1", "trainer.num_train_epochs=2", "trainer.learning_rate=0.01",
                             "trainer.save_total_limit=null", "trainer.keep_checkpoints=true", f"output_dir={run_dir}",
                             f"data.processed_dir={run_dir.parent / 'processed'}", *extra])


@pytest.mark.slow
def test_resume_continues_an_interrupted_run_to_the_same_result(tiny_corpus, tmp_path):
    from transformers import TrainerCallback

    from keyphrase_tagger.training.train import train

    class Interrupted(Exception):
        pass

    class InterruptAfterFirstEpoch(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.epoch < 2:
                raise Interrupted  # as if the job were killed right after its epoch-1 checkpoint

    whole = train(smoke_resume_cfg(tiny_corpus, tmp_path / "whole"))

    with pytest.raises(Interrupted):
        train(smoke_resume_cfg(tiny_corpus, tmp_path / "cut"), callbacks=[InterruptAfterFirstEpoch()])
    checkpoints = tmp_path / "cut" / "checkpoints"
    assert len(list(checkpoints.iterdir())) == 1
    assert not (tmp_path / "cut" / "model").exists()
    # A kill during the epoch-2 save: part of the weights written, trainer_state.json not yet.
    first = next(checkpoints.iterdir())
    half = checkpoints / f"checkpoint-{2 * int(first.name.split('-')[1])}"
    half.mkdir()
    (half / "model.safetensors").write_bytes((first / "model.safetensors").read_bytes()[:1000])
    resumed = train(smoke_resume_cfg(tiny_corpus, tmp_path / "cut", "trainer.resume_from_checkpoint=true"))

    for key, value in whole.items():
        # train_loss/runtime are HF's averages over the steps this process ran, not the run's.
        if key.startswith("eval_") and "runtime" not in key and "per_second" not in key:
            assert resumed[key] == value, key
    last = sorted((tmp_path / "whole" / "checkpoints").iterdir(), key=lambda p: int(p.name.split("-")[1]))[-1]
    assert_same_weights(last, tmp_path / "cut" / "checkpoints" / last.name)
    assert_same_weights(tmp_path / "whole" / "model", tmp_path / "cut" / "model")


def test_resume_without_a_checkpoint_is_a_config_error(tiny_corpus, tmp_path):
    from keyphrase_tagger.training.train import train

    with pytest.raises(ConfigError, match="no checkpoint under"):
        train(smoke_resume_cfg(tiny_corpus, tmp_path / "fresh", "trainer.resume_from_checkpoint=true"))
    with pytest.raises(ConfigError, match="not a Trainer checkpoint"):
        train(smoke_resume_cfg(tiny_corpus, tmp_path / "fresh", f"trainer.resume_from_checkpoint={tmp_path}"))
    assert not (tmp_path / "fresh").exists()


def fake_checkpoint(directory: Path, complete: bool = True) -> Path:
    """A directory with the files the Trainer saves; ``complete=False``: killed before trainer_state.json."""
    directory.mkdir(parents=True)
    for name in ("model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth"):
        (directory / name).write_bytes(b"\0")
    if complete:
        (directory / "trainer_state.json").write_text("{}", encoding="utf-8")
    return directory


def test_resume_takes_the_newest_complete_checkpoint_and_logs_the_half_written_ones_it_skips(tmp_path, caplog):
    from keyphrase_tagger.training.arguments import resume_checkpoint

    checkpoints = tmp_path / "checkpoints"
    fake_checkpoint(checkpoints / "checkpoint-9")
    fake_checkpoint(checkpoints / "checkpoint-10")  # newer than checkpoint-9 by step, not by name
    (fake_checkpoint(checkpoints / "checkpoint-11") / "trainer_state.json").write_text('{"global_st', encoding="utf-8")
    fake_checkpoint(checkpoints / "checkpoint-12", complete=False)
    with caplog.at_level("INFO", logger="keyphrase_tagger.training.arguments"):
        assert resume_checkpoint(True, checkpoints) == str(checkpoints / "checkpoint-10")
    assert "skipping the incomplete checkpoint-12 (no trainer_state.json)" in caplog.text
    assert "skipping the incomplete checkpoint-11 (no trainer_state.json)" in caplog.text
    assert f"resuming from {checkpoints / 'checkpoint-10'}" in caplog.text


@pytest.mark.parametrize("lacking", ["model.safetensors", "optimizer.pt", "scheduler.pt", "rng_state.pth",
                                     "trainer_state.json"])
def test_resume_refuses_a_checkpoint_path_that_lacks_a_file_the_trainer_needs(tmp_path, lacking):
    from keyphrase_tagger.training.arguments import resume_checkpoint

    checkpoint = fake_checkpoint(tmp_path / "checkpoints" / "checkpoint-4")
    (checkpoint / lacking).unlink()
    with pytest.raises(ConfigError, match=rf"checkpoint-4: incomplete checkpoint, no {re.escape(lacking)} "):
        resume_checkpoint(str(checkpoint), tmp_path / "checkpoints")
    with pytest.raises(ConfigError, match=r"no complete checkpoint under .*; checkpoint-4 is incomplete"):
        resume_checkpoint(True, tmp_path / "checkpoints")


def test_kpt_train_reports_a_config_error_in_one_line_and_leaves_no_run_directory(tiny_corpus, tmp_path):
    result = run_cli([str(BIN / "kpt-train"), "experiment=smoke", f"data.corpus_path={tiny_corpus}",
                      "output_dir=run", "trainer.resume_from_checkpoint=true"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: trainer.resume_from_checkpoint=true: no checkpoint under "
                                                  f"{tmp_path / 'run' / 'checkpoints'} (pass the interrupted run's output_dir=)"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_multirun_writes_one_directory_per_job(tmp_path):
    result = run_cli([str(BIN / "kpt-train"), "-m", *SMOKE, "seed=1,2"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    sweeps = list((tmp_path / "outputs" / "smoke" / "multirun").iterdir())
    assert len(sweeps) == 1
    jobs = sorted(p for p in sweeps[0].iterdir() if p.is_dir())
    assert [p.name for p in jobs] == ["seed=1", "seed=2"]
    for job, seed in zip(jobs, (1, 2)):
        assert_is_checkpoint(job / "model")
        info = json.loads((job / "run_info.json").read_text(encoding="utf-8"))
        assert info["seed"] == seed and info["run_dir"] == str(job)
        assert yaml.safe_load((job / ".hydra" / "config.yaml").read_text(encoding="utf-8"))["seed"] == seed
        assert (job / "metrics.json").is_file()
    # Nothing but the sweep under outputs/: no job fell back to a single-run directory.
    assert [p.name for p in (tmp_path / "outputs").iterdir()] == ["smoke"]
    assert [p.name for p in (tmp_path / "outputs" / "smoke").iterdir()] == ["multirun"]


def test_configs_resolve_to_the_documented_run_directory():
    cfg = compose("train", ["experiment=smoke"])
    assert cfg.experiment_name == "smoke"  # the experiment file wins over train.yaml
    assert cfg.output_dir.startswith("outputs/smoke/")


def test_word_boundaries_reach_the_model_the_checkpoint_and_the_extractor(tiny_corpus, tmp_path):
    from keyphrase_tagger import KeyphraseExtractor
    from keyphrase_tagger.tagger.lexicon_inputs import N_WORD_PLACES, word_places
    from keyphrase_tagger.training.inputs import build_windows, load_inputs
    from keyphrase_tagger.training.train import train

    assert compose("train", ["experiment=word_boundaries"]).features.word_boundaries
    cfg = compose("train", ["experiment=smoke", "features.word_boundaries=true", f"data.corpus_path={tiny_corpus}",
                            "data.max_documents=null", f"output_dir={tmp_path / 'run'}",
                            f"data.processed_dir={tmp_path / 'processed'}"])
    train(cfg)
    extractor = KeyphraseExtractor.from_pretrained(tmp_path / "run" / "model", device="cpu")
    features = extractor.featurizer.config
    assert features.word_boundaries and extractor.model.config.type_vocab_size == features.n_types
    # The validation windows the run trained beside carry the same type ids the extractor computes.
    inputs = load_inputs(cfg)
    _, val_ds = build_windows(inputs, extractor.tokenizer)
    text = inputs.val_docs[0].document.text
    ids = extractor.featurizer.type_ids(text)
    np.testing.assert_array_equal(ids % N_WORD_PLACES, word_places(text))
    window = val_ds[0]
    assert window["token_type_ids"][1:-1] == ids[: len(window["token_type_ids"]) - 2].tolist()
    assert extractor.predict_probs([text])[0].shape == (len(text), 3)


@pytest.mark.parametrize("experiment", sorted(p.stem for p in (REPO / "configs" / "experiment").glob("*.yaml")))
def test_every_experiment_composes_with_known_rescorer_features(experiment):
    from keyphrase_tagger.decision.candidates import feature_names

    cfg = compose("train", [f"experiment={experiment}"])
    assert cfg.experiment_name == experiment  # each file names its own output folder
    if cfg.decision.kind == "rescorer":
        feature_names(cfg.decision.rescore_features)  # raises on an unknown group


def first_logged_loss(corpus: Path, run_dir: Path, *extra: str) -> float:
    import csv

    from keyphrase_tagger.training.train import train

    train(compose("train", ["experiment=smoke", f"data.corpus_path={corpus}", "data.max_documents=null",
                            "trainer.max_steps=1", "trainer.logging_steps=1", "model.hidden_dropout_prob=0",
                            "model.attention_probs_dropout_prob=0", f"output_dir={run_dir}",
                            f"data.processed_dir={run_dir.parent / 'processed'}", *extra]))
    with (run_dir / "logs" / "log_history.csv").open(encoding="utf-8") as f:
        return float(next(row for row in csv.DictReader(f) if row["loss"])["loss"])


def test_gradient_accumulation_averages_the_loss_of_its_micro_batches(tiny_corpus, tmp_path):
    # The same 8 windows in one batch, or in two accumulated batches of 4: the same mean loss
    # (up to the windows' unequal lengths), not the sum of the two micro-batch means.
    whole = first_logged_loss(tiny_corpus, tmp_path / "whole", "trainer.per_device_train_batch_size=8")
    accumulated = first_logged_loss(tiny_corpus, tmp_path / "accumulated", "trainer.per_device_train_batch_size=4",
                                    "+trainer.gradient_accumulation_steps=2")
    np.testing.assert_allclose(accumulated, whole, rtol=0.05)


def test_best_epoch_by_decision_keeps_the_epoch_whose_decision_scores_best(tiny_corpus, tmp_path):
    from keyphrase_tagger.checkpoint import CheckpointSettings
    from keyphrase_tagger.training.epoch_selection import checkpoint_epoch
    from keyphrase_tagger.training.train import train

    run_dir = tmp_path / "run"
    metrics = train(smoke_resume_cfg(tiny_corpus, run_dir, "trainer.best_epoch_by=decision",
                                     "decision.rescore_steps=100"))
    by_epoch = metrics["decision_f1_by_epoch"]
    assert list(by_epoch) == ["1", "2"]
    record = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    best = max(by_epoch.values())
    kept = min(int(epoch) for epoch, f1 in by_epoch.items() if f1 == best)  # the earlier one on a tie
    assert record["best_epoch"] == kept and record["best_model_selected_by"] == "eval_tuned_phrase_f1"
    assert record["eval_tuned_phrase_f1"] == record["best_metric"] == best
    assert "decision_f1_by_epoch" in record["notes"]
    # The saved model is the kept epoch's checkpoint (the run keeps its checkpoints), with a decision.
    (checkpoint,) = [p for p in (run_dir / "checkpoints").glob("checkpoint-*") if checkpoint_epoch(p)[1] == kept]
    assert_same_weights(checkpoint, run_dir / "model")
    assert CheckpointSettings.load(run_dir / "model").decision
    card = (run_dir / "model" / "README.md").read_text(encoding="utf-8")
    assert "| the score that chose the best epoch (`best_model_selected_by`) | eval_tuned_phrase_f1 |" in card


def test_best_epoch_by_decision_refuses_a_refit_and_unknown_values(tiny_corpus, tmp_path):
    from keyphrase_tagger.training.train import train

    with pytest.raises(ConfigError, match="best_epoch_by=decision: a refit trains no epochs"):
        train(smoke_resume_cfg(tiny_corpus, tmp_path / "refit", "trainer.best_epoch_by=decision",
                               f"tagger_from={tmp_path}"))
    with pytest.raises(ConfigError, match="trainer.best_epoch_by"):
        train(smoke_resume_cfg(tiny_corpus, tmp_path / "bad", "trainer.best_epoch_by=loss"))
    assert not (tmp_path / "refit").exists() and not (tmp_path / "bad").exists()


def test_rescorer_cross_fit_feeds_the_rescorer_taggers_that_did_not_see_the_document(tiny_corpus, tmp_path,
                                                                                      monkeypatch):
    from keyphrase_tagger.training import cross_fit, fit_decision
    from keyphrase_tagger.training.train import train

    seen = {}
    real_cross_fit, real_decide = cross_fit.cross_fitted_probs, fit_decision.decide

    def recording_cross_fit(cfg, inputs, train_ds, val_ds, run_dir, seed, k):
        trained_on = []
        real_train_without = cross_fit.train_without

        def recording_train_without(cfg, inputs, windows, val_ds, work, seed):
            trained_on.append(sorted(set(windows["doc_index"])))
            return real_train_without(cfg, inputs, windows, val_ds, work, seed)

        monkeypatch.setattr(cross_fit, "train_without", recording_train_without)
        seen["probs"] = real_cross_fit(cfg, inputs, train_ds, val_ds, run_dir, seed, k)
        seen["trained_on"], seen["n_docs"], seen["lengths"] = trained_on, len(inputs.train_docs), \
            [len(d.document.text) for d in inputs.train_docs]
        return seen["probs"]

    def recording_decide(cfg, trainer, inputs, train_ds, val_ds, metrics, train_probs=None):
        seen["decided_with"] = train_probs
        return real_decide(cfg, trainer, inputs, train_ds, val_ds, metrics, train_probs)

    import keyphrase_tagger.training.train as train_module

    monkeypatch.setattr(train_module, "cross_fitted_probs", recording_cross_fit)
    monkeypatch.setattr(train_module, "decide", recording_decide)
    run_dir = tmp_path / "run"
    train(smoke_resume_cfg(tiny_corpus, run_dir, "trainer.rescorer_cross_fit=2", "decision.rescore_steps=100"))
    n = seen["n_docs"]
    # Two taggers, each trained on the documents of the other part (document i is in part i % 2).
    assert seen["trained_on"] == [list(range(1, n, 2)), list(range(0, n, 2))]
    assert seen["decided_with"] is seen["probs"]
    assert [p.shape for p in seen["probs"]] == [(length, 3) for length in seen["lengths"]]
    assert all(np.allclose(p.sum(axis=1), 1, atol=1e-5) for p in seen["probs"])
    assert not (run_dir / "cross_fit").exists()  # the cross-fitted taggers are removed after use
    assert (run_dir / "model" / "model.safetensors").is_file()


def test_rescorer_cross_fit_refuses_what_cannot_work(tiny_corpus, tmp_path):
    from keyphrase_tagger.training.train import train

    for extra, message in ((["trainer.rescorer_cross_fit=1"], "0 .* or a number of parts >= 2"),
                           (["trainer.rescorer_cross_fit=-2"], "trainer.rescorer_cross_fit"),
                           (["trainer.rescorer_cross_fit=2", "decision=prior_fusion"], "only the phrase rescorer"),
                           (["trainer.rescorer_cross_fit=2", f"tagger_from={tmp_path}"], "a refit keeps its tagger")):
        with pytest.raises(ConfigError, match=message):
            train(smoke_resume_cfg(tiny_corpus, tmp_path / "run", *extra))
    assert not (tmp_path / "run").exists()
    (tmp_path / "run" / "cross_fit").mkdir(parents=True)  # not the program's: left as it is
    with pytest.raises(ConfigError, match="cross_fit exists already"):
        train(smoke_resume_cfg(tiny_corpus, tmp_path / "run", "trainer.rescorer_cross_fit=2",
                               "decision.rescore_steps=100"))
    assert (tmp_path / "run" / "cross_fit").is_dir()
