"""The grading of a class (python -m tools.grading grade, nbgrader).

Synthetic classes are graded, each by one run of the grader's command line, as `make grade` does, in a process of
its own that runs while the other tests do (tests/conftest.py: background): notebook 03 of the course in the quick
profile (a fully correct and a partly wrong submission), and a tiny exercise notebook made here for the slow and
hostile cases (a crash, endless loops, edited and deleted check cells, a submission that looks for the hidden tests
and the gradebook, one that writes outside its folder, files that are no notebook, one past the limit for a whole
notebook). Every student's points in the gradebook are asserted. The student edition: tests/test_student_edition.py.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from conftest import Job, finished, starts_in_background
from nbformat import v4

from course_utils.env import flag
from tools.gradebook import read_gradebook
from tools.paths import NOTEBOOKS
from tools.submissions import slug

NOTEBOOK_03 = NOTEBOOKS / "03_convolutions_lenet.ipynb"  # of the quickest in the quick profile


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


SANDBOX = shutil.which("bwrap") is not None or flag("COURSE_REQUIRE_SANDBOX")  # CI installs bubblewrap and needs it


def start_grading(job: Job, source: Path, timeout: int, notebook_timeout: int) -> None:
    """`python -m tools.grading grade` of job.folder/submissions into job.folder/grades, as `make grade` runs it, with
    job.folder/tmp as its temporary folder: not the machine's /tmp, where what other programs write is not its doing.
    Each kernel runs in bubblewrap's sandbox; on a machine without bwrap (and not CI), with --no-sandbox."""
    args = ["-m", "tools.grading", "--notebooks", str(source), "grade", str(job.folder / "submissions")]
    args += ["--out", str(job.folder / "grades"), "--timeout", str(timeout)]
    args += ["--notebook-timeout", str(notebook_timeout)] + ([] if SANDBOX else ["--no-sandbox"])
    job.start("grading", args, env={"TMPDIR": str(job.folder / "tmp")})


def graded(job: Job) -> tuple[dict, Path, Path]:
    """Once the job's grading is done: (its gradebook, its grades folder, its temporary folder)."""
    folder = finished(job)
    return read_gradebook(folder / "grades" / "gradebook.csv"), folder / "grades", folder / "tmp"


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


LEAKS_HIDDEN_TESTS = 'print([s for s in get_ipython().user_ns["In"] if "HIDDEN TESTS" in s])'
DEEP = b'{"cells": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"  # 200 kB that json.loads would recurse into


def write_bad_files(subs: Path, source: Path) -> None:
    """Files that once stopped the whole class (issue 24), each beside honest answers: a name in Latin-1 as a Windows
    zip leaves it, names a spreadsheet would run as formulas, points that are no number, JSON nested 100,000 deep, a
    copy-pasted check cell, links to the instructor's notebook, and a last cell printing the hidden tests."""
    name = "90_tiny.ipynb"
    latin1 = os.fsdecode(os.fsencode(subs) + b"/Ren\xe9e")
    write(Path(latin1), name, as_submitted(tiny_notebook()))
    write(subs / "=2+3", name, as_submitted(tiny_notebook()))
    write(subs / "=cmd|' -c calc'!A0", name, as_submitted(tiny_notebook()))
    not_points = as_submitted(tiny_notebook())
    not_points.cells[4].metadata.nbgrader["points"] = "abc"
    write(subs / "kim", name, not_points)
    write(subs / "lee", name, raw=DEEP)
    pasted = as_submitted(tiny_notebook())
    pasted.cells.append(nbformat.from_dict(pasted.cells[4]))
    write(subs / "max", name, pasted)
    (subs / "ned").mkdir()
    (subs / "ned" / name).symlink_to(source)
    (subs / "olga" / "work").mkdir(parents=True)
    (subs / "olga" / "work" / name).write_bytes(b"")
    (subs / "olga" / "in").symlink_to(subs / "alice", target_is_directory=True)
    leaky = as_submitted(tiny_notebook())
    leaky.cells.append(v4.new_code_cell(LEAKS_HIDDEN_TESTS))
    write(subs / "pat", name, leaky)


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


