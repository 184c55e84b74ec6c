"""The student edition and the grading of a class (tools/grading.py, nbgrader).

Two synthetic classes are graded, each by one call of the grader (as `make grade` does): notebook 03 of the course
in the quick profile (a fully correct and a partly wrong submission), and a tiny exercise notebook made here for the
slow and hostile cases (a crash, endless loops, edited and deleted check cells, a submission that looks for the
hidden tests and the gradebook, one that writes outside its folder, files that are no notebook). Every student's
points in the gradebook are asserted.
"""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import load_tool
from nbformat import v4

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_03 = ROOT / "notebooks" / "03_convolutions_lenet.ipynb"  # of the quickest in the quick profile


grading = load_tool("grading")


# ----------------------------------------------------------------------------------------
# Making submissions
# ----------------------------------------------------------------------------------------


def nbgrader_meta(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    meta["task"] = False
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


CHECK = 'def check(ok, right, wrong):\n    assert ok, wrong\n    print("✔", right)'


def tiny_notebook(answer1: str = "def double(x):\n    return 2 * x", answer2: str = "def square(x):\n    return x * x"):
    """90_tiny: two exercises (1 and 2 points), each with a visible check and a hidden test; no torch: quick."""
    cells = [
        v4.new_markdown_cell("# 90 · A tiny exercise notebook"),
        v4.new_code_cell(CHECK),
        v4.new_markdown_cell("## Exercises\n\n### Exercise 1 · Double it"),
        v4.new_code_cell(
            f"### BEGIN SOLUTION\n{answer1}\n### END SOLUTION", metadata=nbgrader_meta("ex90-1-answer", solution=True)
        ),
        v4.new_code_cell(
            'check(double(3) == 6, "double(3) is 6", f"double(3) should be 6, yours is {double(3)}")\n'
            "### BEGIN HIDDEN TESTS\nassert double(-1.5) == -3.0\n### END HIDDEN TESTS",
            metadata=nbgrader_meta("ex90-1-check", grade=True, locked=True, points=1),
        ),
        v4.new_markdown_cell("### Exercise 2 · Square it"),
        v4.new_code_cell(
            f"### BEGIN SOLUTION\n{answer2}\n### END SOLUTION", metadata=nbgrader_meta("ex90-2-answer", solution=True)
        ),
        v4.new_markdown_cell(
            "Squaring multiplies a number by itself.",
            metadata=nbgrader_meta("ex90-2-written", grade=True, solution=True, points=0),
        ),
        v4.new_code_cell(
            'check(square(3) == 9, "square(3) is 9", f"square(3) should be 9, yours is {square(3)}")\n'
            "### BEGIN HIDDEN TESTS\nassert square(-2) == 4\n### END HIDDEN TESTS",
            metadata=nbgrader_meta("ex90-2-check", grade=True, locked=True, points=2),
        ),
    ]
    nb = v4.new_notebook(cells=cells)
    nb.metadata.kernelspec = {"display_name": "Python 3", "language": "python", "name": "python3"}
    return nb


HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", re.DOTALL)


def as_submitted(nb, answers: dict[str, str] | None = None):
    """What a student hands in: hidden tests gone (as in the student edition), outputs gone, `answers` by grade_id."""
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        cell.source = HIDDEN.sub("", cell.source)
        if answers and meta.get("grade_id") in answers:
            cell.source = answers[meta["grade_id"]]
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


# Looks for the grader's files from its working folder: the gradebook, the source notebooks with the solutions and
# hidden tests, the notebook being graded. If it found the solution it would copy it and get the points.
LOOKS_FOR_SECRETS = """import glob
patterns = ["../*/*/gradebook.db", "../*/*/source/*/*.ipynb", "../*/*/autograded/*/*/*.ipynb", "*.ipynb", "../*"]
found = [p for pattern in patterns for p in glob.glob(pattern)]
text = "".join(open(p, errors="ignore").read() for p in found if p.endswith((".ipynb", ".db")))
if "return 2 * x" in text:
    def double(x):
        return 2 * x
else:
    def double(x):
        return 6 if x == 3 else 0  # made to pass the visible check only"""


def write(folder: Path, name: str, nb=None, raw: bytes | None = None) -> None:
    (folder / name).parent.mkdir(parents=True, exist_ok=True)
    if raw is not None:
        (folder / name).write_bytes(raw)
    else:
        nbformat.write(nb, folder / name)


def read_gradebook(path: Path) -> dict[str, dict[str, tuple[float, float, str]]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    book: dict = {}
    for r in rows:
        book.setdefault(r["student"], {})[r["exercise"]] = (float(r["points"]), float(r["max"]), r["reason"])
    return book


# ----------------------------------------------------------------------------------------
# The hostile class, on the tiny notebook
# ----------------------------------------------------------------------------------------


def tiny_class_folders(base: Path) -> tuple[Path, Path, Path, Path]:
    """Under `base`: source/ with the tiny notebook, and where submissions, grades and temporary files go."""
    source, subs, out, tmp_root = base / "source", base / "submissions", base / "grades", base / "tmp"
    for folder in (source, tmp_root):
        folder.mkdir()
    nbformat.write(tiny_notebook(), source / "90_tiny.ipynb")
    return source, subs, out, tmp_root


@pytest.fixture(scope="module")
def tiny_class(tmp_path_factory):
    """Grade the tiny notebook's class once: (gradebook, out folder, tmp root)."""
    source, subs, out, tmp_root = tiny_class_folders(tmp_path_factory.mktemp("tiny_class"))
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
    # On an idle 2-core machine dave takes about 3 s (a kernel, a 2 s cell, the rest) and erin 9 s (nbclient waits
    # twice the cell's limit, twice); the notebook limit is far from both even on a busy machine: that limit has a
    # test of its own below
    grading.grade(subs, out, source, cell_timeout=2, notebook_timeout=60, tmp_root=tmp_root)
    return read_gradebook(out / "gradebook.csv"), out, tmp_root


EXPECTED_TINY = {
    "alice": (1, 2),  # correct
    "bob": (0, 2),  # passes the visible check of exercise 1, fails its hidden test
    "carol": (0, 0),  # not a notebook
    "carl": (0, 0),  # an empty file
    "dave": (0, 2),  # an endless loop in exercise 1: that cell is interrupted, exercise 2 still counts
    "erin": (0, 0),  # an endless loop that ignores interrupts: the notebook is stopped
    "frank": (0, 2),  # edited its check cell of exercise 1: graded with the released check
    "gina": (0, 2),  # deleted its check cell of exercise 1: put back
    "hank": (0, 0),  # wrote outside its folder
    "ivy": (0, 2),  # looked for the hidden tests and the gradebook: found nothing, so its answer is wrong
    "jack": (0, 2),  # exercise 1 raises; its file was in a subfolder with another name
}


def test_every_student_of_the_tiny_class_gets_the_expected_points(tiny_class):
    book, _, _ = tiny_class
    got = {student: (book[student]["90.1"][0], book[student]["90.2"][0]) for student in book}
    assert got == EXPECTED_TINY, {s: [r for _, _, r in book[s].values()] for s in book}
    assert all(book[s]["90.1"][1] == 1 and book[s]["90.2"][1] == 2 for s in book)


def test_bad_submissions_get_a_reason(tiny_class):
    book, _, _ = tiny_class
    reasons = {student: " ".join(r for _, _, r in book[student].values()).strip() for student in book}
    assert "not a notebook" in reasons["carol"]
    assert "empty file" in reasons["carl"]
    assert "interrupted" in reasons["dave"]
    assert "did not stop when interrupted" in reasons["erin"]
    assert "edited" in reasons["frank"]
    assert "deleted" in reasons["gina"]
    assert "wrote outside its own folder" in reasons["hank"] and "escaped.txt" in reasons["hank"]
    assert "RuntimeError" in reasons["jack"] or "NameError" in reasons["jack"]
    assert "notes.txt" in reasons["jack"]  # named as ignored
    assert reasons["alice"] == ""


def test_feedback_for_every_student_and_nothing_left_behind(tiny_class):
    book, out, tmp_root = tiny_class
    for student in book:
        page = out / "feedback" / student / "index.html"
        assert page.is_file(), f"no feedback page for {student}"
    assert (out / "feedback" / "alice" / "90_tiny.html").is_file()  # nbgrader's own feedback of the notebook
    assert not list(out.glob(".gradebook-*")), "a temporary gradebook was left behind"
    left = sorted(p.name for p in tmp_root.iterdir() if p.name != "escaped.txt")
    assert not left, f"grading left {left} in its temporary folder"


def test_a_notebook_past_its_time_limit_is_stopped(tmp_path):
    """The limit for a whole notebook, reached long before the cell's own (60 s): the kernel is stopped, 0 points."""
    source, subs, out, tmp_root = tiny_class_folders(tmp_path)
    write(subs / "fred", "90_tiny.ipynb", as_submitted(tiny_notebook(answer2="import time\ntime.sleep(120)")))
    grading.grade(subs, out, source, cell_timeout=60, notebook_timeout=3, tmp_root=tmp_root)
    book = read_gradebook(out / "gradebook.csv")
    assert [points for points, _, _ in book["fred"].values()] == [0, 0]  # exercise 1 was right, but nothing counts
    assert all("stopped after 3 s (the limit for one notebook)" in reason for _, _, reason in book["fred"].values())
    assert not list(tmp_root.iterdir()), "the stopped notebook left its sandbox behind"


# ----------------------------------------------------------------------------------------
# A real course notebook
# ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def class_03(tmp_path_factory):
    """Notebook 03 handed in fully correct (the instructor's solutions) and partly wrong; graded quick."""
    base = tmp_path_factory.mktemp("class_03")
    source, subs, out = base / "source", base / "submissions", base / "grades"
    source.mkdir()
    shutil.copy2(NOTEBOOK_03, source / NOTEBOOK_03.name)
    write(subs / "full", NOTEBOOK_03.name, as_submitted(nbformat.read(NOTEBOOK_03, as_version=4)))
    untrained = "torch.manual_seed(0)\nedge_conv = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)"
    partly = as_submitted(
        nbformat.read(NOTEBOOK_03, as_version=4),
        {"ex03-2-answer": untrained, "ex03-3-answer": "# YOUR CODE HERE\nraise NotImplementedError()"},
    )
    write(subs / "partly", NOTEBOOK_03.name, partly)
    grading.grade(subs, out, source, cell_timeout=120, notebook_timeout=300)
    return read_gradebook(out / "gradebook.csv")


def test_notebook_03_fully_correct_and_partly_wrong(class_03):
    book = class_03
    assert {e: p for e, (p, _, _) in book["full"].items()} == {"03.1": 1, "03.2": 1, "03.3": 1}
    assert {e: p for e, (p, _, _) in book["partly"].items()} == {"03.1": 1, "03.2": 0, "03.3": 0}
    assert book["partly"]["03.2"][2].startswith("✘ the learned kernel")  # the check's own one-line message
    assert "NotImplementedError" in book["partly"]["03.3"][2] or "not defined" in book["partly"]["03.3"][2]


# ----------------------------------------------------------------------------------------
# The student edition
# ----------------------------------------------------------------------------------------


def test_student_edition_holds_no_solution_and_no_hidden_test(tmp_path):
    out = tmp_path / "student"
    written = grading.build_student(ROOT / "notebooks", out, tmp_path / "nbgrader")
    assert [p.name for p in written] == [p.name for p in grading.course_notebooks(ROOT / "notebooks")]
    for path in written:
        student = nbformat.read(path, as_version=4)
        source = nbformat.read(ROOT / "notebooks" / path.name, as_version=4)
        assert grading.leaks(source, student) == [], path.name
        assert len(student.cells) == len(source.cells), path.name
        for cell, orig in zip(student.cells, source.cells, strict=True):
            meta = orig.metadata.get("nbgrader", {})
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
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
    for path in grading.course_notebooks(ROOT / "notebooks")[1:]:
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


# ----------------------------------------------------------------------------------------
# Pieces
# ----------------------------------------------------------------------------------------


def test_submitted_files_are_matched_to_notebooks():
    ids = ["01_layers_activations_losses", "02_data_init_schedules"]
    assert grading.match_assignment(Path("01_layers_activations_losses.ipynb"), ids) == ids[0]
    assert grading.match_assignment(Path("02_data_init_schedules (1).ipynb"), ids) == ids[1]
    assert grading.match_assignment(Path("02 my copy.ipynb"), ids) == ids[1]
    assert grading.match_assignment(Path("notes.ipynb"), ids) is None
    assert grading.slug("Ana María O'Neil") == "Ana_Mar_a_O_Neil"


def test_reading_a_submission(tmp_path):
    cases = {"empty.ipynb": b"", "binary.ipynb": b"\xff\xfe\x00", "text.ipynb": b"hello", "list.ipynb": b"[1, 2]"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        nb, why = grading.read_notebook(tmp_path / name)
        assert nb is None and why, name
    nbformat.write(tiny_notebook(), tmp_path / "ok.ipynb")
    nb, why = grading.read_notebook(tmp_path / "ok.ipynb")
    assert nb is not None and why is None


def test_the_gradebook_is_replaced_in_one_step(tmp_path):
    path = tmp_path / "gradebook.csv"
    path.write_text("old\n")
    rows = [grading.Result("ana", "01.1", 1.0, 1.0, ""), grading.Result("ben, jr", "01.1", 0.0, 1.0, "✘ no")]
    grading.write_csv_atomically(rows, path)
    assert read_gradebook(path) == {"ana": {"01.1": (1.0, 1.0, "")}, "ben, jr": {"01.1": (0.0, 1.0, "✘ no")}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gradebook.csv"]
