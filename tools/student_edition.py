"""The student edition: nbgrader's release of every notebook, checked for leaks (no solution, no hidden test)."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat

from .course_folder import make_course
from .errors import GradingError
from .notebooks import course_notebooks

SOLUTION_TAG, ANSWER_TAG = "solution", "answer"
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def student_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The released notebook as students get it: no execution metadata, `solution` tags renamed `answer`."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        tags = cell.metadata.get("tags")
        if tags and SOLUTION_TAG in tags:
            cell.metadata["tags"] = [ANSWER_TAG if t == SOLUTION_TAG else t for t in tags]
    nb.metadata.pop("widgets", None)
    return nb


def split_lines(nb: nbformat.NotebookNode) -> tuple[set[str], set[str]]:
    """(lines inside solution and hidden-test regions, lines elsewhere) of a notebook, stripped."""
    secret: set[str] = set()
    public: set[str] = set()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "markdown" and "BEGIN SOLUTION" not in cell.source:
            secret.update(line.strip() for line in cell.source.splitlines())  # a whole markdown answer
            continue
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END SOLUTION" in line or "END HIDDEN TESTS" in line:
                inside = False
            else:
                (secret if inside else public).add(line.strip())
    return secret, public


def secret_lines(instructor_nb: nbformat.NotebookNode) -> set[str]:
    """The lines only the solutions and hidden tests of a notebook hold, long enough to tell (12 characters or more)."""
    secret, public = split_lines(instructor_nb)
    return {line for line in secret - public if len(line) >= 12 and not line.startswith("#")}


def leaks(instructor_nb: nbformat.NotebookNode, student_nb: nbformat.NotebookNode) -> list[str]:
    """Lines only the solutions and hidden tests of `instructor_nb` hold that `student_nb` still shows, and markers."""
    secret = secret_lines(instructor_nb)
    shown = {line.strip() for cell in student_nb.cells for line in cell.source.splitlines()}
    found = sorted(secret & shown)
    return found + [m for m in MARKERS if any(m in cell.source for cell in student_nb.cells)]


def build_student(nb_dir: Path, out: Path, course: Path | None = None) -> list[Path]:
    """`nbgrader generate_assignment` of every course notebook; the releases, checked for leaks, copied into `out`."""
    notebooks = course_notebooks(nb_dir)
    if not notebooks:
        raise GradingError(f"no notebooks in {nb_dir}")
    out = Path(out)
    course = make_course(notebooks, Path(course) if course else out.parent / "nbgrader")
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.ipynb"):
        stale.unlink()
    written = []
    for path in notebooks:
        released = nbformat.read(course / "release" / path.stem / path.name, as_version=4)
        found = leaks(nbformat.read(path, as_version=4), released)
        if found:
            raise GradingError(f"the student edition of {path.name} still shows: {found[:3]}")
        nb = student_notebook(released)
        nbformat.validate(nb)
        nbformat.write(nb, out / path.name)
        written.append(out / path.name)
    return written
