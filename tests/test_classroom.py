"""A class on one server (issue 26): the hub of classroom/ on loopback with an instructor and two students who are
system users; the student edition released through nbgrader's exchange, fetched, answered (one rightly, one wrongly)
through each student's own Jupyter server, submitted, collected, graded by the course's grader and handed back; the
students kept apart by Unix permissions; the shared data verified once and fetched by nobody.

Needs root (system users, runuser, a private mount namespace when the environment lives in root's home); elsewhere it
skips, except under COURSE_REQUIRE_SANDBOX=1 (CI), where it must run."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.cookiejar import CookieJar
from pathlib import Path

import nbformat
import pytest
from classes import SANDBOX, tiny_notebook

from course_utils.catalog import DATASETS
from course_utils.env import data_root, flag
from tools.classroom import DATA_FOLDER, shared_entries
from tools.gradebook import read_gradebook
from tools.paths import ROOT
from tools.submissions import exercises
from tools.waiting import wait_for

AID = "90_tiny"
WRONG = {"ex90-2-answer": "def square(x):\n    return 2 * x"}  # exercise 1 right, exercise 2 wrong


@pytest.fixture(scope="module")
def hub():
    """The hub running with three fresh system users (cu-<tag>-teach, -ann, -bob); everything removed afterwards."""
    from classroom import classroom_base, needs, start_hub, stop_hub, system_users

    if why := needs():
        if flag("COURSE_REQUIRE_SANDBOX"):
            pytest.fail(f"{why} (COURSE_REQUIRE_SANDBOX=1: the classroom test must run)")
        pytest.skip(why)
    tag = secrets.token_hex(3)
    names = [f"cu-{tag}-teach", f"cu-{tag}-ann", f"cu-{tag}-bob"]
    base = classroom_base()
    try:
        with system_users(base, names, f"cu-{tag}-class") as users:
            running = start_hub(base, users, f"cu-{tag}-class", data_root())
            running.homes = {name: base / "home" / name for name in names}
            try:
                yield running
            finally:
                stop_hub(running)
    finally:
        shutil.rmtree(base, ignore_errors=True)


STARTED = time.perf_counter()


def ok(result, what: str) -> str:
    """A user's command's output, or the test fails saying what it was."""
    print(f"{time.perf_counter() - STARTED:6.1f} s  {what}")
    assert result.returncode == 0, (
        f"{what} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout + result.stderr


def log_in(hub, user: str, password: str) -> int:
    """The status of logging in through the hub's login form (PAM): 302 on to the user's server, 403 refused."""
    jar = CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect())
    page = opener.open(hub.url + "/hub/login", timeout=30).read().decode()
    xsrf = re.search(r'name="_xsrf" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"username": user, "password": password, "_xsrf": xsrf}).encode()
    try:
        return opener.open(hub.url + "/hub/login", data=form, timeout=30).status
    except urllib.error.HTTPError as error:
        return error.code


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def spawn(hub, user: str) -> None:
    """Ask the hub to start `user`'s server (it starts in the background)."""
    status, body = hub.api("POST", f"/hub/api/users/{user}/server")
    assert status in (201, 202), f"the hub did not start {user}'s server ({status}): {body}\n{hub.log()}"


def ready(hub, user: str) -> bool:
    """Whether `user`'s server is up."""
    status, body = hub.api("GET", f"/hub/api/users/{user}")
    return status == 200 and bool(body.get("servers", {}).get("", {}).get("ready"))


