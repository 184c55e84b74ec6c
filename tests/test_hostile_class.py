"""The sandbox's probes (issue 24): a class on the tiny notebook whose students try to get out of bubblewrap, print
200 MB at once or 10 MB line by line, patch the check helpers or hide their errors, graded by the command line in the
background between two honest students, whose points must not change. Skipped where bwrap is not installed, except
in CI (COURSE_REQUIRE_SANDBOX=1)."""

from __future__ import annotations

from pathlib import Path

import pytest
from classes import SANDBOX, as_submitted, graded, start_grading, tiny_class_folders, tiny_notebook, write
from conftest import Job, starts_in_background

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


# Wrong answers behind check helpers made to agree with anything (issue 24): every check cell imports them again,
# and every hidden test is `assert max_error(...) < tol`
PATCHES_HELPERS = """import course_utils.checks as c
c.check = lambda *a, **k: None
c.defined = lambda *a, **k: True
c.max_error = lambda *a, **k: 0.0
def double(x):
    return 0"""
# Wrong answers behind a hook that clears each cell's outputs and tells the kernel's reply that nothing failed
HIDES_ERRORS = """from IPython.display import clear_output
def hide(result):
    clear_output()
    result.error_in_exec = None
get_ipython().events.register("post_run_cell", hide)
def double(x):
    return 0"""
WRONG_SQUARE = "def square(x):\n    return 0"


@starts_in_background("hostile_class")
def start_hostile_class(job: Job) -> None:
    """Students who try to get out of the sandbox, print 200 MB at once or 10 MB line by line (bubblewrap only), or
    patch the check helpers or hide their errors; the checks use course_utils.checks, as the course's do."""
    source, subs, _, _ = tiny_class_folders(job.folder, helpers=True)
    name = "90_tiny.ipynb"

    def hands_in(student: str, answer1: str | None = None, answer2: str | None = None) -> None:
        answers = {k: v for k, v in (("answer1", answer1), ("answer2", answer2)) if v is not None}
        write(subs / student, name, as_submitted(tiny_notebook(**answers, helpers=True)))

    hands_in("alice")
    hands_in("mallory", ESCAPES)
    hands_in("loud", answer2="print('x' * 200_000_000)\ndef square(x):\n    return x * x")
    chatty = "for i in range(50):\n    print('y' * 90_000, flush=True)\n"  # 4.5 MB, a message a line
    hands_in("chatty", answer2=chatty + "def square(x):\n    return x * x")
    hands_in("patcher", PATCHES_HELPERS, WRONG_SQUARE)
    hands_in("hooker", HIDES_ERRORS, WRONG_SQUARE)
    hands_in("zoe")
    # 30 s a cell: the check cells import torch, which on a busy CI machine has taken more than 5 s in a cold sandbox
    start_grading(job, source, timeout=30, notebook_timeout=120)


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
    expected = {"alice": (1, 2), "mallory": (1, 2), "loud": (0, 0), "chatty": (0, 0), "zoe": (1, 2)}
    assert got == {**expected, "patcher": (0, 0), "hooker": (0, 0)}, reasons
    assert "got out: []" in (out / "feedback" / "mallory" / "90_tiny.html").read_text(encoding="utf-8")
    assert "stopped" in reasons["loud"]
    assert "more than the" in reasons["chatty"]
    assert reasons["alice"].strip() == reasons["zoe"].strip() == ""  # graded before and after the others, unharmed
    assert all(page.stat().st_size < 5 * 2**20 for page in (out / "feedback").rglob("*.html"))


def test_no_points_behind_patched_helpers_or_hidden_errors(hostile_class):
    """The grader's own record and its integrity check, not what the kernel left in the notebook (issue 24)."""
    book, out, _ = hostile_class
    reasons = {student: " ".join(r for _, _, r in book[student].values()) for student in book}
    assert "needs review: course_utils.checks.check replaced" in reasons["patcher"]
    assert "course_utils.checks.max_error replaced" in reasons["patcher"]
    assert "needs review: event post_run_cell added" in reasons["hooker"]
    for student in ("patcher", "hooker"):  # nbgrader's own score on the page is not the grade: the banner says so
        page = (out / "feedback" / student / "90_tiny.html").read_text(encoding="utf-8")
        assert "Gradebook: 0 of 3 points for this notebook." in page
    assert "double(3) should be 6, yours is 0" in reasons["hooker"]  # the error as it arrived, cleared after


def test_nothing_a_kernel_started_outlives_its_notebook(hostile_class):
    import psutil

    left = [p.pid for p in psutil.process_iter(["cmdline"]) if "probe-daemon-h4" in (p.info["cmdline"] or [])]
    assert not left, f"processes a kernel started are still running: {left}"
