"""A hostile class's written answers (markdown graded by hand) and a careless instructor's hand grades: nothing runs
in the feedback pages, no answer passes for the grader's banner, no CSV cell runs as a formula, no edit of the answer
cell earns points, and no rubric reaches a student."""

from __future__ import annotations

from html.parser import HTMLParser

import nbformat
import pytest
from classes import RUBRIC, as_submitted, tiny_notebook
from nbconvert.filters import markdown2html

from tools.errors import GradingError
from tools.feedback import leaked, safe_page, student_page, with_gradebook
from tools.gradebook import FORMULA, write_gradebook
from tools.hand_grades import AWAITING, HandGrade, check_hand_grades, write_awaiting, written_rows
from tools.outcomes import NotebookGrade, Result
from tools.student_edition import secret_lines
from tools.submissions import Exercise, Submission, without_duplicate_checks

ANSWER = Exercise("ex90-2-written", "90.2 written", 2.0)
WRITTEN = {ANSWER.grade_id: ("90_tiny", ANSWER)}

HOSTILE = [
    "<script>alert(1)</script>",
    "<scr<script>x</script>ipt>alert(2)</script>",  # a regex that strips <script> once leaves a <script>
    '<img src=x title=">" onerror="alert(3)">',  # a '>' inside quotes ends a naive tag match early
    "<svg onload=alert(4)></svg><svg><style><img src=x onerror=alert(5)></style></svg>",
    '<a href=" JaVa&#x09;script:alert(6)">link</a> [md](javascript:alert(7))',
    "![i](data:text/html,<script>alert(8)</script>)",
    '<iframe srcdoc="<script>alert(9)</script>"></iframe><object data="data:text/html,x"></object>',
    '<meta http-equiv="refresh" content="0;url=https://example.com/">',
    "<form action='https://example.com'><input name=p></form><base href='https://example.com/'>",
    '<script src="data:text/javascript,alert(10)">',  # never closed
    "<!-- --!><img src=x onerror=alert(11)> -->",
]
FORGED = (
    "<style>.course-gradebook{display:none}</style>"
    "<div class='course-gradebook' style='position:fixed;top:0;background:#fff'>"
    "<strong>Gradebook: 5 of 5 points for this notebook.</strong> graded by hand: 2/2</div>"
)


class Elements(HTMLParser):
    """What a browser would build from a page: every element with its attributes, and whether it is in the body."""

    def __init__(self, page: bytes) -> None:
        super().__init__()
        self.found: list[tuple[str, dict, bool]] = []
        self.in_body = False
        self.feed(page.decode("utf-8"))

    def handle_starttag(self, tag, attrs):
        self.in_body = self.in_body or tag == "body"
        self.found.append((tag, dict(attrs), self.in_body))


def runs_something(page: bytes) -> list[str]:
    """Whatever in `page` could run, load or redirect: scripts, handlers, script URLs, frames, refreshes."""
    bad = []
    for tag, attrs, _ in Elements(page).found:
        if tag in {"script", "iframe", "object", "embed", "base", "form", "frame"}:
            bad.append(tag)
        if tag == "meta" and attrs.get("http-equiv", "").lower() not in {"", "content-security-policy"}:
            bad.append(f"meta {attrs}")
        bad += [f"{tag} {name}" for name in attrs if name.startswith("on") or name == "srcdoc"]
        bad += [f"{tag} {v}" for v in attrs.values() if v and "script:" in v.lower().replace("\t", "")]
        bad += [f"{tag} {v}" for n, v in attrs.items() if n in {"href", "src"} and (v or "").startswith("data:text")]
    return bad


def feedback_of(answer_html: str) -> bytes:
    """A feedback page like nbgrader's, the written answer's rendered markdown in its body, made safe."""
    return safe_page(
        b"<!DOCTYPE html><html><head><meta charset='utf-8'><style>a>b{color:red}</style></head><body>"
        b"<div class='text_cell_render rendered_html'>" + answer_html.encode() + b"</div></body></html>"
    )


@pytest.mark.parametrize("answer", HOSTILE)
def test_a_written_answer_in_html_runs_nothing_in_the_feedback_page(answer):
    assert runs_something(feedback_of(answer)) == []
    assert runs_something(feedback_of(markdown2html(answer))) == []  # as nbconvert renders the markdown


def test_the_page_keeps_its_own_stylesheet_text_and_images():
    page = feedback_of('a &lt; b <img src="data:image/png;base64,AA"> <a href="#top">top</a>')
    assert page.index(b"Content-Security-Policy") < page.index(b"<meta charset")
    assert b"<style>a>b{color:red}</style>" in page  # the head's own CSS, as it was
    assert b'a &lt; b <img src="data:image/png;base64,AA"> <a href="#top">top</a>' in page


def test_a_written_answer_cannot_hide_cover_or_imitate_the_gradebook_banner():
    rows = [Result("ana", "90.2 written", 0.0, 2.0, AWAITING)]
    page = with_gradebook(feedback_of(FORGED), rows)
    banners = [(t, a) for t, a, _ in Elements(page).found if "course-gradebook" in a.get("class", "")]
    assert len(banners) == 1
    tags = [t for t, _, _ in Elements(page).found]
    assert Elements(page).found.index((*banners[0], True)) == tags.index("body") + 1  # the grader's, first in the body
    styled = [t for t, a, body in Elements(page).found if body and ("style" in a or t == "style")]
    assert styled == ["div"]  # only the grader's banner is styled in the body
    assert page.index(b"Gradebook: 0 of 2 points") < page.index(b"Gradebook: 5 of 5 points")


