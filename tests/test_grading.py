"""The grading of a class (python -m tools.grading grade, nbgrader).

Synthetic classes are graded, each by one run of the grader's command line, as `make grade` does, in a process of
its own that runs while the other tests do (tests/conftest.py: background): notebook 03 of the course in the quick
profile (a fully correct and a partly wrong submission), and a tiny exercise notebook (tests/classes.py) for the slow
and hostile cases (a crash, endless loops, edited, deleted and copy-pasted check cells, a submission that looks for
the hidden tests and the gradebook, one that writes outside its folder, files that are no notebook, links, names a
spreadsheet would run, one past the limit for a whole notebook). Every student's points in the gradebook are
asserted. The sandbox's own probes: tests/test_hostile_class.py. The student edition: tests/test_student_edition.py.
"""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from classes import (
    LOOKS_FOR_SECRETS,
    SANDBOX,
    as_submitted,
    graded,
    start_grading,
    tiny_class_folders,
    tiny_notebook,
    write,
    write_bad_files,
)
from conftest import Job, starts_in_background

from tools.paths import NOTEBOOKS
from tools.submissions import slug

NOTEBOOK_03 = NOTEBOOKS / "03_convolutions_lenet.ipynb"  # of the quickest in the quick profile


# ----------------------------------------------------------------------------------------
# The hostile class, on the tiny notebook
# ----------------------------------------------------------------------------------------


@starts_in_background("tiny_class")
def start_tiny_class(job: Job) -> None:
    """The tiny notebook's class, graded once while the other tests run."""
    source, subs, _, _ = tiny_class_folders(job.folder)
    name = "90_tiny.ipynb"
    write(subs / "alice", name, as_submitted(tiny_notebook()))
    write(subs / "bob", name, as_submitted(tiny_notebook("def double(x):\n    return x + x if x > 0 else 0")))
    write(subs / "carol", name, raw=b"%PDF-1.4 this is not a notebook")
    write(subs / "carl", name, raw=b"")
    write(subs / "dave", name, as_submitted(tiny_notebook("while True:\n    pass")))
    stubborn = (
        "import time\nwhile True:\n    try:\n        time.sleep(0.05)\n    except KeyboardInterrupt:\n        pass"
    )
    write(subs / "erin", name, as_submitted(tiny_notebook(stubborn)))
    edited = as_submitted(tiny_notebook("def double(x):\n    return 0"))
    edited.cells[4].source = "pass  # checked"
    write(subs / "frank", name, edited)
    deleted = as_submitted(tiny_notebook("def double(x):\n    return 0"))
    del deleted.cells[4]
    write(subs / "gina", name, deleted)
    escape = "open('../escaped.txt', 'w').write('x')\ndef square(x):\n    return x * x"
    write(subs / "hank", name, as_submitted(tiny_notebook(answer2=escape)))
    write(subs / "ivy", name, as_submitted(tiny_notebook(LOOKS_FOR_SECRETS)))
    write(subs / "jack", "Downloads/90_tiny (1).ipynb", as_submitted(tiny_notebook("raise RuntimeError('boom')")))
    write(subs / "jack", "notes.txt", raw=b"my notes")
    write_bad_files(subs, source / name)
    # On an idle 2-core machine dave takes about 3 s (a kernel, a 2 s cell, the rest) and erin 9 s (nbclient waits
    # twice the cell's limit, twice); the notebook limit is far from both even on a busy machine: that limit has a
    # test of its own below
    start_grading(job, source, timeout=2, notebook_timeout=60)


@pytest.fixture(scope="module")
def tiny_class(background) -> tuple[dict, Path, Path]:
    """The tiny notebook's class, graded: (gradebook, out folder, tmp root)."""
    return graded(background["tiny_class"])


EXPECTED_TINY = {
    "alice": (1, 2),  # correct
    "bob": (0, 2),  # passes the visible check of exercise 1, fails its hidden test
    "carol": (0, 0),  # not a notebook
    "carl": (0, 0),  # an empty file
    "dave": (0, 2),  # an endless loop in exercise 1: that cell is interrupted, exercise 2 still counts
    "erin": (0, 0),  # an endless loop that ignores interrupts: the notebook is stopped
    "frank": (0, 2),  # edited its check cell of exercise 1: graded with the released check
    "gina": (0, 2),  # deleted its check cell of exercise 1: put back
    "hank": (1, 0) if SANDBOX else (0, 0),  # tried to write outside its folder: the sandbox refuses, else it is seen
    "ivy": (0, 2),  # looked for the hidden tests and the gradebook: found nothing, so its answer is wrong
    "jack": (0, 2),  # exercise 1 raises; its file was in a subfolder with another name
    "Renée": (1, 2),  # a folder named in Latin-1
    "'=2+3": (1, 2),  # a folder named like a formula: the gradebook shows it as text
    "'=cmd|' -c calc'!A0": (1, 2),
    "kim": (1, 2),  # points "abc" in its check cell's metadata: reset
    "lee": (0, 0),  # JSON nested 100,000 deep: refused before parsing
    "max": (1, 2),  # a copy-pasted check cell: not a false zero
    "ned": (0, 0),  # a link to the instructor's notebook: refused
    "olga": (0, 0),  # an empty file of its own; a linked folder (a classmate's) is not read
    "pat": (1, 2),  # printed the hidden tests: its feedback page is withheld, its points stand
}


