"""The course's notebooks as the tools see them: which ones, in what order, their titles, their display form."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from course_utils.course import COURSE_TOML, course_map, notebook_paths

NBVAL_MARKER = re.compile(r"^[ \t]*# ?NBVAL_[A-Z_]+[ \t]*\n?", re.MULTILINE)
SOLUTION_MARKER = re.compile(r"^[ \t]*### (?:BEGIN|END) SOLUTION[ \t]*(?:\n|\Z)", re.MULTILINE)
# a hidden test is graders' business: its whole region goes, markers and code (to the cell's end if left open)
HIDDEN_TESTS = re.compile(
    r"^[ \t]*### BEGIN HIDDEN TESTS.*?(?:^[ \t]*### END HIDDEN TESTS[ \t]*(?:\n|\Z)|\Z)", re.MULTILINE | re.DOTALL
)

# the instructor's rubric of a written answer: from its "**Rubric (N points).**" paragraph to the cell's end
RUBRIC = re.compile(r"^[ \t]*\*\*Rubric\b.*", re.MULTILINE | re.DOTALL)


def find_notebooks(nb_dir: Path, course_toml: Path = COURSE_TOML) -> list[Path]:
    """The course's notebooks that exist in `nb_dir`, in course order (course.toml, read by course_utils.course)."""
    return [p for p in notebook_paths(nb_dir, course_toml) if p.is_file()]


def course_notebooks(nb_dir: Path) -> list[Path]:
    """The course's notebooks in nb_dir in course order (course.toml), or every NN_*.ipynb of another folder."""
    found = find_notebooks(nb_dir)
    return found + [p for p in sorted(Path(nb_dir).glob("[0-9][0-9]_*.ipynb")) if p not in found]


def course_entries(nb_dir: Path, course_toml: Path = COURSE_TOML) -> list[dict]:
    """course.toml's entries in course order, each with ``path`` (None for a notebook listed but not written yet)."""
    entries = [
        dict(e, path=p if p.is_file() else None)
        for e, p in zip(course_map(course_toml), notebook_paths(nb_dir, course_toml), strict=True)
    ]
    for e in entries:
        e.setdefault("title", notebook_title(e["path"]) if e["path"] else Path(e["file"]).stem)
        e.setdefault("teaches", "")
    return entries


def notebook_title(path: Path) -> str:
    """The text of the notebook's first `# ` heading, else its file name without .ipynb."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE)
            if m:
                return m.group(1).strip()
    return path.stem


def without_markers(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The cells as shown on the site and the decks: code without ``# NBVAL_CHECK_OUTPUT``-style lines (test
    plumbing), nbgrader's ``### BEGIN/END SOLUTION`` lines and hidden-test regions; written answers without the
    instructor's rubric."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            source = HIDDEN_TESTS.sub("", cell.source)
            cell.source = SOLUTION_MARKER.sub("", NBVAL_MARKER.sub("", source)).rstrip()
        elif cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = RUBRIC.sub("", cell.source).rstrip()
    return nb
