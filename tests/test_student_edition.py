"""The student edition (python -m tools.build student, nbgrader generate_assignment): no solution, no hidden test, no
output, the exercises' cells where students expect them. The edition checked is the session's build
(tests/conftest.py: instructor_builds), the one the website's and the decks' tests are built with."""

from __future__ import annotations

import nbformat
from conftest import INSTRUCTOR_NOTEBOOKS

from tools.notebooks import course_notebooks, find_notebooks
from tools.paths import NOTEBOOKS
from tools.student_edition import leaks


def test_student_edition(instructor_builds):
    """`make student` writes nbgrader's student edition of every notebook, without solutions or hidden tests
    (the test below checks it cell by cell)."""
    for src in find_notebooks(INSTRUCTOR_NOTEBOOKS):
        path = instructor_builds.folder / "student" / src.name
        assert path.is_file(), f"no student edition of {src.name}"
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert leaks(nbformat.read(src, as_version=4), nb) == [], src.name
        assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code"), f"{src.name}: outputs left"


def test_student_edition_holds_no_solution_and_no_hidden_test(instructor_builds):
    written = instructor_builds.student
    assert [p.name for p in written] == [p.name for p in course_notebooks(INSTRUCTOR_NOTEBOOKS)]
    for path in written:
        student = nbformat.read(path, as_version=4)
        source = nbformat.read(INSTRUCTOR_NOTEBOOKS / path.name, as_version=4)
        assert leaks(source, student) == [], path.name
        assert len(student.cells) == len(source.cells), path.name
        for cell, orig in zip(student.cells, source.cells, strict=True):
            meta = orig.metadata.get("nbgrader", {})
            if cell.cell_type == "code":
                assert cell.outputs == []
                assert cell.execution_count is None
            if meta.get("solution"):
                assert "YOUR CODE HERE" in cell.source or cell.source == "YOUR ANSWER HERE", path.name
                assert "answer" in cell.metadata.get("tags", [])
            elif meta.get("grade"):
                assert cell.metadata.get("editable") is False  # a check cell is read-only
                assert "HIDDEN" not in cell.source
            else:
                assert cell.source == orig.source, f"{path.name}: a cell outside the exercises changed"
            assert cell.metadata.get("tags", []).count("hint") == orig.metadata.get("tags", []).count("hint")


def test_every_exercise_has_a_hint_an_answer_in_words_and_a_check():
    for path in course_notebooks(NOTEBOOKS)[1:]:
        cells = nbformat.read(path, as_version=4).cells
        start = next(i for i, c in enumerate(cells) if c.source.startswith("## Exercises"))
        kinds = []
        for cell in cells[start + 1 :]:
            meta, tags = cell.metadata.get("nbgrader", {}), cell.metadata.get("tags", [])
            if "hint" in tags:
                kinds.append("hint")
            elif meta.get("solution"):
                kinds.append("code" if cell.cell_type == "code" else "words")
            elif meta.get("grade"):
                kinds.append("check")
            else:
                kinds.append("task")
        assert kinds == ["task", "hint", "code", "words", "check"] * 3, f"{path.name}: {kinds}"
