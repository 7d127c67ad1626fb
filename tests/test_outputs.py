"""outputs.py (and ``open_output``, which predictions go through): outputs replaced whole, only
where the program wrote them, with nothing left behind by a failure, Ctrl-C, SIGTERM or a kill."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.inference.io import open_output
from keyphrase_tagger.outputs import (
    MARKER,
    check_replaceable_directory,
    read_marker,
    replace_directory,
)

KIND = "prepared_dataset"

# A run that stops in the middle of writing: it prints "writing" once its temporary output holds
# data (or, for "swap", once the earlier output is renamed aside and the new one not yet in place),
# then waits for a line on stdin, or to be signalled or killed.
WRITER = """
import os, sys
from pathlib import Path
from keyphrase_tagger.inference.io import open_output
from keyphrase_tagger.outputs import replace_directory

what, target = sys.argv[1], Path(sys.argv[2])

def pause():
    print("writing", flush=True)
    sys.stdin.readline()

def write(directory):
    (directory / "data.arrow").write_bytes(b"x" * 4096)
    if what == "directory":
        pause()

if what == "swap":
    rename = os.rename
    def rename_then_pause(src, dst):
        rename(src, dst)
        if str(dst).endswith(".old"):
            pause()
    os.rename = rename_then_pause
if what == "file":
    with open_output(str(target)) as stream:
        stream.write("{}\\n")
        stream.flush()
        pause()
else:
    replace_directory(target, "prepared_dataset", write, key="data.processed_dir")
