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
