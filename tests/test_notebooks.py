"""notebooks/: both run top to bottom on a smoke checkpoint, and none is committed with outputs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
KERNEL = "python3"


def ensure_kernel() -> None:
    """The ``python3`` kernel of this interpreter; a bare venv may lack its spec, so install it."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"], check=True,
                       capture_output=True)


def inject_parameters(nb: nbformat.NotebookNode, values: dict) -> nbformat.NotebookNode:
    """Papermill's convention: a cell tagged ``injected-parameters`` right after the ``parameters`` cell."""
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, cell)
    return nb


def execute(name: str, parameters: dict) -> nbformat.NotebookNode:
    from nbclient import NotebookClient

    ensure_kernel()
    nb = inject_parameters(nbformat.read(NOTEBOOKS / name, as_version=4), parameters)
    # Any cell that raises fails the test (CellExecutionError, with the cell's traceback).
    NotebookClient(nb, kernel_name=KERNEL, timeout=300, resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def parameters_source(name: str) -> str:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    return next(c.source for c in nb.cells if "parameters" in c.metadata.get("tags", []))


def outputs_of(nb: nbformat.NotebookNode, mime: str) -> list[str]:
    return [o["data"][mime] for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if o.get("output_type") in ("display_data", "execute_result") and mime in o.get("data", {})]


def stderr_of(nb: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
                   if o.get("output_type") == "stream" and o.get("name") == "stderr")


@pytest.fixture(scope="module")
def evaluation_report(smoke_checkpoint: Path, tmp_path_factory) -> Path:
    from keyphrase_tagger.evaluation.evaluate import build_report, write_report

    out = tmp_path_factory.mktemp("notebook_report")
    return write_report(build_report(smoke_checkpoint, "test", device="cpu"), out) / "report.json"


@pytest.mark.slow
def test_corpus_exploration_notebook_runs_top_to_bottom():
    corpus = NOTEBOOKS.parent / "data" / "raw" / "policy_keyphrases.txt"
    nb = execute("01_corpus_exploration.ipynb", {"corpus_path": str(corpus)})
    assert outputs_of(nb, "image/png"), "the notebook draws its plots"
    assert "TqdmWarning" not in stderr_of(nb)


@pytest.mark.slow
def test_error_analysis_notebook_runs_top_to_bottom(smoke_checkpoint, evaluation_report):
    nb = execute(
        "02_error_analysis.ipynb",
        {"checkpoint": str(smoke_checkpoint), "report_path": str(evaluation_report), "n_documents_shown": 2,
         "max_chars_shown": 200, "device": "cpu"},
    )
    html = "\n".join(outputs_of(nb, "text/html"))
    assert "gold span missed" in html  # the legend of the rendered documents
    assert outputs_of(nb, "image/png")
    assert "TqdmWarning" not in stderr_of(nb)  # no ipywidgets here: tqdm's text bars, without a warning


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: a cell has outputs"
            assert cell.execution_count is None, f"{path.name}: a cell has an execution count"


def test_each_notebook_has_one_parameters_cell():
    names = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    assert names[:2] == ["01_corpus_exploration.ipynb", "02_error_analysis.ipynb"]
    for name in names:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, name
        first_code = next(c for c in nb.cells if c.cell_type == "code")
        assert first_code is tagged[0], f"{name}: the parameters cell comes first"


def test_corpus_notebook_defaults_point_at_the_embedded_corpus(monkeypatch):
    monkeypatch.chdir(NOTEBOOKS)
    params: dict = {}
    exec(parameters_source("01_corpus_exploration.ipynb"), params)
    assert Path(params["corpus_path"]).is_file() and Path(params["data_config"]).is_file()


def test_error_notebook_defaults_to_the_newest_make_train_run(tmp_path, monkeypatch):
    # The layout `make train` leaves: outputs/default/<time stamp>/{model,evaluation_test/report.json}.
    (tmp_path / "configs").mkdir()
    (tmp_path / "notebooks").mkdir()
    for stamp in ("2026-01-02_09-00-00", "2026-01-10_08-00-00", "2025-12-31_23-59-59"):
        (tmp_path / "outputs" / "default" / stamp / "model").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks")
    params: dict = {}
    exec(parameters_source("02_error_analysis.ipynb"), params)
    newest = tmp_path / "outputs" / "default" / "2026-01-10_08-00-00"
    assert params["checkpoint"] == str(newest / "model")
    assert params["report_path"] == str(newest / "evaluation_test" / "report.json")
