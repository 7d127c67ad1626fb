"""``kpt-predict``: .txt / .jsonl / stdin in, one JSON line per document out; bad input, one line out."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CORPUS, compose

from keyphrase_tagger.errors import ConfigError
from keyphrase_tagger.inference.predict import predict

BIN = Path(sys.executable).parent
DOCS = [
    CORPUS.read_text(encoding="utf-8").splitlines()[0][:400],  # text the smoke checkpoint tags something in
    "",
    "  服务业\t发展 ＡＢＣ 😀 發展經濟",
    "完善养老服务体系，发展数字经济和金融科技",
]


def kpt_predict(args: list[str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run([str(BIN / "kpt-predict"), *args], cwd=cwd, env=env, input=stdin, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def expected(smoke_checkpoint):
    """What the Python API returns for each of ``DOCS``: the CLI must write exactly this."""
    from keyphrase_tagger import KeyphraseExtractor

    extractor = KeyphraseExtractor.from_pretrained(smoke_checkpoint, device="cpu")

    def phrases(texts: list[str], **options) -> list[list[dict]]:
        return [[p.to_dict() for p in doc] for doc in extractor.extract_many(texts, **options)]

    return phrases


def read_jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_txt_input_gives_one_line_per_document_with_line_numbers_as_ids(smoke_checkpoint, expected, tmp_path):
    (tmp_path / "docs.txt").write_text("\n".join(DOCS) + "\n", encoding="utf-8")
    result = kpt_predict([f"checkpoint={smoke_checkpoint}", "input=docs.txt", "output=out/phrases.jsonl",
                          "device=cpu"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = read_jsonl((tmp_path / "out" / "phrases.jsonl").read_text(encoding="utf-8"))
    assert [r["id"] for r in rows] == [1, 2, 3, 4]
    assert [r["phrases"] for r in rows] == expected(DOCS)
    assert rows[0]["phrases"] and rows[1]["phrases"] == []
    for row, text in zip(rows, DOCS):
        for p in row["phrases"]:
            assert text[p["start"] : p["end"]] == p["text"] and 0 <= p["score"] <= 1
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["phrases.jsonl"]


def test_jsonl_input_passes_ids_through_and_honours_options(smoke_checkpoint, expected, tmp_path):
    lines = [
        json.dumps({"id": "doc-a", "text": DOCS[0]}, ensure_ascii=False),
        "",  # blank lines are skipped
        json.dumps({"text": DOCS[2], "source": "ignored"}, ensure_ascii=False),  # no id: its line number
        json.dumps({"id": 17, "text": DOCS[3]}, ensure_ascii=False),
        json.dumps({"id": None, "text": ""}),
    ]
    (tmp_path / "docs.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = kpt_predict([f"checkpoint={smoke_checkpoint}", "input=docs.jsonl", "output=phrases.jsonl",
                          "device=cpu", "top_k=2", "unique=true"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = read_jsonl((tmp_path / "phrases.jsonl").read_text(encoding="utf-8"))
    assert [r["id"] for r in rows] == ["doc-a", 3, 17, None]
    assert [r["phrases"] for r in rows] == expected([DOCS[0], DOCS[2], DOCS[3], ""], top_k=2, unique=True)


def test_stdin_to_stdout(smoke_checkpoint, expected, tmp_path):
    result = kpt_predict([f"checkpoint={smoke_checkpoint}", "input=-", "output=-", "device=cpu"], cwd=tmp_path,
                         stdin="\n".join(DOCS) + "\n")
    assert result.returncode == 0, result.stderr
    rows = read_jsonl(result.stdout)  # stdout holds nothing but the JSON lines
    assert [r["id"] for r in rows] == [1, 2, 3, 4]
    assert [r["phrases"] for r in rows] == expected(DOCS)
    assert list(tmp_path.iterdir()) == []


BAD_INPUTS = {
    "missing_file": ("input=nowhere.txt", None, r"nowhere\.txt: file not found"),
    "bad_json_line": ("input=bad.jsonl", '{"text": "服务业"}\n{"text": "发展"\n', r"bad\.jsonl:2: invalid JSON"),
    "no_text_field": ("input=bad.jsonl", '{"text": "服务业"}\n\n{"id": 1}\n', r'bad\.jsonl:3: .*"text"'),
    "text_not_a_string": ("input=bad.jsonl", '{"text": 5}\n', r'bad\.jsonl:1: field "text" must be a string'),
    "lone_surrogate": ("input=bad.jsonl", '{"text": "a\\ud800b"}\n', r"bad\.jsonl:1: .*surrogate"),
    "invalid_utf8": ("input=bad.txt", b"ok\n\xff\xfe\n", r"bad\.txt:2: invalid UTF-8"),
    "unknown_extension": ("input=docs.csv", "服务业\n", r"docs\.csv: cannot tell the format"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_input_is_one_line_on_stderr_and_no_output(smoke_checkpoint, tmp_path, case):
    arg, content, message = BAD_INPUTS[case]
    name = arg.split("=", 1)[1]
    if isinstance(content, bytes):
        (tmp_path / name).write_bytes(content)
    elif content is not None:
        (tmp_path / name).write_text(content, encoding="utf-8")
    before = sorted(p.name for p in tmp_path.iterdir())
    result = kpt_predict([f"checkpoint={smoke_checkpoint}", arg, "output=phrases.jsonl"], cwd=tmp_path)
    assert_one_line_error(result, message)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize("which", ["empty_dir", "run_dir", "missing_dir"])
def test_a_directory_that_is_not_a_checkpoint_is_one_line_on_stderr(smoke_run, tmp_path, which):
    checkpoint = {"empty_dir": tmp_path / "empty", "run_dir": smoke_run, "missing_dir": tmp_path / "nothing"}[which]
    (tmp_path / "empty").mkdir()
    (tmp_path / "docs.txt").write_text("服务业\n", encoding="utf-8")
    result = kpt_predict([f"checkpoint={checkpoint}", "input=docs.txt", "output=phrases.jsonl"], cwd=tmp_path)
    assert_one_line_error(result, str(checkpoint))
    assert not (tmp_path / "phrases.jsonl").exists()


@pytest.mark.parametrize(
    "args,message",
    [
        (["input=docs.txt", "output=phrases.jsonl"], "checkpoint= is required"),
        (["input=docs.txt", "output=.", "checkpoint=CKPT"], "is a directory"),
        (["input=docs.txt", "output=phrases.jsonl", "checkpoint=CKPT", "top_k=-1"], "top_k=-1"),
        (["input=docs.txt", "output=phrases.jsonl", "checkpoint=CKPT", "top_k=abc"], "top_k"),
        (["input=docs.txt", "output=phrases.jsonl", "checkpoint=CKPT", "batch_size=-1"], "batch_size"),
    ],
)
def test_bad_arguments_are_one_line_on_stderr(smoke_checkpoint, tmp_path, args, message):
    (tmp_path / "docs.txt").write_text("服务业\n", encoding="utf-8")
    args = [a.replace("CKPT", str(smoke_checkpoint)) for a in args]
    assert_one_line_error(kpt_predict(args, cwd=tmp_path), message)
    assert not (tmp_path / "phrases.jsonl").exists()


def test_a_checkpoint_without_its_tokenizer_is_one_line_on_stderr_and_exit_2(smoke_checkpoint, tmp_path):
    checkpoint = tmp_path / "model"
    shutil.copytree(smoke_checkpoint, checkpoint)
    (checkpoint / "tokenizer.json").unlink()
    (tmp_path / "docs.txt").write_text("服务业\n", encoding="utf-8")
    result = kpt_predict([f"checkpoint={checkpoint}", "input=docs.txt", "output=phrases.jsonl"], cwd=tmp_path)
    assert_one_line_error(result, r"tokenizer\.json: missing")
    assert result.returncode == 2
    assert not (tmp_path / "phrases.jsonl").exists()


@pytest.mark.parametrize("override", ["batch_size=0", "batch_size=2.5", "documents_per_chunk=0", "top_k=abc",
                                      "top_k=1.5", "min_score=abc", "unique=maybe", "device=banana", "device=cuda:99"])
def test_bad_prediction_values_are_config_errors_naming_the_key(smoke_checkpoint, tmp_path, override):
    (tmp_path / "docs.txt").write_text("服务业\n", encoding="utf-8")
    output = tmp_path / "phrases.jsonl"
    cfg = compose("predict", [f"checkpoint={smoke_checkpoint}", f"input={tmp_path / 'docs.txt'}", f"output={output}",
                              override])
    with pytest.raises(ConfigError, match=rf"\b{override.split('=')[0]}\b"):
        predict(cfg)
    assert not output.exists()


def test_output_naming_the_input_file_is_refused_and_the_input_kept(smoke_checkpoint, tmp_path):
    docs = tmp_path / "docs.txt"
    docs.write_text("服务业\n", encoding="utf-8")
    cfg = compose("predict", [f"checkpoint={smoke_checkpoint}", f"input={docs}", f"output={tmp_path / '.' / 'docs.txt'}"])
    with pytest.raises(ConfigError, match=r"output=.*is the input file"):
        predict(cfg)
    assert docs.read_text(encoding="utf-8") == "服务业\n"


def assert_one_line_error(result: subprocess.CompletedProcess, message: str) -> None:
    import re

    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_each_document_is_written_before_the_next_is_decided(smoke_checkpoint, tmp_path, monkeypatch):
    """Lines stream out: with model groups of one document (``overlap.MODEL_GROUP_CHARS``), when a
    document is decided, every document before it is on the output already, even within one chunk
    of ``documents_per_chunk``."""
    import io

    from keyphrase_tagger.inference import overlap

    monkeypatch.setattr(overlap, "MODEL_GROUP_CHARS", 1)

    from keyphrase_tagger.decision.kinds import DECISIONS

    (tmp_path / "docs.txt").write_text("\n".join(DOCS) + "\n", encoding="utf-8")
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    lines_when_decided = []
    for kind in DECISIONS.values():
        decide = kind.decide

        def recording(self, text, probs, decide=decide):
            lines_when_decided.append(out.getvalue().count("\n"))
            return decide(self, text, probs)

        monkeypatch.setattr(kind, "decide", recording)
    cfg = compose("predict", [f"checkpoint={smoke_checkpoint}", f"input={tmp_path / 'docs.txt'}", "output=-",
                              "device=cpu", "documents_per_chunk=256"])
    assert predict(cfg) == len(DOCS)
    assert lines_when_decided == list(range(len(DOCS)))
    assert len(read_jsonl(out.getvalue())) == len(DOCS)
