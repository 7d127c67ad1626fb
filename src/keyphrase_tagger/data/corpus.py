"""Read the corpus format: a document line followed by its ``[phrase,phrase,...]`` line.

UTF-8 with or without BOM, LF or CRLF; blank lines are ignored. Every deviation raises
:class:`CorpusFormatError` with the file and 1-based line number.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from keyphrase_tagger.errors import CorpusFormatError

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class RawDocument:
    """A document as written in the file: raw phrase list, and where each part came from."""

    doc_id: str
    text: str
    raw_phrases: tuple[str, ...]
    text_line: int
    phrases_line: int


def _is_list_line(line: str) -> bool:
    return line.startswith("[") and line.endswith("]")


def _decoded_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based numbers, read one at a time; invalid UTF-8 is reported by line."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        raise CorpusFormatError(path, None, "file not found") from None
    except IsADirectoryError:
        raise CorpusFormatError(path, None, "is a directory, expected a corpus file") from None
    with f:
        for number, raw in enumerate(f, start=1):
            if number == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM):]
            if raw.endswith(b"\n"):
                raw = raw[:-1]
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise CorpusFormatError(path, number, f"invalid UTF-8 at byte {err.start} of the line") from None
            line = line.rstrip("\r")
            if line.strip():
                yield number, line


def parse_phrase_list(line: str) -> tuple[str, ...]:
    """``[a,b,c]`` -> ``("a", "b", "c")``; ``[]`` -> ``()``. No quoting exists in the format."""
    inner = line.strip()[1:-1]
    return tuple(inner.split(",")) if inner else ()


def read_corpus(path: str | Path) -> list[RawDocument]:
    """Every (document, phrase list) pair of ``path``, in file order (see :func:`iter_corpus`)."""
    return list(iter_corpus(path))


def iter_corpus(path: str | Path) -> Iterator[RawDocument]:
    """The (document, phrase list) pairs of ``path``, one at a time: the file is never held whole.

    Document ids are ``doc-0000``, ``doc-0001``, ... in file order, so they are stable for a file.
    """
    path = Path(path)
    lines = _decoded_lines(path)
    # The loop takes each document line, next() its list line: enumerate counts documents.
    for count, (text_line, text) in enumerate(lines):
        if _is_list_line(text.strip()):
            raise CorpusFormatError(
                path, text_line, "expected a document line but found a phrase list (a document without its list?)"
            )
        following = next(lines, None)
        if following is None:
            raise CorpusFormatError(
                path, text_line, "document has no phrase list: the file ends after it (odd number of non-empty lines)"
            )
        list_line, phrases = following
        if not _is_list_line(phrases.strip()):
            # Either this list lost a bracket or the document before it lost its whole list:
            # name both lines so the user can tell which.
            raise CorpusFormatError(
                path,
                list_line,
                f"expected the phrase list of the document on line {text_line}, wrapped in [...]; "
                "found a line that is not (a document without its list?)",
            )
        yield RawDocument(f"doc-{count:04d}", text, parse_phrase_list(phrases), text_line, list_line)
