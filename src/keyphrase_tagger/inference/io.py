"""Prediction inputs and outputs: ``.txt`` (a document per line) or ``.jsonl`` in, JSONL out."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from keyphrase_tagger.errors import InputFormatError
from keyphrase_tagger.outputs import replacing_file
from keyphrase_tagger.records import Phrase

FORMATS = ("auto", "txt", "jsonl")


def input_format(path: str, fmt: str = "auto") -> str:
    """``txt`` or ``jsonl``: ``fmt`` itself, or with ``auto`` told by the extension (stdin, ``-``, is
    ``txt``); else :class:`InputFormatError`."""
    if fmt not in FORMATS:
        raise InputFormatError(path, None, f"unknown input format {fmt!r}; choose one of {FORMATS}")
    if fmt != "auto":
        return fmt
    if path == "-":
        return "txt"
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".json"):
        return "jsonl"
    if suffix == ".txt":
        return "txt"
    raise InputFormatError(path, None, "cannot tell the format from the extension: use .txt or .jsonl, or set format=")


def _lines(path: str) -> Iterator[tuple[int, str]]:
    if path == "-":
        stream = sys.stdin.buffer
        yield from _decode(path, enumerate(stream, start=1))
        return
    try:
        with open(path, "rb") as stream:
            yield from _decode(path, enumerate(stream, start=1))
    except FileNotFoundError:
        raise InputFormatError(path, None, "file not found") from None
    except IsADirectoryError:
        raise InputFormatError(path, None, "is a directory, expected a file") from None
    except PermissionError:
        raise InputFormatError(path, None, "permission denied") from None


def _decode(path: str, numbered: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, str]]:
    for number, raw in numbered:
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield number, raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as err:
            raise InputFormatError(path, number, f"invalid UTF-8 at byte {err.start} of the line") from None


def read_inputs(path: str, fmt: str = "auto") -> list[tuple[object, str]]:
    """``[(id, text), ...]`` in file order.

    ``.txt``: every line is a document and its id is its 1-based line number (an int); a blank line
    is a document with no phrases, kept so that ids stay the line numbers. ``.jsonl``: objects with
    ``text`` and an optional ``id`` of any JSON type (default: the line number); blank lines are
    skipped."""
    fmt = input_format(path, fmt)
    docs: list[tuple[object, str]] = []
    for number, line in _lines(path):
        if fmt == "txt":
            docs.append((number, line))
            continue
        if line.strip():
            docs.append(_jsonl_document(path, number, line))
    return docs


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError(f"{literal} is out of range")
    return value


def _jsonl_document(path: str, number: int, line: str) -> tuple[object, str]:
    """``(id, text)`` of one JSONL line, refused unless its output line can be written as strict
    JSON in UTF-8: no NaN or infinite numbers, no lone surrogates (``"\\ud800"`` escapes)."""
    try:
        obj = json.loads(line, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as err:
        raise InputFormatError(path, number, f"invalid JSON ({err.msg} at column {err.colno})") from None
    except ValueError as err:  # NaN, 1e999, or an integer of more digits than Python converts
        raise InputFormatError(path, number, f"invalid JSON ({str(err).splitlines()[0]})") from None
    except RecursionError:
        raise InputFormatError(path, number, "invalid JSON (nested too deeply)") from None
    if not isinstance(obj, dict) or "text" not in obj:
        raise InputFormatError(path, number, 'expected a JSON object with a "text" field')
    if not isinstance(obj["text"], str):
        raise InputFormatError(path, number, 'field "text" must be a string')
    doc_id = obj.get("id", number)
    try:  # JSON allows a "\ud800" escape, but it is no character and cannot be written out
        obj["text"].encode("utf-8")
    except UnicodeEncodeError as err:
        raise InputFormatError(path, number, f'field "text" holds a lone surrogate at character {err.start}'
                               ) from None
    try:
        json.dumps(doc_id, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise InputFormatError(path, number, 'field "id" holds a lone surrogate') from None
    return doc_id, obj["text"]


def result_line(doc_id: object, phrases: list[Phrase]) -> str:
    """One output line, without its newline: ``{"id": ..., "phrases": [{"text", "start", "end", "score"}, ...]}``."""
    return json.dumps({"id": doc_id, "phrases": [p.to_dict() for p in phrases]}, ensure_ascii=False)


@contextmanager
def open_output(path: str, key: str = "output") -> Iterator[TextIO]:
    """Stdout for ``-``; else a stream whose content replaces the file ``path`` only when all went
    well (see :func:`keyphrase_tagger.outputs.replacing_file`: umask permissions, never a directory)."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    with replacing_file(path, key) as stream:
        yield stream