def test_every_student_of_the_tiny_class_gets_the_expected_points(tiny_class):
    book, _, _ = tiny_class
    got = {student: (book[student]["90.1"][0], book[student]["90.2"][0]) for student in book}
    assert got == EXPECTED_TINY, {s: [r for _, _, r in book[s].values()] for s in book}
    assert all(book[s]["90.1"][1] == 1 for s in book)
    assert all(book[s]["90.2"][1] == 2 for s in book)


def test_bad_submissions_get_a_reason(tiny_class):
    book, _, _ = tiny_class
    reasons = {student: " ".join(r for _, _, r in book[student].values()).strip() for student in book}
    assert "not a notebook" in reasons["carol"]
    assert "empty file" in reasons["carl"]
    assert "interrupted" in reasons["dave"]
    assert "did not stop when interrupted" in reasons["erin"]
    assert "edited" in reasons["frank"]
    assert "deleted" in reasons["gina"]
    if not SANDBOX:
        assert "wrote outside its own folder" in reasons["hank"]
        assert "escaped.txt" in reasons["hank"]
    assert "RuntimeError" in reasons["jack"] or "NameError" in reasons["jack"]
    assert "notes.txt" in reasons["jack"]  # named as ignored
    assert "points of ex90-1-check were changed" in reasons["kim"]
    assert "nested more than" in reasons["lee"]
    assert "edited" not in reasons["max"]
    assert "link" in reasons["ned"]
    assert "empty file" in reasons["olga"]
    assert "feedback page withheld" in reasons["pat"]
    for student in ("alice", "Renée", "'=2+3"):
        assert reasons[student] == "", student


def test_no_feedback_page_shows_a_hidden_test_or_runs_a_script(tiny_class):
    _, out, _ = tiny_class
    pages = list((out / "feedback").rglob("*.html"))
    assert len(pages) > 20
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "HIDDEN TESTS" not in text, page
        assert "double(-1.5)" not in text, page
        assert "Content-Security-Policy" in text, page
        assert "<script" not in text.lower(), page
        assert not re.search(r"<[^>]*\son[a-z]+\s*=", text, re.IGNORECASE), page  # no event-handler attribute
    assert not (out / "feedback" / "pat" / "90_tiny.html").exists()


def test_no_gradebook_cell_starts_like_a_formula(tiny_class):
    _, out, _ = tiny_class
    with (out / "gradebook.csv").open(newline="", encoding="utf-8") as file:
        cells = [cell for row in csv.reader(file) for cell in row]
    assert len(cells) > 50
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]


def test_feedback_for_every_student_and_nothing_left_behind(tiny_class):
    book, out, tmp_root = tiny_class
    for student in book:
        page = out / "feedback" / slug(student) / "index.html"
        assert page.is_file(), f"no feedback page for {student}"
    assert (out / "feedback" / "alice" / "90_tiny.html").is_file()  # nbgrader's own feedback of the notebook
    assert not list(out.glob(".gradebook*")), "a temporary gradebook was left behind"
    left = sorted(p.name for p in tmp_root.iterdir() if p.name != "escaped.txt")
    assert not left, f"grading left {left} in its temporary folder"


@starts_in_background("stopped_class")
def start_stopped_class(job: Job) -> None:
    """A class of one whose notebook runs past the limit for a whole notebook, graded while the other tests run."""
    source, subs, _, _ = tiny_class_folders(job.folder)
    write(subs / "fred", "90_tiny.ipynb", as_submitted(tiny_notebook(answer2="import time\ntime.sleep(120)")))
    start_grading(job, source, timeout=60, notebook_timeout=3)


@pytest.fixture
def stopped_class(background) -> tuple[dict, Path, Path]:
    """That class, graded: (gradebook, out folder, tmp root)."""
    return graded(background["stopped_class"])


def test_a_notebook_past_its_time_limit_is_stopped(stopped_class):
    """The limit for a whole notebook, reached long before the cell's own (60 s): the kernel is stopped, 0 points."""
    book, _, tmp_root = stopped_class
    assert [points for points, _, _ in book["fred"].values()] == [0, 0]  # exercise 1 was right, but nothing counts
    assert all("stopped after 3 s (the limit for one notebook)" in reason for _, _, reason in book["fred"].values())
    assert not list(tmp_root.iterdir()), "the stopped notebook left its sandbox behind"


# ----------------------------------------------------------------------------------------
# A real course notebook
# ----------------------------------------------------------------------------------------


