"""Exercise checks against shortcuts (issues 21, 22): run a few cells of a lesson in this process, then an answer and
the exercise's check cell, and say whether the check held. A test per shortcut asserts the check refuses it and holds
for the notebook's own solution. Cells are named by their ids; IPython magics (`%...`, `!...`) are left out."""

from __future__ import annotations

import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from course_utils.checks import CheckFailed

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def cells_by_id(notebook: str) -> dict[str, str]:
    """Every code cell of a notebook in notebooks/, its id to its source."""
    cells = json.loads((NOTEBOOKS / notebook).read_text(encoding="utf-8"))["cells"]
    return {c["id"]: "".join(c["source"]) for c in cells if c["cell_type"] == "code"}


def plain_python(source: str) -> str:
    """A cell's source without IPython's magics and shell lines."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def lesson(notebook: str, *cell_ids: str) -> dict:
    """A namespace after running the named cells of a notebook in order, in the quick profile."""
    os.environ.setdefault("COURSE_QUICK", "1")
    os.environ.setdefault("COURSE_BATCH", "1")
    sources = cells_by_id(notebook)
    namespace: dict = {"__name__": "__main__"}
    for cell_id in cell_ids:
        exec(compile(plain_python(sources[cell_id]), f"{notebook}[{cell_id}]", "exec"), namespace)
    return namespace


def verdict(namespace: dict, answer: str, notebook: str, check_id: str) -> str | None:
    """Run `answer` then the check cell in a copy of `namespace`: None when the check holds, else what it says."""
    scope = dict(namespace)
    exec(compile(answer, f"{notebook}[answer]", "exec"), scope)
    try:
        exec(compile(plain_python(cells_by_id(notebook)[check_id]), f"{notebook}[{check_id}]", "exec"), scope)
    except CheckFailed as failed:
        return str(failed) or "the check failed"
    except AssertionError as failed:  # a hidden test's plain assert
        return str(failed) or "a hidden test failed"
    return None


def solution(notebook: str, answer_id: str) -> str:
    """The notebook's own answer cell, markers and all (they are comments)."""
    return cells_by_id(notebook)[answer_id]
