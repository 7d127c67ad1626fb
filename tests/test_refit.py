"""``kpt-train tagger_from=<checkpoint>``: only the decision is fitted, by the same code as after
training, so a refit reproduces a saved decision; and for every decision kind, ``kpt-evaluate``
scores exactly the phrases ``extract_many`` returns."""

from __future__ import annotations

from pathlib import Path

import pytest
from safetensors.numpy import load_file

from conftest import CORPUS, compose

SMOKE = ["experiment=smoke", f"data.corpus_path={CORPUS}"]


def refit(smoke_run: Path, out: Path, *overrides: str) -> Path:
    """The smoke run's tagger with a decision fitted anew (``overrides`` on top of the smoke config)."""
    from keyphrase_tagger.training.train import train

    info = (smoke_run / "run_info.json").read_text(encoding="utf-8")
    processed = __import__("json").loads(info)["config"]["data"]["processed_dir"]
    cfg = compose("train", [*SMOKE, f"data.processed_dir={processed}", f"tagger_from={smoke_run}",
                            f"output_dir={out}", *overrides])
    train(cfg)
    return out / "model"


@pytest.fixture(scope="module")
def refits(smoke_run, tmp_path_factory) -> dict[str, Path]:
    """One refit of the smoke checkpoint per decision option."""
    options = {"rescorer": [], "rescorer_flat": ["decision.rescore_nested=false"],
               "prior_fusion": ["decision=prior_fusion"], "argmax": ["decision=argmax"]}
    return {name: refit(smoke_run, tmp_path_factory.mktemp(f"refit_{name}"), *extra)
            for name, extra in options.items()}


def test_refit_with_the_runs_own_decision_config_reproduces_its_saved_decision(smoke_run, refits):
    from keyphrase_tagger.checkpoint import CheckpointSettings

    saved = CheckpointSettings.load(smoke_run / "model").decision
    assert saved["kind"] == "rescorer"
    assert CheckpointSettings.load(refits["rescorer"]).decision == saved
    # The tagger itself is the one trained, weight for weight.
    before, after = (load_file(str(d / "model.safetensors")) for d in (smoke_run / "model", refits["rescorer"]))
    assert before.keys() == after.keys()
    assert all((before[k] == after[k]).all() for k in before)


def test_refit_records_where_its_tagger_came_from_and_trains_nothing(smoke_run, refits):
    import json

    run_dir = refits["argmax"].parent
    info = json.loads((run_dir / "run_info.json").read_text(encoding="utf-8"))
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert info["tagger_from"] == str(smoke_run / "model")
    assert not any(k.startswith("train_") for k in metrics)
    assert metrics["decision"] == "argmax"
    assert metrics["eval_tuned_phrase_f1"] == pytest.approx(metrics["eval_phrase_f1"])


@pytest.mark.parametrize("option", ["rescorer", "rescorer_flat", "prior_fusion", "argmax"])
def test_kpt_evaluate_scores_exactly_the_phrases_extract_many_returns(refits, option):
    from keyphrase_tagger import KeyphraseExtractor
    from keyphrase_tagger.checkpoint import CheckpointSettings
    from keyphrase_tagger.data.dataset import load_prepared
    from keyphrase_tagger.evaluation.evaluate import build_report

    checkpoint = refits[option]
    assert CheckpointSettings.load(checkpoint).decision.get("kind", "argmax") in option
    report = build_report(checkpoint, split="test", device="cpu")
    documents = [d.document for d in load_prepared(CheckpointSettings.load(checkpoint).data, write=False).split("test")]
    extracted = KeyphraseExtractor.from_pretrained(checkpoint, device="cpu").extract_many([d.text for d in documents])
    assert [row["doc_id"] for row in report["per_document"]] == [d.doc_id for d in documents]
    for row, phrases in zip(report["per_document"], extracted):
        assert row["predicted"] == list(dict.fromkeys(p.text for p in phrases))
    assert sum(map(len, extracted)) > 0 or option == "argmax"


def test_a_checkpoint_trained_on_other_data_is_refused_naming_the_setting(smoke_run, tmp_path):
    from keyphrase_tagger.errors import ConfigError

    with pytest.raises(ConfigError, match=r"tagger_from=.*data\.max_documents is 3 there, 2 here"):
        refit(smoke_run, tmp_path / "run", "data.max_documents=2")
    assert not (tmp_path / "run").exists()


def test_a_checkpoint_whose_dataset_was_written_in_other_batches_is_the_same_data(smoke_run, refits, tmp_path):
    from keyphrase_tagger.checkpoint import CheckpointSettings

    model = refit(smoke_run, tmp_path / "run", "data.write_batch_documents=1")
    assert CheckpointSettings.load(model).decision == CheckpointSettings.load(refits["rescorer"]).decision


def test_a_directory_without_a_checkpoint_is_refused(tmp_path):
    from keyphrase_tagger.errors import ConfigError
    from keyphrase_tagger.training.train import train

    cfg = compose("train", [*SMOKE, f"tagger_from={tmp_path}", f"output_dir={tmp_path / 'run'}"])
    with pytest.raises(ConfigError, match="no checkpoint there"):
        train(cfg)


def test_lexicon_features_other_than_the_taggers_are_refused(smoke_run, tmp_path):
    from keyphrase_tagger.errors import ConfigError

    with pytest.raises(ConfigError, match="lexicon features"):
        refit(smoke_run, tmp_path / "run", "features.recurrence=false")