def class_03_submissions(base: Path) -> tuple[Path, Path]:
    """Under `base`: source/ with notebook 03, and submissions/ with it handed in fully correct and partly wrong."""
    source, subs = base / "source", base / "submissions"
    source.mkdir()
    shutil.copy2(NOTEBOOK_03, source / NOTEBOOK_03.name)
    write(subs / "full", NOTEBOOK_03.name, as_submitted(nbformat.read(NOTEBOOK_03, as_version=4)))
    untrained = (  # a layer that never trains: the check's own start shows it
        "def learn_edge(start, steps=20, lr=0.03):\n"
        "    return nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False), [0.0] * steps\n"
        "edge_conv, edge_losses = learn_edge(None)"
    )
    partly = as_submitted(
        nbformat.read(NOTEBOOK_03, as_version=4),
        {"ex03-2-answer": untrained, "ex03-3-answer": "# YOUR CODE HERE\nraise NotImplementedError()"},
    )
    write(subs / "partly", NOTEBOOK_03.name, partly)
    return source, subs


@starts_in_background("class_03")
def start_class_03(job: Job) -> None:
    """Notebook 03's class graded in the quick profile while the other tests run."""
    source, _ = class_03_submissions(job.folder)
    (job.folder / "tmp").mkdir()
    start_grading(job, source, timeout=120, notebook_timeout=300)


@pytest.fixture(scope="module")
def class_03(background) -> dict:
    """The gradebook of notebook 03's class, once its grading has finished."""
    return graded(background["class_03"])[0]


def test_notebook_03_fully_correct_and_partly_wrong(class_03):
    book = class_03
    checks = {s: {e: p for e, (p, _, _) in book[s].items() if not e.endswith(" written")} for s in book}
    assert checks["full"] == {"03.1": 1, "03.2": 1, "03.3": 1}
    assert checks["partly"] == {"03.1": 1, "03.2": 0, "03.3": 0}
    written = [(p, r) for s in book for e, (p, _, r) in book[s].items() if e.endswith(" written")]
    assert all(w == (0, "awaiting a hand grade") for w in written), written  # the written answers wait for a hand
    assert book["partly"]["03.2"][2].startswith("✘ from start [0.4, 0.3] the first loss")  # the check's own line
    assert "NotImplementedError" in book["partly"]["03.3"][2] or "not defined" in book["partly"]["03.3"][2]


# ----------------------------------------------------------------------------------------
# Written answers, graded by hand
# ----------------------------------------------------------------------------------------

HAND_GRADES = "student,grade_id,points,comment\nalice,ex90-2-written,1.5,names itself; not the sign\n"


@starts_in_background("written_class")
def start_written_class(job: Job) -> None:
    """The tiny notebook with a written answer worth 2 points (its rubric in the instructor's notebook), graded with
    a hand-grades file that grades alice's answer and not bob's, while the other tests run."""
    source, subs, _, _ = tiny_class_folders(job.folder, written_points=2)
    name = "90_tiny.ipynb"
    for student in ("alice", "bob"):
        answer = {"ex90-2-written": f"{student}: x times x, the number multiplied by itself"}
        write(subs / student, name, as_submitted(tiny_notebook(written_points=2), answer))
    write(subs / "carol", name, raw=b"%PDF-1.4 this is not a notebook")
    (job.folder / "hand_grades.csv").write_text(HAND_GRADES, encoding="utf-8")
    start_grading(
        job, source, timeout=30, notebook_timeout=120, extra=("--hand-grades", str(job.folder / "hand_grades.csv"))
    )


@pytest.fixture(scope="module")
def written_class(background) -> tuple[dict, Path]:
    """That class, graded: (gradebook, out folder)."""
    book, out, _ = graded(background["written_class"])
    return book, out


def test_a_written_answer_counts_its_hand_grade_or_awaits_one(written_class):
    book, _ = written_class
    assert book["alice"]["90.2 written"] == (1.5, 2.0, "graded by hand: names itself; not the sign")
    assert book["bob"]["90.2 written"] == (0.0, 2.0, "awaiting a hand grade")
    assert book["carol"]["90.2 written"][:2] == (0.0, 2.0)
    assert "not a notebook" in book["carol"]["90.2 written"][2]
    assert {e: p for e, (p, _, _) in book["alice"].items()} == {"90.1": 1, "90.2": 2, "90.2 written": 1.5}


def test_the_answers_awaiting_a_hand_grade_are_listed_to_fill_in(written_class):
    _, out = written_class
    with (out / "awaiting_hand_grades.csv").open(newline="", encoding="utf-8") as file:
        assert list(csv.reader(file)) == [
            ["student", "grade_id", "points", "comment"],
            ["bob", "ex90-2-written", "", ""],
        ]


def test_hand_grades_reach_the_feedback_and_the_rubric_does_not(written_class):
    _, out = written_class
    index = (out / "feedback" / "alice" / "index.html").read_text(encoding="utf-8")
    assert "90.2 written" in index
    assert "names itself; not the sign" in index
    assert "awaiting a hand grade" in (out / "feedback" / "bob" / "index.html").read_text(encoding="utf-8")
    pages = list((out / "feedback").rglob("*.html"))
    assert len(pages) >= 4  # an index for each, nbgrader's page for alice and bob
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "Rubric" not in text, page
        assert "sign of x does not matter" not in text, page