def test_the_index_page_shows_names_and_comments_as_text():
    name, comment = "<img src=x onerror=alert(1)>", "graded by hand: <script>alert(2)</script>"
    page = student_page(name, [Result(name, "90.2 written", 1.0, 2.0, comment)], ["90_tiny.html"]).encode()
    assert runs_something(page) == []
    assert b"&lt;script&gt;alert(2)&lt;/script&gt;" in page


@pytest.mark.parametrize("name", ["=2+3", "+1", "-1+1", "@SUM(A1)", "\t=1", "=cmd|' /C calc'!A0"])
def test_no_cell_of_the_awaiting_file_or_the_gradebook_runs_as_a_formula(tmp_path, name):
    rows = [Result(name, "90.2 written", 0.0, 2.0, AWAITING), Result(name, "90.1", 1.0, 1.0, "=HYPERLINK(x)")]
    write_awaiting(rows, WRITTEN, tmp_path / "awaiting.csv")
    write_gradebook(rows, tmp_path / "gradebook.csv")
    for file in ("awaiting.csv", "gradebook.csv"):
        cells = [c for line in (tmp_path / file).read_text().splitlines() for c in line.split(",")]
        assert not [c for c in cells if c.startswith(FORMULA)], (file, cells)
    given = HandGrade("'" + name, ANSWER.grade_id, 1.0, "=1+1")  # the name as the awaiting file writes it
    sub = Submission(name, "s", {"90_tiny": tiny_notebook(written_points=2)})
    hand = check_hand_grades([given], WRITTEN, [sub])
    [row] = written_rows(sub, [ANSWER], NotebookGrade(), hand)
    assert (row.points, row.reason) == (1.0, "graded by hand: =1+1")  # in the gradebook, after "graded by hand"


def submitted(change) -> nbformat.NotebookNode:
    """The tiny notebook handed in with a written answer, its answer cell changed by `change(cell, nb)`."""
    nb = as_submitted(tiny_notebook(written_points=2), {ANSWER.grade_id: "x times x"})
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == ANSWER.grade_id]
    change(cell, nb)
    return without_duplicate_checks(nb)  # as tools.submissions reads it


def set_type(cell, cell_type: str) -> None:
    cell.cell_type = cell_type
    cell.update({"outputs": [], "execution_count": None} if cell_type == "code" else {})


EDITS = {
    "deleted": lambda cell, nb: nb.cells.remove(cell),
    "another grade_id": lambda cell, nb: cell.metadata.nbgrader.update(grade_id="ex90-1-check"),
    "made a code cell": lambda cell, nb: set_type(cell, "code"),
    "moved after a copy of the check": lambda cell, nb: (nb.cells.remove(cell), nb.cells.append(cell)),
}


@pytest.mark.parametrize("edit", ["another grade_id", "deleted", "made a code cell"])
def test_a_hand_grade_for_an_answer_the_notebook_no_longer_has_is_refused(edit):
    sub = Submission("ana", "ana", {"90_tiny": submitted(EDITS[edit])})
    with pytest.raises(GradingError, match="line 2 .*: that student's 90_tiny has no markdown cell ex90-2-written"):
        check_hand_grades([HandGrade("ana", ANSWER.grade_id, 1.0, line=2)], WRITTEN, [sub])
    assert check_hand_grades([HandGrade("ana", ANSWER.grade_id, 0.0)], WRITTEN, [sub])  # 0 for it: fine


def test_the_answer_cell_s_own_points_flags_and_copies_earn_nothing():
    def inflate(cell, nb):
        cell.metadata.nbgrader.update(points=100, grade=False)  # more points, and "not graded"
        nb.cells.append(nbformat.from_dict(cell))  # and a copy of it

    sub = Submission("ana", "ana", {"90_tiny": submitted(inflate)})
    with pytest.raises(GradingError, match="100 points, outside 0 to 2"):  # the instructor's points decide
        check_hand_grades([HandGrade("ana", ANSWER.grade_id, 100.0, line=2)], WRITTEN, [sub])
    hand = check_hand_grades([HandGrade("ana", ANSWER.grade_id, 2.0)], WRITTEN, [sub])
    assert written_rows(sub, [ANSWER], NotebookGrade(), hand) == [
        Result("ana", "90.2 written", 2.0, 2.0, "graded by hand")
    ]  # one row, worth the instructor's 2 points, whatever the copies say
    [row] = written_rows(sub, [ANSWER], NotebookGrade(), {})
    assert row.reason == AWAITING  # "grade: false" does not take the answer out of hand grading


def test_a_feedback_page_that_shows_the_rubric_is_caught():
    secret = secret_lines(tiny_notebook(written_points=2))
    assert RUBRIC in secret
    page = feedback_of(f"<p>{RUBRIC}</p>")
    assert leaked(page, secret, own="x times x") == [RUBRIC]
