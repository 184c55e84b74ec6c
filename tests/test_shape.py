"""The codebase keeps its shape: short modules named by concern, short functions (complexity is ruff's C901)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from course_utils.env import REPO_ROOT as ROOT

MAX_MODULE_LINES, MAX_FUNCTION_LINES = 300, 60
SOURCES = sorted(
    p for folder in ("course_utils", "tools") for p in (ROOT / folder).rglob("*.py") if "node_modules" not in p.parts
)


def functions(tree: ast.AST):
    """Every function and method in a module's syntax tree."""
    return [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_module_and_its_functions_are_short(path: Path):
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path.name}: split it by concern"
    long = [
        f"{f.name} ({f.end_lineno - f.lineno + 1} lines)"
        for f in functions(ast.parse(text))
        if f.end_lineno - f.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_shape_test_reads_both_packages():
    folders = {p.relative_to(ROOT).parts[0] for p in SOURCES}
    assert folders == {"course_utils", "tools"}