def answer(hub, user: str, answers: dict[str, str] | None) -> Path:
    """The student's fetched notebook answered through their own server's REST API: the solutions of the instructor's
    notebook, with `answers` (by grade_id) in place of some. The file, as written by their server."""
    path = f"/user/{user}/api/contents/{AID}/{AID}.ipynb"
    status, model = hub.api("GET", path)
    assert status == 200, f"{user}'s server did not show the fetched notebook ({status}): {model}"
    solutions = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in tiny_notebook().cells}
    for cell in model["content"]["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if cell["metadata"].get("nbgrader", {}).get("solution") and cell["cell_type"] == "code":
            cell["source"] = (answers or {}).get(grade_id) or re.sub(
                r"### (BEGIN|END) SOLUTION\n?", "", solutions[grade_id]
            )
    status, body = hub.api("PUT", path, {"type": "notebook", "format": "json", "content": model["content"]})
    assert status == 200, f"{user}'s server did not save the answers ({status}): {body}"
    return hub.homes[user] / AID / f"{AID}.ipynb"


def release(hub, teacher: str) -> Path:
    """The instructor's notebook, its student edition made by tools.build and released by nbgrader: the course."""
    home = hub.homes[teacher]
    (home / "notebooks").mkdir()
    nbformat.write(tiny_notebook(), home / "notebooks" / f"{AID}.ipynb")
    os.chown(home / "notebooks", *owner(home))
    os.chown(home / "notebooks" / f"{AID}.ipynb", *owner(home))
    ok(
        hub.run_as(teacher, ["-m", "tools.grading", "--notebooks", "notebooks", "--build", "build", "student"]),
        "make student",
    )
    course = home / "build" / "nbgrader"
    ok(hub.run_as(teacher, ["-m", "nbgrader", "release_assignment", AID], cwd=course), "nbgrader release_assignment")
    return course


def owner(path: Path) -> tuple[int, int]:
    return path.stat().st_uid, path.stat().st_gid


def grade(hub, course: Path, teacher: str) -> Path:
    """The collected class graded as `make grade` does (sandbox, limits, gradebook), the grades the instructor's; its
    temporary folder its own (the grader flags files written outside the kernel's folder, and /tmp is everyone's)."""
    grades, tmp = course.parent / "grades", hub.base / "grading-tmp"
    tmp.mkdir()
    notebooks = course.parent.parent / "notebooks"
    args = [sys.executable, "-m", "tools.grading", "--notebooks", str(notebooks), "grade", str(course.parent / "class"),
            "--out", str(grades), "--timeout", "60", "--notebook-timeout", "120"]  # fmt: skip
    result = subprocess.run(args + ([] if SANDBOX else ["--no-sandbox"]), cwd=ROOT, capture_output=True, text=True,
                            timeout=300, check=False, env={**os.environ, "TMPDIR": str(tmp)})  # fmt: skip
    ok(result, "python -m tools.grading grade")
    for top, dirs, files in os.walk(grades):
        for name in [top, *(os.path.join(top, n) for n in dirs + files)]:
            os.chown(name, *owner(hub.homes[teacher]))
    return grades


def hand_in(hub, user: str, answers: dict[str, str] | None) -> None:
    """A student fetches the assignment, answers it in their own server, and submits it."""
    ok(hub.run_as(user, ["-m", "nbgrader", "fetch_assignment", AID]), f"{user}: nbgrader fetch_assignment")
    written = answer(hub, user, answers)
    assert owner(written) == owner(hub.homes[user]), "the student's server wrote as another user"
    ok(hub.run_as(user, ["-m", "nbgrader", "submit", AID]), f"{user}: nbgrader submit")


@pytest.fixture(scope="module")
def graded_class(hub) -> dict:
    """The round trip, once for the module: logins (PAM), a server per user, the student edition released, fetched,
    answered through each student's server (ann rightly, bob wrongly) and submitted, collected, graded by the course's
    grader, handed back and fetched. What each step gave, for the tests to judge."""
    teacher, ann, bob = hub.users
    done = {"logins": {user: log_in(hub, user, password) for user, password in hub.users.items()}}
    done["wrong password"] = log_in(hub, ann, hub.users[bob])
    with ThreadPoolExecutor(len(hub.users)) as pool:  # each server starts in seconds; all at once
        starting = [pool.submit(spawn, hub, user) for user in hub.users]
        course = release(hub, teacher)
        for future in starting:
            future.result()
    assert wait_for(lambda: all(ready(hub, u) for u in hub.users), 180, every_s=0.5), hub.log()
    done["formgrader"] = {user: hub.api("GET", f"/user/{user}/formgrader")[0] for user in hub.users}
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda pair: hand_in(hub, *pair), ((ann, None), (bob, WRONG))))
    ok(hub.run_as(teacher, ["-m", "nbgrader", "collect", AID], cwd=course), "nbgrader collect")
    exchange = ["-m", "tools.classroom_exchange"]
    class_folder = course.parent / "class"
    done["collected"] = ok(
        hub.run_as(teacher, [*exchange, "collected", str(course), AID, str(class_folder)]), "collected"
    )
    grades = grade(hub, course, teacher)
    done["handed back"] = ok(hub.run_as(teacher, [*exchange, "hand-back", str(course), AID, str(grades)]), "hand back")
    ok(hub.run_as(teacher, ["-m", "nbgrader", "release_feedback", AID], cwd=course), "nbgrader release_feedback")
    with ThreadPoolExecutor(2) as pool:
        fetched = pool.map(lambda user: hub.run_as(user, ["-m", "nbgrader", "fetch_feedback", AID]), (ann, bob))
    for user, result in zip((ann, bob), fetched, strict=True):
        ok(result, f"{user}: nbgrader fetch_feedback")
    done["pages"] = {user: list((hub.homes[user] / AID / "feedback").glob(f"*/{AID}.html")) for user in (ann, bob)}
    return done | {"course": course, "gradebook": read_gradebook(grades / "gradebook.csv")}


