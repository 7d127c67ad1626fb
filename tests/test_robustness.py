"""The readers under random input: whatever the bytes, the corpus reader and the prediction input
reader return documents that the rest of the program can use, or raise their one-line error
(``CorpusFormatError`` / ``InputFormatError``), never anything else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyphrase_tagger.data.corpus import read_corpus
from keyphrase_tagger.errors import CorpusFormatError, InputFormatError
from keyphrase_tagger.inference.io import read_inputs, result_line

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters a reader has to survive: CJK, ASCII, brackets and commas of the list format, line and
# paragraph separators Python's splitlines() would break on, control characters, an emoji.
ODD_CHARS = st.sampled_from(list("服务业发展ab ,，[]［］\t\r\x00\x0b\x0c\x1c\x85\u2028\u3000\ufeff😀\"{}:\\"))
TEXT = st.text(alphabet=st.one_of(ODD_CHARS, st.characters(exclude_categories=["Cs"])), max_size=20)
# Lone surrogates (no Unicode character) and whatever else st.characters can draw.
ANY_TEXT = st.text(alphabet=st.one_of(ODD_CHARS, st.characters()), max_size=12)
INVALID_UTF8 = st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe6\x9c", b"\xf8\x88\x80\x80\x80"])


def lines_to_bytes(lines: list[bytes], crlf: bool, bom: bool, final_newline: bool) -> bytes:
    data = (b"\r\n" if crlf else b"\n").join(lines) + ((b"\r\n" if crlf else b"\n") if final_newline else b"")
    return b"\xef\xbb\xbf" + data if bom else data


def encoded(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate becomes invalid UTF-8, as in a damaged file


CORPUS_LINE = st.one_of(
    TEXT.map(encoded),  # a document line (or anything)
    st.lists(TEXT, max_size=4).map(lambda phrases: encoded("[" + ",".join(phrases) + "]")),  # a phrase list
    st.sampled_from([b"", b" ", b"\t", b"\r", b"\xe3\x80\x80", b"[]", b"[", b"]", b" [a] "]),  # blank and odd
    st.tuples(TEXT, INVALID_UTF8, TEXT).map(lambda t: encoded(t[0]) + t[1] + encoded(t[2])),
    ANY_TEXT.map(encoded),
)
CORPUS_BYTES = st.one_of(
    st.binary(max_size=200),
    st.builds(lines_to_bytes, st.lists(CORPUS_LINE, max_size=12), st.booleans(), st.booleans(), st.booleans()),
)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def assert_one_line(err: Exception, path: Path) -> None:
    message = str(err)
    assert message.startswith(str(path))
    assert "\n" not in message and "\r" not in message


@FUZZ
@given(data=CORPUS_BYTES)
def test_the_corpus_reader_returns_documents_or_a_corpus_format_error(scratch, data):
    path = scratch / "corpus.txt"
    path.write_bytes(data)
    try:
        documents = read_corpus(path)
    except CorpusFormatError as err:
        assert_one_line(err, path)
        return
    for k, doc in enumerate(documents):
        assert doc.doc_id == f"doc-{k:04d}"
        assert doc.text.strip() and "\n" not in doc.text and not doc.text.endswith("\r")
        assert doc.text_line < doc.phrases_line
        assert all("\n" not in p and "," not in p for p in doc.raw_phrases)
        doc.text.encode("utf-8")  # strict: the reader never hands on what it could not decode


def json_line(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=True).encode("ascii")  # lone surrogates as "\udxxx" escapes


ODD_IDS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), ANY_TEXT,
    st.lists(st.integers(), max_size=3), st.dictionaries(TEXT, st.integers(), max_size=2),
)
RAW_JSON = st.sampled_from([
    b'{"text": "a", "id": 1e999}', b'{"text": "a", "id": NaN}', b'{"text": "a", "id": -Infinity}',
    b'{"text": "a", "id": ' + b"9" * 5000 + b"}", b'{"text": "a", "id": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b"[" * 100_000, b'{"text": "a", "text": 5}', b'{"text": "a\\u0000b"}', b'"text"', b"null", b"[]", b"{}",
    b'{"text": "a"} {"text": "b"}', b'{"text": "\\ud800\\udc00"}', b'{"text": "\\udc00\\ud800"}',
])
JSONL_LINE = st.one_of(
    st.builds(lambda text, doc_id, with_id: json_line({"text": text, "id": doc_id} if with_id else {"text": text}),
              ANY_TEXT, ODD_IDS, st.booleans()),
    st.builds(lambda v: json_line(v), st.one_of(ODD_IDS, st.lists(ANY_TEXT, max_size=2))),  # not an object
    RAW_JSON,
    CORPUS_LINE,
)
INPUT_BYTES = st.one_of(
    st.binary(max_size=200),
    st.builds(lines_to_bytes, st.lists(JSONL_LINE, max_size=8), st.booleans(), st.booleans(), st.booleans()),
)


def assert_writable(doc_id: object, text: str) -> None:
    """What ``kpt-predict`` will do with a document it read: a strict JSON line, in UTF-8."""
    assert isinstance(text, str)
    text.encode("utf-8")
    line = result_line(doc_id, [])
    assert "\n" not in line
    line.encode("utf-8")

    def no_constant(name: str) -> None:
        raise AssertionError(f"{name} is not JSON")

    assert json.loads(line, parse_constant=no_constant)["phrases"] == []


@FUZZ
@given(data=INPUT_BYTES, suffix=st.sampled_from([".jsonl", ".txt"]))
def test_the_input_reader_returns_writable_documents_or_an_input_format_error(scratch, data, suffix):
    path = scratch / f"input{suffix}"
    path.write_bytes(data)
    try:
        documents = read_inputs(str(path))
    except InputFormatError as err:
        assert_one_line(err, path)
        return
    for k, (doc_id, text) in enumerate(documents):
        assert_writable(doc_id, text)
        if suffix == ".txt":
            assert doc_id == k + 1 and "\n" not in text and not text.endswith("\r")


@pytest.mark.parametrize("line", [
    b'{"text": "a", "id": NaN}', b'{"text": "a", "id": 1e999}', b'{"text": "a", "id": "\\ud800"}',
    b'{"text": "a", "id": ' + b"9" * 5000 + b"}", b"[" * 100_000,
], ids=["nan_id", "infinite_id", "surrogate_id", "5000_digit_id", "deeply_nested"])
def test_jsonl_lines_that_could_not_be_written_back_are_refused_at_their_line(tmp_path, line):
    path = tmp_path / "docs.jsonl"
    path.write_bytes(b'{"text": "ok"}\n' + line + b"\n")
    with pytest.raises(InputFormatError, match=r"docs\.jsonl:2: ") as info:
        read_inputs(str(path))
    assert "\n" not in str(info.value)


def test_ids_of_every_json_kind_pass_through_unchanged(tmp_path):
    ids = ["doc-1", 7, -2.5, 1e300, None, True, [1, "a"], {"source": "x"}, "😀", 10**40]
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"id": i, "text": "服务业"}) + "\n" for i in ids), encoding="utf-8")
    assert [doc_id for doc_id, _ in read_inputs(str(path))] == ids
