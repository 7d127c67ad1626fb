"""Hyperparameter search: ``objective_folds`` (one job, several folds, their mean validation
scores) and the Optuna presets of ``configs/hparams_search/``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from conftest import REPO, compose, hide_module
from omegaconf import OmegaConf
from test_train import BIN, run_cli

from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.training.fold_objective import objective_folds, train_over_folds

PRESETS = sorted(p.stem for p in (REPO / "configs" / "hparams_search").glob("*.yaml"))


def test_presets_search_settings_the_config_has_and_score_trials_on_validation_folds():
    assert PRESETS == ["decision_optuna", "tagger_optuna"]
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    for preset in PRESETS:
        with initialize_config_dir(version_base="1.3", config_dir=str(REPO / "configs")):
            cfg = hydra_compose(config_name="train", overrides=[f"hparams_search={preset}"], return_hydra_config=True)
        params = OmegaConf.to_container(cfg.hydra.sweeper.params)
        assert params, preset
        for key in params:  # a misspelt key would be a new setting nothing reads
            assert OmegaConf.select(cfg, key, default="<missing>") != "<missing>", (preset, key)
        assert cfg.hydra.sweeper.direction == "maximize"
        assert cfg.optimized_metric == "eval_tuned_phrase_f1"
        assert objective_folds(cfg) == [0, 1, 2, 3, 4] and cfg.data.split.kfold == 5


@pytest.mark.parametrize(("changes", "message"), [
    ({"data": {"split": {"kfold": None}}}, "needs data.split.kfold"),
    ({"objective_folds": [0, 5]}, "distinct folds of data.split.kfold=5 (0..4)"),
    ({"objective_folds": [1, 1]}, "distinct folds"),
    ({"trainer": {"resume_from_checkpoint": True}}, "each fold is a run of its own"),
])
def test_objective_folds_refuses_what_cannot_work(changes, message):
    cfg = OmegaConf.merge({"objective_folds": [0, 1], "data": {"split": {"kfold": 5}}, "trainer": {}}, changes)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        objective_folds(cfg)


def test_no_objective_folds_is_an_ordinary_run():
    assert objective_folds(compose("train")) == []


def fake_train(calls: list):
    def train(cfg, run_dir: Path) -> dict:
        calls.append((int(cfg.data.split.fold), cfg.objective_folds, run_dir))
        run_dir.mkdir(parents=True)
        fold = int(cfg.data.split.fold)
        return {"eval_tuned_phrase_f1": 0.5 + fold / 10, "eval_phrase_f1": 0.25, "eval_loss": 1.0 + fold,
                "train_loss": 3.0}

    return train


def test_train_over_folds_trains_each_fold_in_its_directory_and_returns_their_mean(tmp_path):
    cfg = compose("train", ["data.split.kfold=5", "objective_folds=[1,3]", "data.split.fold=0"])
    calls: list = []
    mean = train_over_folds(cfg, tmp_path, fake_train(calls))
    assert calls == [(1, None, tmp_path / "data.split.fold=1"), (3, None, tmp_path / "data.split.fold=3")]
    assert mean == pytest.approx({"eval_tuned_phrase_f1": 0.7, "eval_phrase_f1": 0.25, "eval_loss": 3.0})
    record = json.loads((tmp_path / "metrics.json").read_text(encoding="utf-8"))
    assert record["eval_tuned_phrase_f1"] == pytest.approx(0.7)
    assert [f["fold"] for f in record["folds"]] == [1, 3]
    assert [f["eval_tuned_phrase_f1"] for f in record["folds"]] == pytest.approx([0.6, 0.8])
    assert record["objective_folds"] == [1, 3] and record["kfold"] == 5
    assert cfg.data.split.fold == 0 and list(cfg.objective_folds) == [1, 3]  # the caller's config untouched
    with pytest.raises(ConfigError, match="holds a finished run's metrics.json"):
        train_over_folds(cfg, tmp_path, fake_train([]))


@pytest.mark.slow
def test_search_runs_trials_over_folds_and_reports_the_best_validation_mean(tiny_corpus, tmp_path):
    result = run_cli([str(BIN / "kpt-train"), "hparams_search=tagger_optuna", "experiment=smoke",
                      f"data.corpus_path={tiny_corpus}", "data.split.kfold=3", "objective_folds=[0,2]",
                      "hydra.sweeper.n_trials=2", "hydra.sweeper.sampler.n_startup_trials=1",
                      "decision.rescore_steps=50", "hydra.sweep.dir=search"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    sweep = tmp_path / "search"
    trials = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [p.name for p in trials] == ["trial_0", "trial_1"]
    scores = []
    for trial in trials:
        for fold in (0, 2):
            run = trial / f"data.split.fold={fold}"
            assert (run / "model" / "model.safetensors").is_file()
            assert json.loads((run / "run_info.json").read_text(encoding="utf-8"))["config"]["data"]["split"] == {
                "seed": 42, "ratios": [0.8, 0.1, 0.1], "kfold": 3, "fold": fold}
        record = json.loads((trial / "metrics.json").read_text(encoding="utf-8"))
        folds = [json.loads((trial / f"data.split.fold={f}" / "metrics.json").read_text(encoding="utf-8"))
                 for f in (0, 2)]
        per_fold = [f["eval_tuned_phrase_f1"] for f in folds]
        assert record["eval_tuned_phrase_f1"] == pytest.approx(sum(per_fold) / 2)
        scores.append(record["eval_tuned_phrase_f1"])
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text(encoding="utf-8"))
    assert best["best_value"] == pytest.approx(max(scores))
    assert "trial_0" in (sweep / "sweep_summary.md").read_text(encoding="utf-8")


def test_objective_folds_outside_the_split_is_refused_before_anything_is_written(tiny_corpus, tmp_path):
    result = run_cli([str(BIN / "kpt-train"), "experiment=smoke", f"data.corpus_path={tiny_corpus}",
                      "data.split.kfold=3", "objective_folds=[0,3]", "output_dir=run"], cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: objective_folds=[0, 3]: distinct folds of data.split.kfold=3 (0..2)"]
    assert list(tmp_path.iterdir()) == []


def test_a_search_without_the_optuna_plugin_is_one_line_naming_the_extra(monkeypatch):
    from keyphrase_tagger.cli.arguments import check_arguments

    args = ["hparams_search=decision_optuna", "tagger_from=runs/cv"]
    assert check_arguments(args, "train", "kpt-train") is None  # installed here (the dev extra)
    hide_module(monkeypatch, "hydra_plugins.hydra_optuna_sweeper")
    assert check_arguments(args, "train", "kpt-train") == (
        "hparams_search=decision_optuna needs Hydra's Optuna sweeper, which is not installed: "
        "pip install 'keyphrase-tagger[search]' (or hydra-optuna-sweeper)")
