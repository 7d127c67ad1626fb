"""The source tree keeps the house limits, and its imports point one way down the line: the stages
before evaluation (data, lexicon, tagger, decision, inference) never import from it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "keyphrase_tagger"
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 300
# The stages after the decision that may read evaluation's scores and reports.
EVALUATION_READERS = ("evaluation", "training", "cli")


def modules() -> list[tuple[str, ast.Module, int]]:
    """``(path relative to the package, syntax tree, line count)`` of every module."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        found.append((path.relative_to(PACKAGE).as_posix(), ast.parse(source), len(source.splitlines())))
    return found


def imported_modules(tree: ast.Module) -> set[str]:
    """Every module an ``import`` or ``from ... import`` anywhere in ``tree`` names (absolute imports)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_no_function_is_longer_than_60_lines_and_no_module_longer_than_300():
    too_long = []
    for name, tree, n_lines in modules():
        if n_lines > MAX_MODULE_LINES:
            too_long.append(f"{name}: {n_lines} lines")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []


def test_only_stages_after_the_decision_import_from_evaluation():
    upward = sorted(
        f"{name} imports {module}"
        for name, tree, _ in modules()
        if not name.startswith(tuple(f"{stage}/" for stage in EVALUATION_READERS))
        for module in imported_modules(tree)
        if module == "keyphrase_tagger.evaluation" or module.startswith("keyphrase_tagger.evaluation.")
    )
    assert upward == []


# The line, in order: a stage imports only stages before it and the shared ground. ``config/`` and
# ``cli/`` are the application around the line (validation calls each stage's own checks; the
# commands call the stages), so they are not ranked.
# Training comes last: it scores epochs with evaluation's metrics, which score the extractor.
LINE = ("data", "lexicon", "tagger", "decision", "checkpoint", "inference", "evaluation", "training")
GROUND = ("records", "errors", "outputs", "logging_setup", "config")
# A Hydra callback reports a refused sweep the way the commands report errors.
ALLOWED = {("training/sweep_summary.py", "keyphrase_tagger.cli.common")}


def _rank(stage: str) -> int | None:
    for i, entry in enumerate(LINE):
        if stage == entry or (isinstance(entry, tuple) and stage in entry):
            return i
    return None


def test_the_stages_of_the_line_import_only_the_stages_before_them():
    backward = []
    for name, tree, _ in modules():
        rank = _rank(name.split("/")[0].removesuffix(".py"))
        if rank is None:
            continue
        for module in imported_modules(tree):
            if not module.startswith("keyphrase_tagger.") or (name, module) in ALLOWED:
                continue
            target = module.split(".")[1]
            target_rank = _rank(target)
            if target in GROUND or target == name.split("/")[0].removesuffix(".py"):
                continue
            if target_rank is None or target_rank > rank or (target_rank == rank and target != name.split("/")[0]):
                backward.append(f"{name} imports {module}")
    assert backward == []
