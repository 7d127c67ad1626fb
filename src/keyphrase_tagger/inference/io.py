"""Prediction inputs and outputs: ``.txt`` (a document per line) or ``.jsonl`` in, JSONL out."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from keyphrase_tagger.errors import InputFormatError
from keyphrase_tagger.records import Phrase

FORMATS = ("auto", "txt", "jsonl")


def input_format(path: str, fmt: str = "auto") -> str:
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


def _decode(path: str, numbered: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, str]]:
    for number, raw in numbered:
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield number, raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError as err:
            raise InputFormatError(path, number, f"invalid UTF-8 at byte {err.start} of the line") from None


def read_inputs(path: str, fmt: str = "auto") -> list[tuple[object, str]]:
    """``[(id, text), ...]``. ``.txt``: every line is a document, its id the line number.
    ``.jsonl``: objects with ``text`` and optional ``id`` (default: the line number); blank lines skipped."""
    fmt = input_format(path, fmt)
    docs: list[tuple[object, str]] = []
    for number, line in _lines(path):
        if fmt == "txt":
            docs.append((number, line))
            continue
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputFormatError(path, number, f"invalid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(obj, dict) or "text" not in obj:
            raise InputFormatError(path, number, 'expected a JSON object with a "text" field')
        if not isinstance(obj["text"], str):
            raise InputFormatError(path, number, 'field "text" must be a string')
        try:  # a "\ud800"-style escape: JSON allows it, but it is no character and cannot be written out
            obj["text"].encode("utf-8")
        except UnicodeEncodeError as err:
            raise InputFormatError(path, number, f'field "text" holds a lone surrogate at character {err.start}'
                                   ) from None
        docs.append((obj.get("id", number), obj["text"]))
    return docs


def result_line(doc_id: object, phrases: list[Phrase]) -> str:
    return json.dumps({"id": doc_id, "phrases": [p.to_dict() for p in phrases]}, ensure_ascii=False)


@contextmanager
def open_output(path: str):
    """Stdout for ``-``; else a temporary file renamed over ``path`` only when all went well."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            yield f
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
