"""Console progress: a bar on a terminal, periodic log lines elsewhere, nothing when disabled."""

from __future__ import annotations

import logging

from keyphrase_tagger.logging_setup import progress


def test_progress_off_a_terminal_logs_done_of_total_and_yields_every_item(caplog):
    # pytest captures stderr, so it is no terminal here: the log-line form is what a pipe or log file gets.
    with caplog.at_level(logging.INFO, logger="keyphrase_tagger.progress"):
        items = list(progress(range(5), "fitting", every_s=0.0))
    assert items == [0, 1, 2, 3, 4]
    lines = [r.getMessage() for r in caplog.records if r.name == "keyphrase_tagger.progress"]
    assert lines and all(line.startswith("fitting: ") and "/5 (" in line for line in lines)


def test_progress_names_no_total_for_an_iterator_of_unknown_length(caplog):
    with caplog.at_level(logging.INFO, logger="keyphrase_tagger.progress"):
        assert list(progress(iter("abc"), "reading", every_s=0.0)) == ["a", "b", "c"]
    assert any(r.getMessage().startswith("reading: ") and "/" not in r.getMessage() for r in caplog.records)


def test_disabled_progress_is_silent(caplog):
    with caplog.at_level(logging.INFO, logger="keyphrase_tagger.progress"):
        assert list(progress(range(3), "quiet", enabled=False, every_s=0.0)) == [0, 1, 2]
    assert not [r for r in caplog.records if r.name == "keyphrase_tagger.progress"]