# Each line tries one way out of the sandbox and says whether it got out; nothing may. The answer is right only when
# no attempt succeeded, so the student's points say it too.
ESCAPES = """import os, signal, socket, subprocess, sys
from pathlib import Path
import course_utils
package = Path(course_utils.__file__).resolve().parent
got_out = []
def attempt(name, how):
    try:
        how()
        got_out.append(name)
    except Exception:
        pass
def count_processes():
    if len([p for p in os.listdir("/proc") if p.isdigit()]) < 10:
        raise OSError("only its own")
attempt("signalled the grader", lambda: os.kill(os.getppid(), signal.SIGTERM))
attempt("wrote into course_utils", lambda: (package / "marker.txt").write_text("x"))
attempt("wrote into the repository", lambda: (package.parent / "marker.txt").write_text("x"))
attempt("read the notebooks", lambda: os.listdir(package.parent / "notebooks"))
attempt("reached the network", lambda: socket.create_connection(("1.1.1.1", 53), timeout=2))
attempt("allocated 8 GiB", lambda: bytearray(8 * 2**30))
attempt("saw other processes", count_processes)
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "probe-daemon-h4"], start_new_session=True)
print("got out:", got_out)
def double(x):
    return 0 if got_out else 2 * x"""


@starts_in_background("hostile_class")
def start_hostile_class(job: Job) -> None:
    """Students who try to get out of the sandbox, print 200 MB at once or 10 MB line by line (bubblewrap only)."""
    source, subs, _, _ = tiny_class_folders(job.folder)
    name = "90_tiny.ipynb"
    write(subs / "alice", name, as_submitted(tiny_notebook()))
    write(subs / "mallory", name, as_submitted(tiny_notebook(ESCAPES)))
    loud = "print('x' * 200_000_000)\ndef square(x):\n    return x * x"
    write(subs / "loud", name, as_submitted(tiny_notebook(answer2=loud)))
    chatty = "for i in range(100_000):\n    print('y' * 100)\ndef square(x):\n    return x * x"
    write(subs / "chatty", name, as_submitted(tiny_notebook(answer2=chatty)))
    write(subs / "zoe", name, as_submitted(tiny_notebook()))
    start_grading(job, source, timeout=5, notebook_timeout=60)


@pytest.fixture(scope="module")
def hostile_class(background) -> tuple[dict, Path, Path]:
    """That class, graded: (gradebook, out folder, tmp root)."""
    if not SANDBOX:
        pytest.skip("bubblewrap (bwrap) is not installed: the sandbox's probes need it (CI installs it)")
    return graded(background["hostile_class"])


def test_nothing_gets_out_of_the_sandbox(hostile_class):
    book, out, _ = hostile_class
    got = {student: (book[student]["90.1"][0], book[student]["90.2"][0]) for student in book}
    reasons = {student: " ".join(r for _, _, r in book[student].values()) for student in book}
    assert got == {"alice": (1, 2), "mallory": (1, 2), "loud": (0, 0), "chatty": (0, 0), "zoe": (1, 2)}, reasons
    assert "got out: []" in (out / "feedback" / "mallory" / "90_tiny.html").read_text(encoding="utf-8")
    assert "stopped" in reasons["loud"]
    assert "more than the" in reasons["chatty"]
    assert reasons["alice"].strip() == reasons["zoe"].strip() == ""  # graded before and after the others, unharmed
    assert all(page.stat().st_size < 5 * 2**20 for page in (out / "feedback").rglob("*.html"))


def test_nothing_a_kernel_started_outlives_its_notebook(hostile_class):
    import psutil

    left = [p.pid for p in psutil.process_iter(["cmdline"]) if "probe-daemon-h4" in (p.info["cmdline"] or [])]
    assert not left, f"processes a kernel started are still running: {left}"


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
    untrained = "torch.manual_seed(0)\nedge_conv = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)"
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
    assert {e: p for e, (p, _, _) in book["full"].items()} == {"03.1": 1, "03.2": 1, "03.3": 1}
    assert {e: p for e, (p, _, _) in book["partly"].items()} == {"03.1": 1, "03.2": 0, "03.3": 0}
    assert book["partly"]["03.2"][2].startswith("✘ the learned kernel")  # the check's own one-line message
    assert "NotImplementedError" in book["partly"]["03.3"][2] or "not defined" in book["partly"]["03.3"][2]
