"""The corpus reader: a document line, then its ``[phrase,...]`` line; errors carry ``path:line``."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CORPUS

from keyphrase_tagger.data.corpus import iter_corpus, parse_phrase_list, read_corpus
from keyphrase_tagger.errors import CorpusFormatError, KeyphraseTaggerError

TWO_DOCUMENTS = "发展服务业和现代物流\n[服务业,现代物流]\n推进跨境电商\n[跨境电商]\n"


def write(tmp_path: Path, content: str | bytes, name: str = "corpus.txt") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def read_error(path: Path) -> CorpusFormatError:
    with pytest.raises(CorpusFormatError) as info:
        read_corpus(path)
    return info.value


def test_reads_each_document_with_its_raw_list_and_line_numbers(tmp_path):
    docs = read_corpus(write(tmp_path, TWO_DOCUMENTS))
    assert [(d.doc_id, d.text, d.raw_phrases, d.text_line, d.phrases_line) for d in docs] == [
        ("doc-0000", "发展服务业和现代物流", ("服务业", "现代物流"), 1, 2),
        ("doc-0001", "推进跨境电商", ("跨境电商",), 3, 4),
    ]


def test_bom_crlf_and_blank_lines_read_like_plain_lf(tmp_path):
    plain = read_corpus(write(tmp_path, TWO_DOCUMENTS, "plain.txt"))
    messy = "\ufeff\r\n" + TWO_DOCUMENTS.replace("\n", "\r\n\r\n") + "\r\n\r\n"
    quirky = read_corpus(write(tmp_path, messy, "messy.txt"))
    assert [(d.text, d.raw_phrases) for d in quirky] == [(d.text, d.raw_phrases) for d in plain]
    # Line numbers still count the blank lines, so errors point at the right place in an editor.
    assert [(d.text_line, d.phrases_line) for d in quirky] == [(2, 4), (6, 8)]


def test_phrases_keep_their_raw_form_for_cleaning_to_judge(tmp_path):
    docs = read_corpus(write(tmp_path, "技术研发、服务\n[技术研发、, 服务,的]\n"))
    assert docs[0].raw_phrases == ("技术研发、", " 服务", "的")


def test_empty_list_gives_no_phrases():
    assert parse_phrase_list("[]") == ()
    assert parse_phrase_list("[a,,b]") == ("a", "", "b")


def test_document_ids_are_stable_across_reads(tmp_path):
    path = write(tmp_path, TWO_DOCUMENTS)
    assert [d.doc_id for d in read_corpus(path)] == [d.doc_id for d in read_corpus(path)]


def test_file_of_blank_lines_holds_no_documents(tmp_path):
    assert read_corpus(write(tmp_path, "\ufeff\n\r\n  \n")) == []


def test_embedded_corpus_reads_forty_documents():
    docs = read_corpus(CORPUS)
    assert len(docs) == 40
    assert all(d.text and d.raw_phrases for d in docs)


def test_error_message_is_path_colon_line_colon_what(tmp_path):
    path = write(tmp_path, "只有一个文档\n")
    err = read_error(path)
    assert isinstance(err, KeyphraseTaggerError)
    assert (err.path, err.line) == (str(path), 1)
    assert str(err).startswith(f"{path}:1: ")


def test_odd_line_count_names_the_document_left_without_its_list(tmp_path):
    err = read_error(write(tmp_path, TWO_DOCUMENTS + "\n最后一个文档没有列表\n"))
    assert err.line == 6
    assert "no phrase list" in str(err)


def test_document_missing_its_list_mid_file_is_reported_where_the_list_should_be(tmp_path):
    # Document 2 lost its list: line 4 (document 3) sits where a list belongs.
    content = "第一个文档\n[文档]\n第二个文档\n第三个文档\n[文档]\n"
    err = read_error(write(tmp_path, content))
    assert err.line == 4
    assert "document on line 3" in str(err) and "[...]" in str(err)


def test_list_first_is_reported_at_the_list(tmp_path):
    err = read_error(write(tmp_path, "[服务业]\n发展服务业\n"))
    assert err.line == 1
    assert "phrase list" in str(err)


@pytest.mark.parametrize("bad_list", ["[服务业,物流", "服务业,物流]", "服务业,物流", "(服务业,物流)"])
def test_list_line_not_wrapped_in_brackets_is_an_error(tmp_path, bad_list):
    err = read_error(write(tmp_path, f"发展服务业和物流\n[服务业]\n发展服务业和物流\n{bad_list}\n"))
    assert err.line == 4
    assert "[...]" in str(err)


def test_invalid_utf8_is_reported_at_its_line(tmp_path):
    content = TWO_DOCUMENTS.encode("utf-8") + "坏的文".encode("utf-8") + b"\xff\xfe" + "档\n[文档]\n".encode("utf-8")
    err = read_error(write(tmp_path, content))
    assert err.line == 5
    assert "UTF-8" in str(err)


def test_invalid_utf8_in_a_list_line_is_reported_at_that_line(tmp_path):
    err = read_error(write(tmp_path, "文档\n[文".encode("utf-8") + b"\xc3(]\n"))
    assert err.line == 2


def test_missing_file_is_a_corpus_error_naming_the_file(tmp_path):
    path = tmp_path / "no_such_corpus.txt"
    err = read_error(path)
    assert err.line is None
    assert str(err) == f"{path}: file not found"


def test_directory_instead_of_file_is_a_corpus_error(tmp_path):
    assert str(tmp_path) in str(read_error(tmp_path))


def test_documents_stream_one_at_a_time_and_an_error_comes_where_it_is(tmp_path):
    documents = iter_corpus(write(tmp_path, TWO_DOCUMENTS + "第三份文件\n"))
    assert [next(documents).doc_id, next(documents).doc_id] == ["doc-0000", "doc-0001"]
    with pytest.raises(CorpusFormatError, match="no phrase list") as info:
        next(documents)
    assert info.value.line == 5
