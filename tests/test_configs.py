"""The config tree: the decision and the lexicon features are groups of their own, independent of the
model preset, and each of their values is written once."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, compose

from keyphrase_tagger.config.validate import check_train_config

BIN = Path(sys.executable).parent
CONFIGS = REPO / "configs"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


MODELS, DECISIONS, EXPERIMENTS = options("model"), options("decision"), options("experiment")


def test_the_groups_offer_the_documented_options():
    assert DECISIONS == ["argmax", "prior_fusion", "rescorer"]
    assert options("features") == ["lexicon", "none"]
    assert {"tiny", "bert_base_chinese", "roberta_wwm_ext", "macbert_base"} <= set(MODELS)


@pytest.mark.parametrize("model", MODELS)
def test_every_model_preset_composes_with_every_decision_and_experiment(model):
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    # One Hydra context for the product: composing is what costs, not the schema check.
    with initialize_config_dir(version_base="1.3", config_dir=str(CONFIGS)):
        for decision in DECISIONS:
            for experiment in [None, *EXPERIMENTS]:
                overrides = [f"model={model}", f"decision={decision}"]
                overrides += [f"experiment={experiment}"] if experiment else []
                cfg = hydra_compose(config_name="train", overrides=overrides)
                check_train_config(cfg)
                assert cfg.model.name == model
                if experiment in (None, "smoke", "no_lexicon") or experiment.startswith("rescore_"):
                    # An experiment that leaves the decision alone keeps the one chosen here.
                    assert cfg.decision.kind == decision, overrides


def test_each_decision_option_names_its_kind():
    for decision in DECISIONS:
        assert compose("train", [f"decision={decision}"]).decision.kind == decision


@pytest.mark.parametrize("model", MODELS)
def test_every_model_preset_keeps_the_default_decision_and_lexicon_features(model):
    default = compose("train")
    cfg = compose("train", [f"model={model}"])
    assert cfg.decision == default.decision
    assert cfg.features == default.features
    assert default.decision.kind == "rescorer" and default.features.enabled


def test_the_experiments_switch_parts_off_through_the_groups():
    assert compose("train", ["experiment=no_decoding"]).decision.kind == "argmax"
    assert compose("train", ["experiment=no_rescore"]).decision.kind == "prior_fusion"
    plain = compose("train", ["experiment=plain"])
    assert plain.decision.kind == "argmax" and not plain.features.enabled
    assert not compose("train", ["experiment=no_lexicon"]).features.enabled


def test_kpt_train_prints_the_default_decision_for_a_pretrained_preset(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run([str(BIN / "kpt-train"), "--cfg", "job", "--package", "decision", "model=bert_base_chinese"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    printed = yaml.safe_load(result.stdout)
    printed = printed.get("decision", printed)  # under its package name or bare, as Hydra versions print it
    from omegaconf import OmegaConf

    assert printed == OmegaConf.to_container(compose("train").decision)
    assert list(tmp_path.iterdir()) == []


def test_each_decision_and_feature_value_is_written_in_one_file_only():
    for group in ("decision", "features"):
        seen: dict[str, str] = {}
        for path in sorted((CONFIGS / group).glob("*.yaml")):
            for key in yaml.safe_load(path.read_text(encoding="utf-8")):
                if key in ("defaults", "kind", "enabled"):
                    continue  # what an option is, not a shared value
                assert key not in seen, f"{group}.{key} is set in {seen.get(key)} and {path.name}"
                seen[key] = path.name
    model_keys = {k for path in (CONFIGS / "model").glob("*.yaml") for k in yaml.safe_load(path.read_text("utf-8"))}
    assert not model_keys & {"decoding", "decision", "lexicon_features", "features"}


def test_the_rescorer_settings_have_no_defaults_in_the_code():
    from keyphrase_tagger.decision.rescorer_fit import fit_rescorer

    parameters = inspect.signature(fit_rescorer).parameters
    for name in ("candidate_o_scale", "hidden", "groups", "steps", "nested"):
        assert parameters[name].default is inspect.Parameter.empty, name


HISTORY = re.compile(r"\b(round|rounds|issue \d+|previously|was tried|used to)\b", re.IGNORECASE)


def test_configs_describe_what_is_not_how_it_came_to_be():
    for path in sorted(CONFIGS.rglob("*.yaml")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not HISTORY.search(line), f"{path.relative_to(REPO)}:{number}: {line.strip()}"
