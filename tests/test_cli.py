"""The console scripts as a user meets them: --help, mistyped arguments, Ctrl-C."""

from __future__ import annotations

import errno
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import compose

from keyphrase_tagger.cli.arguments import check_arguments
from keyphrase_tagger.cli.common import config_doc

BIN = Path(sys.executable).parent
COMMANDS = {"kpt-predict": "predict", "kpt-evaluate": "evaluate", "kpt-cv-report": "cv_report",
            "kpt-prepare": "prepare", "kpt-train": "train"}


def run(command: str, args: list[str], cwd: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / command), *args], cwd=cwd, capture_output=True, text=True, timeout=120, **kwargs)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help_says_what_the_command_does_and_lists_its_own_keys(command, tmp_path):
    result = run(command, ["--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{command}: ")
    assert "Input:" in result.stdout and "Output:" in result.stdout and "Usage:" in result.stdout
    assert "powered by hydra" not in result.stdout.lower() and "== Config" not in result.stdout
    cfg = compose(COMMANDS[command])
    keys = cfg.data.keys() if command == "kpt-prepare" else [k for k in cfg.keys() if k not in ("data", "model", "trainer")]
    lines = result.stdout.splitlines()
    for key in keys:
        assert any(line.startswith(f"{key}:") for line in lines), f"{command} --help does not list {key}"
    if command != "kpt-train":  # groups only training composes
        assert not any(line.startswith(("experiment:", "model:", "trainer:")) for line in lines), result.stdout


def test_predict_help_shows_the_comments_of_predict_yaml(tmp_path):
    help_text = run("kpt-predict", ["--help"], tmp_path).stdout
    assert "top_k: null" in help_text and "keep the K best-scoring phrases of each document" in help_text
    assert config_doc("predict.yaml") in help_text


def test_config_doc_keeps_keys_and_comments_but_not_defaults_or_hydra():
    doc = config_doc("train.yaml")
    assert doc.startswith("experiment_name: default")
    assert "defaults:" not in doc and "hydra:" not in doc and "override hydra/help" not in doc
    assert "run_stamp: $${now:" in doc  # $ doubled: Hydra renders help through string.Template


def test_a_misspelled_key_gets_the_closest_valid_key():
    assert check_arguments(["topk=5"], "predict", "kpt-predict") == "unknown key 'topk'; did you mean 'top_k'?"
    assert check_arguments(["data.split.folds=1"], "train", "kpt-train") == (
        "unknown key 'data.split.folds'; did you mean 'data.split.fold'?")
    assert check_arguments(["fold=1"], "train", "kpt-train") == "unknown key 'fold'; did you mean 'data.split.fold'?"
    # Compared by the last part only: no suggestion is better than trainer.report_to.
    assert check_arguments(["trainer.lr=1"], "train", "kpt-train") == (
        "unknown key 'trainer.lr' (kpt-train --cfg job prints every key)")


def test_a_group_of_another_command_is_an_unknown_key():
    assert check_arguments(["model=tiny"], "predict", "kpt-predict").startswith("unknown key 'model'")


def test_a_path_without_key_gets_a_hint_of_the_key_value_form():
    problem = check_arguments(["/runs/model", "docs.txt"], "predict", "kpt-predict")
    assert problem.startswith("'/runs/model' is not a setting: kpt-predict takes key=value settings")
    assert "checkpoint=DIR input=FILE" in problem


def test_an_unknown_group_option_lists_the_options():
    assert check_arguments(["model=bert-base-chinese"], "train", "kpt-train") == (
        "unknown model 'bert-base-chinese'; did you mean 'bert_base_chinese'? "
        "(model is one of: bert_base_chinese, macbert_base, roberta_wwm_ext, tiny)")
    assert check_arguments(["-m", "experiment=smoke,smoek"], "train", "kpt-train").startswith(
        "unknown experiment 'smoek'")
    assert check_arguments(["decision=rescore"], "train", "kpt-train") == (
        "unknown decision 'rescore'; did you mean 'rescorer'? (decision is one of: argmax, prior_fusion, rescorer)")


@pytest.mark.parametrize("argv", [
    ["-m", "seed=1,2"], ["+extra=1"], ["++seed=3"], ["~threads"], ["hydra.job.chdir=true"],
    ["--cfg", "job", "seed=3"], ["--help", "topk=1"], ["experiment=smoke", "model.hidden_size=16"],
    ["-m", "experiment=smoke,plain", "features.enabled=false"], ["-m", "data.split.fold=range(5)"],
    ["-m", "decision=argmax,prior_fusion,rescorer", "decision.fusion=false"], ["features=none", "decision=argmax"],
    ["model=bert_base_chinese", "model.name_or_path=/models/bert"], ["data.split.ratios.0=0.7"],
])
def test_what_hydra_accepts_passes_the_check(argv):
    assert check_arguments(argv, "train", "kpt-train") is None


def test_kpt_predict_reports_a_misspelled_key_in_one_line_with_exit_2(tmp_path):
    result = run("kpt-predict", ["topk=5"], tmp_path)
    assert result.returncode == 2
    assert result.stderr == "error: unknown key 'topk'; did you mean 'top_k'?\n"


@pytest.fixture
def root_logging():
    """Hydra, run in this process, gives the root logger its handler: later tests get theirs back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_ctrl_c_in_the_command_is_one_line_and_exit_130(monkeypatch, tmp_path, capsys, root_logging):
    import keyphrase_tagger.inference.predict
    from keyphrase_tagger.cli import predict

    def interrupted(cfg):
        raise KeyboardInterrupt

    monkeypatch.setattr(keyphrase_tagger.inference.predict, "predict", interrupted)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["kpt-predict", "checkpoint=ckpt", "input=docs.txt", "output=out.jsonl"])
    with pytest.raises(SystemExit) as stopped:
        predict.main()
    assert stopped.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_ctrl_c_before_the_command_starts_is_one_line_and_exit_130(monkeypatch, capsys):
    import keyphrase_tagger.cli.arguments
    from keyphrase_tagger.cli import train

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(keyphrase_tagger.cli.arguments, "check_arguments", interrupted)
    monkeypatch.setattr(sys, "argv", ["kpt-train", "seed=1"])
    with pytest.raises(SystemExit) as stopped:
        train.main()
    assert stopped.value.code == 130
    assert capsys.readouterr().err == "interrupted\n"


def test_sigint_while_kpt_predict_reads_its_input_ends_it_with_one_line(tmp_path):
    # A FIFO as input: once our end opens, kpt-predict is inside the command, waiting for documents.
    fifo = tmp_path / "docs.txt"
    os.mkfifo(fifo)
    # As from a terminal: a shell that runs the test suite in the background (`make test &`) leaves
    # SIGINT ignored, the child would inherit that, and Python installs no Ctrl-C handler then.
    process = subprocess.Popen([str(BIN / "kpt-predict"), "checkpoint=ckpt", f"input={fifo}", "output=out.jsonl"],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while True:
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as err:  # ENXIO: nobody reads the FIFO yet
            assert err.errno == errno.ENXIO and process.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
    try:
        os.write(writer, "第一个文档\n".encode())
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        os.close(writer)
    assert process.returncode == 130
    assert stderr == "interrupted\n"
    assert list(tmp_path.iterdir()) == [fifo]
