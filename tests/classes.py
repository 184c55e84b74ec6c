"""The synthetic classes that tests/test_grading.py and tests/test_hostile_class.py grade: the tiny exercise notebook,
submissions made from it, the hostile files of issue 24, and the grader's command line started in the background."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import nbformat
from conftest import Job, finished
from nbformat import v4

from course_utils.env import flag
from tools.gradebook import read_gradebook

# ----------------------------------------------------------------------------------------
# Making submissions
# ----------------------------------------------------------------------------------------


def nbgrader_meta(grade_id: str, *, grade=False, solution=False, locked=False, points=None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    meta["task"] = False
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


RUBRIC = "**Rubric (2 points).** One point for *itself*, one for saying that the sign of x does not matter."
CHECK = 'def check(ok, right, wrong):\n    assert ok, wrong\n    print("✔", right)'


def tiny_notebook(
    answer1: str = "def double(x):\n    return 2 * x",
    answer2: str = "def square(x):\n    return x * x",
    *,
    helpers=False,
    written_points=0,
):
    """90_tiny: two exercises (1 and 2 points), each with a visible check and a hidden test; no torch: quick. With
    `helpers`, the check cells import check and max_error from course_utils.checks, as the course's do, and their
    hidden tests use max_error (torch is imported then). Exercise 2's written answer has `written_points`: 0, or
    points graded by hand, with the instructor's rubric in its text (RUBRIC)."""
    uses = "from course_utils.checks import check, max_error\n" if helpers else ""
    hidden1 = "assert max_error(double(-1.5), -3.0) < 1e-9" if helpers else "assert double(-1.5) == -3.0"
    hidden2 = "assert max_error(square(-2), 4) < 1e-9" if helpers else "assert square(-2) == 4"
    cells = [
        v4.new_markdown_cell("# 90 · A tiny exercise notebook"),
        v4.new_code_cell(CHECK),
        v4.new_markdown_cell("## Exercises\n\n### Exercise 1 · Double it"),
        v4.new_code_cell(
            f"### BEGIN SOLUTION\n{answer1}\n### END SOLUTION", metadata=nbgrader_meta("ex90-1-answer", solution=True)
        ),
        v4.new_code_cell(
            f'{uses}check(double(3) == 6, "double(3) is 6", f"double(3) should be 6, yours is {{double(3)}}")\n'
            f"### BEGIN HIDDEN TESTS\n{hidden1}\n### END HIDDEN TESTS",
            metadata=nbgrader_meta("ex90-1-check", grade=True, locked=True, points=1),
        ),
        v4.new_markdown_cell("### Exercise 2 · Square it"),
        v4.new_code_cell(
            f"### BEGIN SOLUTION\n{answer2}\n### END SOLUTION", metadata=nbgrader_meta("ex90-2-answer", solution=True)
        ),
        v4.new_markdown_cell(
            "Squaring multiplies a number by itself." + (f"\n\n{RUBRIC}" if written_points else ""),
            metadata=nbgrader_meta("ex90-2-written", grade=True, solution=True, points=written_points),
        ),
        v4.new_code_cell(
            f'{uses}check(square(3) == 9, "square(3) is 9", f"square(3) should be 9, yours is {{square(3)}}")\n'
            f"### BEGIN HIDDEN TESTS\n{hidden2}\n### END HIDDEN TESTS",
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


def tiny_class_folders(base: Path, *, helpers=False, written_points=0) -> tuple[Path, Path, Path, Path]:
    """Under `base`: source/ with the tiny notebook (its checks on course_utils's `helpers` or not, its written answer
    worth `written_points`), and where submissions, grades and temporary files go."""
    source, subs, out, tmp_root = base / "source", base / "submissions", base / "grades", base / "tmp"
    for folder in (source, tmp_root):
        folder.mkdir()
    nbformat.write(tiny_notebook(helpers=helpers, written_points=written_points), source / "90_tiny.ipynb")
    return source, subs, out, tmp_root


SANDBOX = shutil.which("bwrap") is not None or flag("COURSE_REQUIRE_SANDBOX")  # CI installs bubblewrap and needs it


def start_grading(job: Job, source: Path, timeout: int, notebook_timeout: int, extra: tuple[str, ...] = ()) -> None:
    """`python -m tools.grading grade` of job.folder/submissions into job.folder/grades, as `make grade` runs it, with
    job.folder/tmp as its temporary folder: not the machine's /tmp, where what other programs write is not its doing.
    Each kernel runs in bubblewrap's sandbox; on a machine without bwrap (and not CI), with --no-sandbox. `extra`:
    more options of `grade` (--hand-grades FILE)."""
    args = ["-m", "tools.grading", "--notebooks", str(source), "grade", str(job.folder / "submissions")]
    args += ["--out", str(job.folder / "grades"), "--timeout", str(timeout)]
    args += ["--notebook-timeout", str(notebook_timeout)] + ([] if SANDBOX else ["--no-sandbox"]) + list(extra)
    job.start("grading", args, env={"TMPDIR": str(job.folder / "tmp")})


def graded(job: Job) -> tuple[dict, Path, Path]:
    """Once the job's grading is done: (its gradebook, its grades folder, its temporary folder)."""
    folder = finished(job)
    return read_gradebook(folder / "grades" / "gradebook.csv"), folder / "grades", folder / "tmp"


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