"""


def start_writer(what: str, target: Path) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", WRITER, what, str(target)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "writing\n"
    return process


def stop(process: subprocess.Popen, signum: int, then_continue: bool = False) -> int:
    """Send ``signum``; with ``then_continue``, also let the paused writer go on."""
    process.send_signal(signum)
    if then_continue:
        process.stdin.write("\n")
        process.stdin.flush()
    returncode = process.wait(timeout=60)
    process.stdin.close()
    process.stdout.close()
    return returncode


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def write_text_file(name: str, text: str):
    return lambda directory: (directory / name).write_text(text)


# --- replacing a directory ---------------------------------------------------------------------


def fail(directory: Path) -> None:
    (directory / "half.txt").write_text("half")
    raise RuntimeError("disk full")


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        replace_directory(tmp_path / "out", KIND, fail, key="data.processed_dir")
    assert list(tmp_path.iterdir()) == []


def test_missing_parents_are_created_and_removed_again_when_writing_fails(tmp_path):
    with pytest.raises(RuntimeError):
        replace_directory(tmp_path / "a" / "b" / "out", KIND, fail, key="data.processed_dir")
    assert list(tmp_path.iterdir()) == []


def test_new_output_carries_the_marker_of_its_kind(tmp_path):
    replace_directory(tmp_path / "out", KIND, write_text_file("new.txt", "new"), key="data.processed_dir")
    assert names(tmp_path / "out") == [MARKER, "new.txt"]
    assert read_marker(tmp_path / "out")["kind"] == KIND


def test_own_earlier_output_is_replaced_whole(tmp_path):
    replace_directory(tmp_path / "out", KIND, write_text_file("stale.txt", "old"), key="data.processed_dir")
    replace_directory(tmp_path / "out", KIND, write_text_file("new.txt", "new"), key="data.processed_dir")
    assert names(tmp_path / "out") == [MARKER, "new.txt"]
    assert names(tmp_path) == ["out"]


def test_empty_existing_directory_is_taken(tmp_path):
    (tmp_path / "out").mkdir()
    replace_directory(tmp_path / "out", KIND, write_text_file("new.txt", "new"), key="data.processed_dir")
    assert (tmp_path / "out" / "new.txt").read_text() == "new"


def test_output_directory_gets_ordinary_permissions(tmp_path):
    replace_directory(tmp_path / "out", KIND, lambda d: None, key="data.processed_dir")
    (tmp_path / "plain").mkdir()
    assert (tmp_path / "out").stat().st_mode == (tmp_path / "plain").stat().st_mode


def test_directory_holding_files_the_program_did_not_write_is_refused_and_kept(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "thesis.tex").write_text("years of work")
    with pytest.raises(ConfigError, match=r"^data\.processed_dir=.*out: holds files keyphrase-tagger did not write"):
        replace_directory(tmp_path / "out", KIND, write_text_file("new.txt", "new"), key="data.processed_dir")
    assert names(tmp_path / "out") == ["thesis.tex"]
    assert names(tmp_path) == ["out"]


def test_output_of_another_kind_is_refused(tmp_path):
    replace_directory(tmp_path / "out", "evaluation_report", lambda d: None, key="output_dir")
    with pytest.raises(ConfigError, match="holds a evaluation_report, not a prepared_dataset"):
        check_replaceable_directory(tmp_path / "out", KIND, "data.processed_dir")


@pytest.mark.parametrize("target", [".", "..", "{tmp}"])
def test_working_directory_and_its_parents_are_refused_even_when_marked(tmp_path, monkeypatch, target):
    cwd = tmp_path / "work"
    replace_directory(cwd, KIND, lambda d: None, key="data.processed_dir")
    monkeypatch.chdir(cwd)
    with pytest.raises(ConfigError, match="is the working directory or holds it"):
        check_replaceable_directory(target.format(tmp=tmp_path), KIND, "data.processed_dir")


def test_directory_holding_an_input_is_refused_even_when_marked(tmp_path):
    replace_directory(tmp_path / "out", KIND, write_text_file("corpus.txt", "text"), key="data.processed_dir")
    corpus = tmp_path / "out" / "corpus.txt"
    for target in (tmp_path / "out", tmp_path):
        with pytest.raises(ConfigError, match="holds the corpus"):
            check_replaceable_directory(target, KIND, "data.processed_dir", [("the corpus", corpus)])


def test_a_file_or_a_symbolic_link_in_place_of_the_directory_is_refused(tmp_path):
    (tmp_path / "file").write_text("mine")
    (tmp_path / "link").symlink_to(tmp_path / "file")
    with pytest.raises(ConfigError, match="is a file, expected a directory"):
        check_replaceable_directory(tmp_path / "file", KIND, "data.processed_dir")
    with pytest.raises(ConfigError, match="is a symbolic link"):
        check_replaceable_directory(tmp_path / "link", KIND, "data.processed_dir")


def test_ctrl_c_while_writing_propagates_and_leaves_the_earlier_output(tmp_path):
    replace_directory(tmp_path / "out", KIND, write_text_file("old.txt", "old"), key="data.processed_dir")

    def interrupted(directory: Path) -> None:
        (directory / "half.txt").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replace_directory(tmp_path / "out", KIND, interrupted, key="data.processed_dir")
    assert names(tmp_path) == ["out"]
    assert names(tmp_path / "out") == [MARKER, "old.txt"]


def test_sigterm_while_writing_removes_the_temporary_directory(tmp_path):
    process = start_writer("directory", tmp_path / "policy")
    assert len(list(tmp_path.iterdir())) == 1  # the temporary sibling
    assert stop(process, signal.SIGTERM) == -signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def test_temporary_directory_of_a_killed_run_is_removed_by_the_next_run(tmp_path):
    stop(start_writer("directory", tmp_path / "policy"), signal.SIGKILL)
    [left] = list(tmp_path.iterdir())
    assert left.name.startswith(".policy.") and left.name.endswith(".tmp")
    replace_directory(tmp_path / "policy", KIND, lambda d: None, key="data.processed_dir")
    assert names(tmp_path) == ["policy"]


def test_temporary_directory_without_the_marker_is_not_removed(tmp_path):
    stop(start_writer("directory", tmp_path / "policy"), signal.SIGKILL)
    [left] = list(tmp_path.iterdir())
    (left / MARKER).unlink()
    replace_directory(tmp_path / "policy", KIND, lambda d: None, key="data.processed_dir")
    assert names(tmp_path) == sorted([left.name, "policy"])


def test_temporary_directory_of_a_running_writer_is_left_alone(tmp_path):
    process = start_writer("directory", tmp_path / "policy")
    try:
        [running] = list(tmp_path.iterdir())
        replace_directory(tmp_path / "policy", KIND, lambda d: None, key="data.processed_dir")
        assert (running / "data.arrow").is_file()
    finally:
        stop(process, signal.SIGTERM)
    assert names(tmp_path) == ["policy"]


def test_output_of_a_run_killed_between_the_two_renames_comes_back(tmp_path):
    replace_directory(tmp_path / "policy", KIND, write_text_file("old.txt", "old"), key="data.processed_dir")
    stop(start_writer("swap", tmp_path / "policy"), signal.SIGKILL)
    assert "policy" not in names(tmp_path)
    with pytest.raises(RuntimeError):
        replace_directory(tmp_path / "policy", KIND, fail, key="data.processed_dir")
    assert names(tmp_path) == ["policy"]
    assert (tmp_path / "policy" / "old.txt").read_text() == "old"


def test_sigterm_during_the_renames_takes_effect_once_the_new_output_is_in_place(tmp_path):
    replace_directory(tmp_path / "policy", KIND, write_text_file("old.txt", "old"), key="data.processed_dir")
    assert stop(start_writer("swap", tmp_path / "policy"), signal.SIGTERM, then_continue=True) == -signal.SIGTERM
    assert names(tmp_path) == ["policy"]
    assert names(tmp_path / "policy") == [MARKER, "data.arrow"]


def test_parent_that_is_a_file_is_a_config_error(tmp_path):
    (tmp_path / "file").write_text("mine")
    with pytest.raises(ConfigError, match=r"^data\.processed_dir=.*: cannot create"):
        replace_directory(tmp_path / "file" / "out", KIND, lambda d: None, key="data.processed_dir")
    assert (tmp_path / "file").read_text() == "mine"


def test_signal_handlers_are_restored_after_writing(tmp_path):
    replace_directory(tmp_path / "out", KIND, lambda d: None, key="data.processed_dir")
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


# --- replacing a file (prediction output) ------------------------------------------------------


@pytest.fixture
def umask():
    """Set the process umask for one test; the previous one comes back after it."""
    previous = os.umask(0o022)
    yield os.umask
    os.umask(previous)


def write_output(path: Path, text: str) -> None:
    with open_output(str(path)) as stream:
        stream.write(text)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_output_file_gets_the_permissions_the_umask_gives(tmp_path, umask, mask, mode):
    umask(mask)
    write_output(tmp_path / "phrases.jsonl", "{}\n")
    assert (tmp_path / "phrases.jsonl").stat().st_mode & 0o777 == mode


def test_replaced_output_file_keeps_its_permissions(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "phrases.jsonl"
    target.write_text("old\n")
    target.chmod(0o640)
    write_output(target, "new\n")
    assert target.read_text() == "new\n"
    assert target.stat().st_mode & 0o777 == 0o640


def test_output_file_never_replaces_a_directory(tmp_path):
    (tmp_path / "out").mkdir()
    with pytest.raises(ConfigError, match=r"^output=.*out: is a directory"):
        write_output(tmp_path / "out", "{}\n")
    assert names(tmp_path) == ["out"]


def test_failed_output_file_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "phrases.jsonl"
    target.write_text("old\n")
    with pytest.raises(KeyboardInterrupt):
        with open_output(str(target)) as stream:
            stream.write("half")
            raise KeyboardInterrupt
    assert names(tmp_path) == ["phrases.jsonl"]
    assert target.read_text() == "old\n"


def test_sigterm_while_predicting_removes_the_temporary_file(tmp_path):
    process = start_writer("file", tmp_path / "phrases.jsonl")
    assert len(list(tmp_path.iterdir())) == 1
    assert stop(process, signal.SIGTERM) == -signal.SIGTERM
    assert list(tmp_path.iterdir()) == []


def test_temporary_file_of_a_killed_prediction_is_removed_by_the_next(tmp_path):
    stop(start_writer("file", tmp_path / "phrases.jsonl"), signal.SIGKILL)
    assert len(list(tmp_path.iterdir())) == 1
    write_output(tmp_path / "phrases.jsonl", "{}\n")
    assert names(tmp_path) == ["phrases.jsonl"]