def test_system_users_log_in_and_get_their_own_server(hub, graded_class):
    """PAM lets each user in with their password only; students' servers have no formgrader, the instructor's has."""
    teacher, ann, bob = hub.users
    assert graded_class["logins"] == dict.fromkeys(hub.users, 302), hub.log()
    assert graded_class["wrong password"] == 403, "PAM let a student in with another's password"
    formgrader = graded_class["formgrader"]
    assert formgrader[ann] == formgrader[bob] == 404, f"students reach nbgrader's formgrader: {formgrader}"
    assert formgrader[teacher] != 404, f"the instructor has no formgrader: {formgrader}"


def test_a_class_round_trip(hub, graded_class):
    """Each student's points in the gradebook, and on the one feedback page they fetched, which is theirs."""
    _, ann, bob = hub.users
    assert graded_class["collected"].startswith("2 notebooks"), graded_class["collected"]
    assert graded_class["handed back"].startswith("2 feedback pages"), graded_class["handed back"]
    checks = exercises(graded_class["course"].parent.parent / "notebooks" / f"{AID}.ipynb")
    most = sum(e.points for e in checks)
    wrong = {"ex90-2-check"}  # the check WRONG's answer fails
    expected = {ann: most, bob: sum(e.points for e in checks if e.grade_id not in wrong)}
    book = graded_class["gradebook"]
    got = {student: sum(points for points, _, _ in rows.values()) for student, rows in book.items()}
    assert got == expected, f"gradebook {book}"
    for user, pages in graded_class["pages"].items():
        assert len(pages) == 1, f"{user} fetched {pages}"
        text = pages[0].read_text()
        assert f"Gradebook: {expected[user]:g} of {most:g} points" in text, text[:2000]
        others = [u for u in hub.users if u != user]
        assert not any(name in text for name in others), f"{user}'s feedback names a classmate"


PROBE = """import json, os, sys
tries = json.loads(sys.argv[1])
done = {}
for what, (how, path) in tries.items():
    try:
        if how == "read":
            open(path, "rb").read(1)
        elif how == "list":
            os.listdir(path)
        else:
            open(os.path.join(path, "written-by-a-student"), "w").close()
        done[what] = True
    except OSError:
        done[what] = False
print(json.dumps(done))
"""


def test_students_kept_apart(hub, graded_class):
    """A student tries to read a classmate's home and submission, the instructor's source and hidden tests, and to
    write the shared data: each one fails (and the classmate, the instructor, reach their own)."""
    teacher, ann, bob = hub.users
    source = hub.homes[teacher] / "build" / "nbgrader" / "source" / AID / f"{AID}.ipynb"
    inbound = hub.room.exchange / "pytorch-course" / "inbound"
    data = hub.room.data
    tries = {
        "a classmate's home": ("list", str(hub.homes[bob])),
        "a classmate's answers": ("read", str(hub.homes[bob] / AID / f"{AID}.ipynb")),
        "the class's submissions": ("list", str(inbound)),
        "the instructor's source, with its hidden tests": ("read", str(source)),
        "the instructor's gradebook": ("read", str(hub.homes[teacher] / "build" / "nbgrader" / "gradebook.db")),
        "the shared data": ("write", str(data / shared_entries(data)[0])),
        "the shared data's top": ("write", str(data)),
    }
    done = json.loads(ok(hub.run_as(ann, ["-c", PROBE, json.dumps(tries)]), "the probe").splitlines()[-1])
    assert not any(done.values()), f"a student could: {[what for what, did in done.items() if did]}"
    a_file = next(p for p in (data / shared_entries(data)[0]).rglob("*") if p.is_file())
    own = {"own home": ("list", str(hub.homes[ann])), "the shared data": ("list", str(data / shared_entries(data)[0])),
           "a file of it": ("read", str(a_file))}  # fmt: skip
    mine = json.loads(ok(hub.run_as(ann, ["-c", PROBE, json.dumps(own)]), "the probe").splitlines()[-1])
    assert all(mine.values()), f"a student could not reach {mine}"


def test_data_once(hub, graded_class):
    """Each student's data folder links the shared copy; their data fetch (what `make lab` runs) finds every dataset
    present and verified by the course's checksums, and writes nothing."""
    _, ann, _ = hub.users
    folder = hub.homes[ann] / DATA_FOLDER
    names = shared_entries(hub.room.data)
    assert names, f"no dataset in {hub.room.data}: make data first"
    assert sorted(p.name for p in folder.iterdir()) == names, "the hub did not link the shared data"
    before = sorted(os.listdir(folder))
    datasets = [ds.name for ds in DATASETS.values() if ds.folder.split("/")[0] in names]
    out = ok(hub.run_as(ann, ["-m", "course_utils.data", "fetch", *datasets], timeout=240), "data fetch")
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == len(datasets), out
    assert all("present and verified" in line for line in lines), out
    assert sorted(os.listdir(folder)) == before, "the fetch wrote into the student's data folder"
