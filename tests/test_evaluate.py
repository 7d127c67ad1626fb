"""evaluation/evaluate.py (with analysis.py and report.py): the report of a checkpoint, and kpt-evaluate."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import compose

from keyphrase_tagger.data.cleaning import CleaningConfig, clean_phrases
from keyphrase_tagger.data.corpus import read_corpus
from keyphrase_tagger.errors import CheckpointError, ConfigError, CorpusFormatError
from keyphrase_tagger.evaluation.analysis import (
    frequent_errors,
    length_bucket,
    scores_by_length,
)
from keyphrase_tagger.evaluation.evaluate import build_report, evaluate, write_report
from keyphrase_tagger.evaluation.metrics import prf
from keyphrase_tagger.evaluation.report import (
    learning_curve_points,
    plot_learning_curve,
    read_log_history,
)
from keyphrase_tagger.lexicon.lexicon import LEXICON_FILE

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
KPT_EVALUATE = str(Path(sys.executable).with_name("kpt-evaluate"))

# An external corpus in the documented format, with the noise the pinned cleaning handles:
# trailing punctuation, a one-character entry, a duplicate, a nested phrase.
EXTERNAL = (
    "推动数字经济和实体经济深度融合，加强技术研发、完善服务业标准体系\n"
    "[数字经济,技术研发、,的,服务业,服务业,服务,标准体系]\n"
    "发展跨境电子商务，建设海外仓和物流体系\n"
    "[跨境电子商务,海外仓,物流体系，]\n"
    "养老服务体系建设\n"
    "[养老服务,体系建设]\n"
)
EXTERNAL_GOLD = [
    ["数字经济", "技术研发", "服务业", "服务", "标准体系"],
    ["跨境电子商务", "海外仓", "物流体系"],
    ["养老服务", "体系建设"],
]


@pytest.fixture(scope="module")
def report(smoke_checkpoint: Path) -> dict:
    return build_report(smoke_checkpoint, "test", device="cpu")


@pytest.fixture(scope="module")
def report_dir(report: dict, tmp_path_factory) -> Path:
    return write_report(report, tmp_path_factory.mktemp("evaluation") / "evaluation_test")


def recomputed_micro(rows: list[dict], predicted_of=lambda row: row["predicted"]) -> dict:
    tp = sum(len(set(predicted_of(r)) & set(r["gold"])) for r in rows)
    return prf(tp, sum(len(set(predicted_of(r))) for r in rows), sum(len(set(r["gold"])) for r in rows))


def test_report_holds_the_keys_the_issue_lists(report):
    assert {"n_documents", "entity", "phrase", "baselines", "per_document"} <= set(report)
    assert set(report["entity"]) == {"precision", "recall", "f1"}
    assert set(report["phrase"]) == {"micro", "macro"}
    assert set(report["baselines"]) == {"gazetteer", "calibrated_gazetteer"}
    for system in [report, *report["baselines"].values()]:
        assert set(system["phrase"]) == {"micro", "macro"}
        for level in ("micro", "macro"):
            assert {"precision", "recall", "f1"} <= set(system["phrase"][level])
    assert report["n_documents"] == len(report["per_document"]) > 0
    for row in report["per_document"]:
        assert {"doc_id", "predicted", "gold", "precision", "recall", "f1"} <= set(row)


def test_report_evaluates_the_training_runs_test_split(report, smoke_checkpoint):
    settings = json.loads((smoke_checkpoint / "keyphrase_tagger.json").read_text(encoding="utf-8"))
    from keyphrase_tagger.data.prepare import prepare_corpus

    expected = [d.document.doc_id for d in prepare_corpus(settings["data"]).split("test")]
    assert [r["doc_id"] for r in report["per_document"]] == expected
    assert report["split"] == "test"


def test_report_reads_the_training_runs_prepared_dataset_without_labeling_again(smoke_checkpoint, monkeypatch, caplog):
    import logging

    from keyphrase_tagger.data import prepare

    def labeled_again(*args, **kwargs):
        raise AssertionError("the corpus was labeled again")

    processed = Path(json.loads((smoke_checkpoint / "keyphrase_tagger.json").read_text(encoding="utf-8"))
                     ["data"]["processed_dir"])
    before = sorted(p.stat().st_mtime_ns for p in processed.rglob("*"))
    monkeypatch.setattr(prepare, "label_document", labeled_again)
    with caplog.at_level(logging.INFO, logger="keyphrase_tagger.data.dataset"):
        report = build_report(smoke_checkpoint, "validation", device="cpu")
    assert report["n_documents"] > 0
    assert f"prepared dataset: reading {processed}" in caplog.text
    assert sorted(p.stat().st_mtime_ns for p in processed.rglob("*")) == before  # read, not written


def test_phrase_micro_scores_recompute_exactly_from_per_document_lists(report):
    rows = report["per_document"]
    assert report["phrase"]["micro"] == recomputed_micro(rows)
    for row in rows:
        assert len(row["predicted"]) == len(set(row["predicted"]))
        scores = recomputed_micro([row])
        assert (row["precision"], row["recall"], row["f1"]) == (scores["precision"], scores["recall"], scores["f1"])
    assert report["phrase"]["macro"]["f1"] == pytest.approx(sum(r["f1"] for r in rows) / len(rows))


def test_baseline_micro_scores_recompute_from_their_per_document_lists(report):
    for name, baseline in report["baselines"].items():
        rows = report["per_document"]
        assert baseline["phrase"]["micro"] == recomputed_micro(rows, lambda r, n=name: r["baselines"][n])


def test_gold_lists_are_the_cleaned_lists_of_the_corpus(report, smoke_checkpoint):
    raw = {d.doc_id: d for d in read_corpus(report["corpus_path"])}
    for row in report["per_document"]:
        doc = raw[row["doc_id"]]
        expected = [p for p in clean_phrases(doc.raw_phrases, CleaningConfig()).kept if p in doc.text]
        assert row["gold"] == expected


def test_calibrated_gazetteer_uses_a_subset_of_the_full_lexicon(report):
    full, cal = report["baselines"]["gazetteer"], report["baselines"]["calibrated_gazetteer"]
    assert cal["n_phrases"] <= full["n_phrases"]
    assert cal["validation_documents"] > 0 and cal["validation_f1"] is not None


def test_report_files_are_written(report, report_dir):
    assert json.loads((report_dir / "report.json").read_text(encoding="utf-8")) == json.loads(json.dumps(report))
    assert (report_dir / "scores_by_length.png").read_bytes()[:8] == PNG_MAGIC
    assert not (report_dir / "learning_curve.png").exists()  # the training run's, linked from report.md


def test_report_markdown_has_summary_documents_errors_and_lengths(report, report_dir):
    md = (report_dir / "report.md").read_text(encoding="utf-8")
    for heading in ("## Summary", "## By phrase length", "## Most frequent errors", "## Per document"):
        assert heading in md
    for system in ("| model |", "| gazetteer |", "| calibrated_gazetteer |"):
        assert system in md
    for row in report["per_document"]:
        assert f"| {row['doc_id']} |" in md
    for row in report["by_length"]:
        assert f"| {row['length']} |" in md
    if report["errors"]["false_negatives"]:
        assert report["errors"]["false_negatives"][0][0] in md
    curve = Path(report["checkpoint"]).parent / "learning_curve.png"
    assert curve.is_file() and f"![learning curve]({os.path.relpath(curve, report_dir)})" in md


def test_writing_into_the_run_directory_is_refused_and_keeps_the_model(report, smoke_run, tmp_path):
    run = shutil.copytree(smoke_run, tmp_path / "run")
    before = sorted(p.name for p in run.iterdir())
    with pytest.raises(ConfigError, match=r"^output_dir=.*run: holds the checkpoint"):
        write_report(dict(report, checkpoint=str(run / "model")), run)
    assert (run / "model" / "config.json").is_file()
    assert sorted(p.name for p in run.iterdir()) == before


def test_report_directory_with_files_the_program_did_not_write_is_refused_and_kept(report, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.md").write_text("mine")
    with pytest.raises(ConfigError, match=r"^output_dir=.*out: holds files keyphrase-tagger did not write"):
        write_report(report, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["notes.md"]


def test_new_report_replaces_the_earlier_one_whole(report, tmp_path):
    out = write_report(report, tmp_path / "out")
    assert "learning_curve.png" in (out / "report.md").read_text(encoding="utf-8")
    (out / "stale.png").write_bytes(PNG_MAGIC)  # a file the next report does not write
    # A checkpoint whose run directory has no learning curve: the new report links none.
    write_report(dict(report, checkpoint=str(tmp_path / "elsewhere" / "model"), n_documents=0), out)
    assert not (out / "stale.png").exists()
    assert "learning_curve.png" not in (out / "report.md").read_text(encoding="utf-8")
    assert json.loads((out / "report.json").read_text(encoding="utf-8"))["n_documents"] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_evaluate_refuses_an_unusable_output_dir_before_running_the_model(smoke_run, tmp_path):
    cfg = compose("evaluate", [f"checkpoint={smoke_run / 'model'}", f"output_dir={smoke_run}", "device=cpu"])
    with pytest.raises(ConfigError, match="holds the checkpoint"):
        evaluate(cfg)


def test_evaluate_honours_on_missing_phrase_error(smoke_checkpoint, tmp_path):
    corpus = tmp_path / "missing.txt"
    corpus.write_text(EXTERNAL + "发展服务业\n[服务业,港口]\n", encoding="utf-8")
    overrides = [f"checkpoint={smoke_checkpoint}", f"data.corpus_path={corpus}", "split=all",
                 f"output_dir={tmp_path / 'out'}", "device=cpu"]
    with pytest.raises(CorpusFormatError, match=r'missing\.txt:8: phrase "港口" does not occur'):
        evaluate(compose("evaluate", [*overrides, "data.on_missing_phrase=error"]))
    assert not (tmp_path / "out").exists()


def test_split_without_documents_is_a_config_error(smoke_checkpoint, tmp_path):
    one_doc = tmp_path / "one.txt"
    one_doc.write_text("数字经济发展\n[数字经济]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="split=all"):
        build_report(smoke_checkpoint, "test", corpus_path=str(one_doc), device="cpu")


def test_unknown_split_is_a_config_error(smoke_checkpoint):
    with pytest.raises(ConfigError, match="split must be one of"):
        build_report(smoke_checkpoint, "dev")


def test_checkpoint_without_lexicon_is_a_checkpoint_error(smoke_checkpoint, tmp_path):
    copy = shutil.copytree(smoke_checkpoint, tmp_path / "model")
    (copy / LEXICON_FILE).unlink()
    with pytest.raises(CheckpointError, match=LEXICON_FILE):
        build_report(copy, "test")


def test_external_corpus_without_the_training_file_falls_back_to_the_default_threshold(smoke_run, tmp_path):
    run = shutil.copytree(smoke_run, tmp_path / "run")
    settings_file = run / "model" / "keyphrase_tagger.json"
    settings = json.loads(settings_file.read_text(encoding="utf-8"))
    settings["data"]["corpus_path"] = str(tmp_path / "moved_away.txt")
    settings_file.write_text(json.dumps(settings, ensure_ascii=False), encoding="utf-8")
    corpus = tmp_path / "external.txt"
    corpus.write_text(EXTERNAL, encoding="utf-8")
    report = build_report(run / "model", "all", corpus_path=str(corpus), device="cpu")
    assert report["baselines"]["calibrated_gazetteer"]["validation_documents"] == 0
    assert [r["gold"] for r in report["per_document"]] == EXTERNAL_GOLD


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return subprocess.run([KPT_EVALUATE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_kpt_evaluate_on_an_external_corpus_writes_both_reports(smoke_checkpoint, tmp_path):
    corpus = tmp_path / "other.txt"
    corpus.write_text(EXTERNAL, encoding="utf-8")
    out = tmp_path / "eval_other"
    result = run_cli([f"checkpoint={smoke_checkpoint}", f"data.corpus_path={corpus}", "split=all",
                      f"output_dir={out}", "device=cpu"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"report: {out / 'report.md'}" in result.stdout
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert (out / "report.md").read_text(encoding="utf-8").startswith("# Evaluation")
    assert report["n_documents"] == 3 and report["split"] == "all"
    assert [r["gold"] for r in report["per_document"]] == EXTERNAL_GOLD
    assert report["phrase"]["micro"] == recomputed_micro(report["per_document"])
    for name in ("gazetteer", "calibrated_gazetteer"):
        assert name in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda ckpt, tmp: [f"checkpoint={tmp / 'nowhere'}"], "checkpoint directory not found"),
        (lambda ckpt, tmp: [f"checkpoint={ckpt}", f"data.corpus_path={tmp / 'bad.txt'}", "split=all"], "bad.txt:2:"),
        (lambda ckpt, tmp: [f"checkpoint={ckpt}", "split=dev"], "split must be one of"),
    ],
    ids=["missing-checkpoint", "malformed-corpus", "unknown-split"],
)
def test_kpt_evaluate_reports_a_user_error_in_one_line(smoke_checkpoint, tmp_path, make_args, message):
    (tmp_path / "bad.txt").write_text("一个文档\n没有方括号的列表\n", encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli([*make_args(smoke_checkpoint, tmp_path), f"output_dir={out}"], cwd=tmp_path)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert not out.exists()


# analysis.py and report.py serve only this report; their cases live here.

def test_frequent_errors_count_documents():
    rows = [
        {"predicted": ["发展", "服务"], "gold": ["服务", "物流"]},
        {"predicted": ["发展"], "gold": ["物流", "数字经济"]},
    ]
    errors = frequent_errors(rows)
    assert errors["false_positives"] == [("发展", 2)]
    assert errors["false_negatives"][0] == ("物流", 2)
    assert sorted(errors["false_negatives"]) == [("数字经济", 1), ("物流", 2)]


def test_scores_by_length_pool_each_bucket():
    predicted = [["发展", "数字经济", "服务业"], ["绿色发展理念"]]
    gold = [["发展", "数字经济", "物流"], ["绿色发展理念"]]
    rows = {r["length"]: r for r in scores_by_length(predicted, gold)}
    assert set(rows) == {"2", "3", "4", "6-7"}
    assert (rows["2"]["tp"], rows["2"]["n_pred"], rows["2"]["n_gold"]) == (1, 1, 2)
    assert (rows["3"]["precision"], rows["3"]["recall"]) == (0.0, 0.0)
    assert rows["6-7"]["f1"] == 1.0


def test_length_buckets_include_one_character_phrases():
    assert [length_bucket(n) for n in (1, 2, 7, 9, 40)] == ["1", "2", "6-7", "8-10", "11+"]
    assert scores_by_length([["的"]], [["的"]])[0]["length"] == "1"


def write_log_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted({k for r in rows for k in r})
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


LOG = [
    {"step": 2, "epoch": 0.5, "loss": 1.1},
    {"step": 4, "epoch": 1.0, "loss": 0.9},
    {"step": 4, "epoch": 1.0, "eval_loss": 0.95, "eval_phrase_f1": 0.2},
    {"step": 4, "epoch": 1.0, "train_loss": 1.0, "train_runtime": 3.0},
    {"step": 4, "epoch": 1.0, "eval_loss": 0.95, "eval_phrase_f1": 0.2},  # trainer.evaluate() after training
]


def test_learning_curve_reads_the_runs_log_and_keeps_one_point_per_step(tmp_path):
    write_log_csv(tmp_path / "logs" / "log_history.csv", LOG)
    points = learning_curve_points(read_log_history(tmp_path))
    assert points == {"loss": [(2.0, 1.1), (4.0, 0.9)], "eval_loss": [(4.0, 0.95)], "eval_phrase_f1": [(4.0, 0.2)]}
    assert plot_learning_curve(tmp_path, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:8] == PNG_MAGIC


def test_learning_curve_falls_back_to_the_newest_trainer_state(tmp_path):
    for step, history in ((9, LOG[:1]), (10, LOG)):
        state = tmp_path / "checkpoints" / f"checkpoint-{step}" / "trainer_state.json"
        state.parent.mkdir(parents=True)
        state.write_text(json.dumps({"log_history": history}), encoding="utf-8")
    assert read_log_history(tmp_path) == [{k: float(v) for k, v in row.items()} for row in LOG]


def test_no_log_history_means_no_learning_curve(tmp_path):
    assert not plot_learning_curve(tmp_path, tmp_path / "curve.png")
    assert not (tmp_path / "curve.png").exists()
