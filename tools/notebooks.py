"""The course's notebooks as the tools see them: which ones, in what order, their titles, their display form."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from course_utils.course import COURSE_TOML, course_map, notebook_paths

NBVAL_MARKER = re.compile(r"^[ \t]*# ?NBVAL_[A-Z_]+[ \t]*\n?", re.MULTILINE)


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


def without_test_markers(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop the ``# NBVAL_CHECK_OUTPUT``-style lines (test plumbing) from code cells, for display."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = NBVAL_MARKER.sub("", cell.source)
    return nb
