"""The feedback a student gets back: feedback/<student>/index.html (from a template) beside nbgrader's pages."""

from __future__ import annotations

from pathlib import Path

from course_utils.files import write_bytes, write_text

from .outcomes import Result
from .templates import render


def student_page(student: str, rows: list[Result], links: list[str]) -> str:
    """The index page: points per exercise with the reasons, and a link to nbgrader's feedback per notebook."""
    total, most = sum(r.points for r in rows), sum(r.max for r in rows)
    return render("feedback_index.html.j2", student=student, total=total, most=most, rows=rows, links=links)


def write_student_page(folder: Path, student: str, rows: list[Result], links: list[str]) -> Path:
    """feedback/<student>/index.html, written whole."""
    return write_text(folder / "index.html", student_page(student, rows, links))


def write_notebook_feedback(folder: Path, aid: str, html: bytes) -> str:
    """nbgrader's feedback page of one notebook as folder/<aid>.html; the name the index links to."""
    write_bytes(folder / f"{aid}.html", html)
    return f"{aid}.html"
