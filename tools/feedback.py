"""The feedback a student gets back: feedback/<student>/index.html (from a template) beside nbgrader's pages."""

from __future__ import annotations

import html
import re
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from traitlets import Bool

from course_utils.files import write_bytes, write_text

from .outcomes import Result
from .safe_html import rewritten
from .templates import render


def student_page(student: str, rows: list[Result], links: list[str]) -> str:
    """The index page: points per exercise with the reasons, and a link to nbgrader's feedback per notebook."""
    total, most = sum(r.points for r in rows), sum(r.max for r in rows)
    return render("feedback_index.html.j2", student=student, total=total, most=most, rows=rows, links=links)


def write_student_page(folder: Path, student: str, rows: list[Result], links: list[str]) -> Path:
    """feedback/<student>/index.html, written whole."""
    return write_text(folder / "index.html", student_page(student, rows, links))


def with_gradebook(page: bytes, rows: list[Result]) -> bytes:
    """nbgrader's page with the gradebook's points and reasons for it first in its body (the gradebook decides)."""
    reasons = "; ".join(dict.fromkeys(r.reason for r in rows if r.reason))
    banner = render(
        "feedback_banner.html.j2", total=sum(r.points for r in rows), most=sum(r.max for r in rows), reasons=reasons
    )
    return after_tag(page, b"body", banner.encode())


def write_notebook_feedback(folder: Path, aid: str, html: bytes) -> str:
    """nbgrader's feedback page of one notebook as folder/<aid>.html; the name the index links to."""
    write_bytes(folder / f"{aid}.html", html)
    return f"{aid}.html"


CSP = (
    "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'; "
    "img-src data:; font-src data:; form-action 'none'; base-uri 'none'\">"
)
TAG = re.compile(r"<[^>]*>")


def safe_page(page: bytes) -> bytes:
    """A feedback page that runs nothing and whose answers cannot pass for the grader's banner (tools.safe_html), with
    a Content-Security-Policy that runs no script and loads nothing, first in its head."""
    page = rewritten(page.decode("utf-8", errors="replace")).encode("utf-8")
    return after_tag(page, b"head", CSP.encode())


def after_tag(page: bytes, tag: bytes, markup: bytes) -> bytes:
    """`page` with `markup` right after its first opening `tag` (e.g. b"head")."""
    return re.sub(rb"<" + tag + rb"\b[^>]*>", lambda m: m.group() + markup, page, count=1, flags=re.IGNORECASE)


def page_text(page: bytes) -> str:
    """What a page shows as text: tags dropped, entities decoded."""
    return html.unescape(TAG.sub("", page.decode("utf-8", errors="replace")))


def leaked(page: bytes, secret: set[str], own: str) -> list[str]:
    """The secret lines (hidden tests, solutions) a page shows that are not in the student's own notebook `own`."""
    text = page_text(page)
    return sorted(line for line in secret if line in text and line not in own)


class OneLineErrors(Preprocessor):
    """In the feedback, a check cell's traceback (which quotes its hidden tests) becomes its one-line error."""

    enabled = Bool(True)  # nbconvert's preprocessors are off unless enabled

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        """Replace the traceback of each error a graded cell shows with `name: value`."""
        if cell.metadata.get("nbgrader", {}).get("grade"):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources
