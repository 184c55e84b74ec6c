#!/usr/bin/env python3
"""The student edition and the grading of a class's notebooks, both with nbgrader (settings: nbgrader_config.py).

    python tools/grading.py student                     # _build/student/: nbgrader generate_assignment
    python tools/grading.py grade SUBMISSIONS           # _build/grades/gradebook.csv and feedback/<student>/

Each notebook of the course is one nbgrader assignment, made in a course folder (source/NN_name/NN_name.ipynb)
from notebooks/, the one source. Grading runs every submitted notebook on a copy: a fresh course folder per
notebook, the kernel in an empty sandbox folder (its HOME and TMPDIR too), one cell at most --timeout seconds and
the whole notebook at most --notebook-timeout. A file that is not a notebook, a crash, an endless loop or a
tampered check scores 0 with a reason; the other students are graded as if it were not there. Student code still
runs with the grader's rights: grade a real class as a separate user or in a container (README, "Grading").
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import html
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
CONFIG = TOOLS / "nbgrader_config.py"
DEFAULT_NOTEBOOKS = ROOT / "notebooks"
DEFAULT_BUILD = ROOT / "_build"
SOLUTION_TAG, ANSWER_TAG = "solution", "answer"
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
MAX_BYTES = 50 * 2**20  # a submitted notebook larger than this is not read
FIELDS = ["student", "exercise", "points", "max", "reason"]
INTERRUPTED = {"CellTimeoutError", "KeyboardInterrupt"}  # how nbgrader's Execute reports a cell it stopped


class GradingError(RuntimeError):
    """nbgrader could not build the course folder: what failed (main() turns it into a message and exit status)."""


# ----------------------------------------------------------------------------------------
# The course folder and the student edition
# ----------------------------------------------------------------------------------------


def course_notebooks(nb_dir: Path) -> list[Path]:
    """The course's notebooks in nb_dir in course order (course.toml), or every NN_*.ipynb of another folder."""
    from course_utils.course import notebook_paths

    found = [p for p in notebook_paths(nb_dir) if p.is_file()]
    return found + [p for p in sorted(Path(nb_dir).glob("[0-9][0-9]_*.ipynb")) if p not in found]


def nbgrader_api(course: Path, **overrides):
    """nbgrader's API on the course folder: its nbgrader_config.py, then `overrides` ({"Execute.timeout": 5})."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config, PyFileConfigLoader

    bin_dir = str(Path(sys.executable).parent)  # nbgrader runs `alembic` from PATH when it makes a gradebook
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    extra = Config()
    for key, value in overrides.items():
        section, name = key.split(".")
        extra[section][name] = value
    cfg.merge(extra)
    coursedir = CourseDirectory(config=cfg, root=str(course))
    return NbGraderAPI(coursedir=coursedir, config=cfg)


def make_course(notebooks: list[Path], course: Path) -> Path:
    """A fresh nbgrader course folder: the config, source/<id>/<id>.ipynb, and release/ made by generate_assignment."""
    course = Path(course)
    if course.exists():
        shutil.rmtree(course)
    course.mkdir(parents=True)
    shutil.copy2(CONFIG, course / "nbgrader_config.py")
    for path in notebooks:
        (course / "source" / path.stem).mkdir(parents=True)
        shutil.copy2(path, course / "source" / path.stem / path.name)
    api = nbgrader_api(course)
    for path in notebooks:
        result = api.generate_assignment(path.stem, force=True, create=True)
        if not result["success"]:
            raise GradingError(f"nbgrader generate_assignment {path.stem} failed:\n{result.get('log', '')[-3000:]}")
    return course


def student_notebook(nb):
    """The released notebook as students get it: no execution metadata, `solution` tags renamed `answer`."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        tags = cell.metadata.get("tags")
        if tags and SOLUTION_TAG in tags:
            cell.metadata["tags"] = [ANSWER_TAG if t == SOLUTION_TAG else t for t in tags]
    nb.metadata.pop("widgets", None)
    return nb


def split_lines(nb) -> tuple[set[str], set[str]]:
    """(lines inside solution and hidden-test regions, lines elsewhere) of a notebook, stripped."""
    secret: set[str] = set()
    public: set[str] = set()
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and cell.cell_type == "markdown" and "BEGIN SOLUTION" not in cell.source:
            secret.update(line.strip() for line in cell.source.splitlines())  # a whole markdown answer
            continue
        inside = False
        for line in cell.source.splitlines():
            if "BEGIN SOLUTION" in line or "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END SOLUTION" in line or "END HIDDEN TESTS" in line:
                inside = False
            else:
                (secret if inside else public).add(line.strip())
    return secret, public


def leaks(instructor_nb, student_nb) -> list[str]:
    """Lines only the solutions and hidden tests of `instructor_nb` hold that `student_nb` still shows, and markers."""
    secret, public = split_lines(instructor_nb)
    secret = {line for line in secret - public if len(line) >= 12 and not line.startswith("#")}
    shown = {line.strip() for cell in student_nb.cells for line in cell.source.splitlines()}
    found = sorted(secret & shown)
    return found + [m for m in MARKERS if any(m in cell.source for cell in student_nb.cells)]


def build_student(nb_dir: Path, out: Path, course: Path | None = None) -> list[Path]:
    """`nbgrader generate_assignment` of every course notebook; the releases, checked for leaks, copied into `out`."""
    notebooks = course_notebooks(nb_dir)
    if not notebooks:
        raise GradingError(f"no notebooks in {nb_dir}")
    out = Path(out)
    course = make_course(notebooks, Path(course) if course else out.parent / "nbgrader")
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.ipynb"):
        stale.unlink()
    written = []
    for path in notebooks:
        released = nbformat.read(course / "release" / path.stem / path.name, as_version=4)
        found = leaks(nbformat.read(path, as_version=4), released)
        if found:
            raise GradingError(f"the student edition of {path.name} still shows: {found[:3]}")
        nb = student_notebook(released)
        nbformat.validate(nb)
        nbformat.write(nb, out / path.name)
        written.append(out / path.name)
    return written


# ----------------------------------------------------------------------------------------
# Submissions
# ----------------------------------------------------------------------------------------


@dataclass
class Exercise:
    """One autograded check cell of a notebook: its grade_id, label (e.g. 01.2) and points."""

    grade_id: str
    label: str
    points: float


@dataclass
class Result:
    """What one student got for one exercise, and why."""

    student: str
    exercise: str
    points: float
    max: float
    reason: str = ""


@dataclass
class Submission:
    """A student's folder: notebooks read into memory by assignment, and files that could not be graded."""

    student: str
    slug: str
    notebooks: dict = field(default_factory=dict)  # assignment id -> notebook node
    problems: dict = field(default_factory=dict)  # assignment id -> why it was not graded
    ignored: list = field(default_factory=list)  # files that are no notebook of the course


def exercises(path: Path) -> list[Exercise]:
    """The autograded check cells of a source notebook, in order, labelled NN.k."""
    nb = nbformat.read(path, as_version=4)
    number = path.name[:2]
    found = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and float(meta.get("points", 0)) > 0:
            found.append(Exercise(meta["grade_id"], f"{number}.{len(found) + 1}", float(meta["points"])))
    return found


def slug(name: str) -> str:
    """A student id nbgrader and file systems accept: letters, digits, - and _ only."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "student"


def match_assignment(path: Path, ids: list[str]) -> str | None:
    """The assignment a submitted file belongs to: its exact name, else its leading two digits (NN_...)."""
    stem = path.stem.strip()
    if stem in ids:
        return stem
    m = re.match(r"(\d\d)(?:[_ .-]|$)", stem)
    if m:
        candidates = [i for i in ids if i.startswith(m.group(1) + "_")]
        if len(candidates) == 1:
            return candidates[0]
    return None


def read_notebook(path: Path):
    """(notebook, None) for a readable notebook, else (None, why not) in a few words."""
    try:
        size = path.stat().st_size
        if size == 0:
            return None, "empty file"
        if size > MAX_BYTES:
            return None, f"file of {size / 2**20:.0f} MB, more than a notebook should be"
        text = path.read_bytes().decode("utf-8")
        data = json.loads(text)
    except UnicodeDecodeError:
        return None, "not a notebook (not text)"
    except json.JSONDecodeError:
        return None, "not a notebook (not JSON)"
    except OSError as error:
        return None, f"could not be read ({error.strerror})"
    if not isinstance(data, dict) or "cells" not in data:
        return None, "not a notebook (JSON without cells)"
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # noqa: BLE001 - nbformat raises several kinds
        return None, f"not a valid notebook ({type(error).__name__})"
    return nb, None


def collect(submissions: Path, ids: list[str]) -> list[Submission]:
    """Every student folder in `submissions` (any depth below it), its notebooks read into memory now."""
    found, slugs = [], set()
    for folder in sorted(p for p in Path(submissions).iterdir() if p.is_dir() and not p.name.startswith(".")):
        sid = slug(folder.name)
        while sid in slugs:
            sid += "_"
        slugs.add(sid)
        sub = Submission(folder.name, sid)
        files = sorted(
            p
            for p in folder.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        )
        for path in files:
            aid = match_assignment(path, ids)
            rel = path.relative_to(folder).as_posix()
            if aid is None:
                sub.ignored.append(rel)
                continue
            if aid in sub.notebooks or aid in sub.problems:
                sub.ignored.append(f"{rel} (a second file for {aid})")
                continue
            nb, why = read_notebook(path)
            if nb is None:
                sub.problems[aid] = f"{rel}: {why}"
            else:
                sub.notebooks[aid] = nb
        found.append(sub)
    return found


# ----------------------------------------------------------------------------------------
# Grading one notebook (in a child process: python tools/grading.py _autograde ...)
# ----------------------------------------------------------------------------------------


def sandboxed_execute():
    """nbgrader's Execute with the kernel started in a sandbox folder and environment (class made on demand)."""
    from nbgrader.preprocessors import Execute
    from traitlets import Dict, List, Unicode

    class SandboxedExecute(Execute):
        """Runs the kernel in `sandbox`, with HOME, TMPDIR and caches inside it."""

        sandbox = Unicode("").tag(config=True)
        kernel_env = Dict({}).tag(config=True)
        secrets = List(Unicode()).tag(config=True)  # files and folders kept off the disk while student code runs

        def preprocess(self, nb, resources=None, km=None):
            meta = (resources or {}).get("metadata", {})
            this = Path(meta.get("path", ".")) / f"{meta.get('name', '')}.ipynb"  # holds the hidden tests now
            kept = off_disk([*map(Path, self.secrets), this])
            try:
                return super().preprocess(nb, resources, km)
            finally:
                back_on_disk(kept)

        def _sandboxed(self, kwargs: dict) -> dict:
            return {**kwargs, "cwd": self.sandbox, "env": {**os.environ, **self.kernel_env}}

        def start_new_kernel(self, **kwargs):  # nbclient binds the sync one to its own async one: override both
            return super().start_new_kernel(**self._sandboxed(kwargs))

        async def async_start_new_kernel(self, **kwargs):
            return await super().async_start_new_kernel(**self._sandboxed(kwargs))

    return SandboxedExecute


def off_disk(paths: list[Path]) -> dict[Path, bytes]:
    """Read the files at (or under) `paths` into memory and delete them; back_on_disk() writes them again."""
    kept = {}
    for path in paths:
        for p in [path] if path.is_file() else sorted(path.rglob("*")) if path.is_dir() else []:
            if p.is_file():
                kept[p] = p.read_bytes()
                p.unlink()
    return kept


def back_on_disk(kept: dict[Path, bytes]) -> None:
    for p, data in kept.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def kernel_env(sandbox: Path, quick: bool) -> dict:
    """The kernel's environment: home and temporary files in the sandbox; the course's data and weights as they are."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    torch_home = os.environ.get("TORCH_HOME") or Path(cache) / "torch"  # where torch.hub looks, without importing torch
    tmp = sandbox / ".tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(sandbox),
        "TMPDIR": str(tmp),
        "XDG_CACHE_HOME": str(sandbox / ".cache"),
        "XDG_CONFIG_HOME": str(sandbox / ".config"),
        "MPLCONFIGDIR": str(sandbox / ".matplotlib"),
        "IPYTHONDIR": str(sandbox / ".ipython"),
        "TORCH_HOME": str(torch_home),  # pretrained weights stay where they are
        "COURSE_QUICK": "1" if quick else "0",
        "COURSE_BATCH": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def autograde(course: Path, aid: str, sid: str, sandbox: Path, cell_timeout: int, quick: bool) -> tuple[bool, str]:
    """nbgrader autograde of one submitted notebook, then its HTML feedback: (whether it was graded, nbgrader's log)."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    execute = sandboxed_execute()
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    api = nbgrader_api(
        course,
        **{
            "Autograde.autograde_preprocessors": [execute if pp is Execute else pp for pp in default],
            "Execute.timeout": cell_timeout,
            "SandboxedExecute.sandbox": str(sandbox),
            "SandboxedExecute.kernel_env": kernel_env(sandbox, quick),
            "SandboxedExecute.secrets": [str(course / "gradebook.db"), str(course / "source")],
        },
    )
    with warnings.catch_warnings():
        # nbgrader's own noise, which says nothing to the instructor: SQLAlchemy's "not in session" when nbgrader
        # removes a submission it failed to grade, and nbformat's "missing an id" when it validates a notebook
        # between its preprocessors
        warnings.filterwarnings("ignore", r"Object of type <Submitted\w+> not in session", module="nbgrader")
        warnings.filterwarnings("ignore", "Cell is missing an id field", module="nbformat")
        result = api.autograde(aid, sid, force=True, create=True)
        log = result.get("log", "") + result.get("error", "")
        if result["success"]:
            feedback = api.generate_feedback(aid, sid, force=True)
            log += feedback.get("log", "") + feedback.get("error", "")
    return result["success"], log


# ----------------------------------------------------------------------------------------
# Watching for files written outside a submission's own folder
# ----------------------------------------------------------------------------------------


def snapshot(roots: list[tuple[Path, bool]], skip: tuple[Path, ...] = ()) -> dict:
    """Path -> (size, mtime) of the files under each (root, recursive), leaving out the folders in `skip`."""
    state = {}
    for root, recursive in roots:
        if not root.is_dir():
            continue
        for p in root.rglob("*") if recursive else root.iterdir():
            if any(p == s or s in p.parents for s in skip):
                continue
            try:
                st = p.lstat()
            except OSError:
                continue
            state[p] = None if p.is_dir() else (st.st_size, st.st_mtime_ns)  # a folder: whether it is there
    return state


def changed(before: dict, after: dict) -> list[str]:
    """Files created, changed or removed between two snapshots."""
    return sorted(str(p) for p in set(before) | set(after) if before.get(p) != after.get(p))


@contextlib.contextmanager
def temporary_files_in(folder: Path) -> Iterator[None]:
    """The grader's own temporary files (the kernel's connection file) in `folder`, not in the watched temp folder."""
    saved, tempfile.tempdir = tempfile.tempdir, str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = saved


class Watchdog:
    """Kills this process's children (the notebook's kernel) when a notebook runs past `seconds`."""

    def __init__(self, seconds: float):
        self.seconds, self.fired = seconds, False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        import psutil

        if self._done.wait(self.seconds):
            return
        self.fired = True
        for child in psutil.Process().children(recursive=True):
            try:
                child.kill()
            except psutil.Error:
                pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()


# ----------------------------------------------------------------------------------------
# Grading a class
# ----------------------------------------------------------------------------------------


def first_error(cell) -> str:
    """One line saying why a graded cell failed: the check's own message, or the error's name and value."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            value = re.sub(r"\x1b\[[0-9;]*m", "", str(out.get("evalue", ""))).strip()
            name = out.get("ename", "Error")
            if name == "CheckFailed":
                return f"✘ {value}"[:300]
            return f"{name}: {value}"[:300] if value else name
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            return "the check wrote to stderr: " + str(out.get("text", "")).strip()[:200]
    return "no output"


def tampering(submitted, released: dict[str, tuple[str, float]]) -> list[str]:
    """What a student changed in the check cells they were given: released = {grade_id: (source, points)}."""
    seen = {}
    for cell in submitted.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in released:
            seen[grade_id] = cell
    notes = []
    for grade_id, (source, points) in released.items():
        cell = seen.get(grade_id)
        if cell is None:
            notes.append(f"check cell {grade_id} was deleted: put back")
        elif cell.source.strip() != source.strip():
            notes.append(f"check cell {grade_id} was edited: graded as released")
        elif float(cell.metadata.nbgrader.get("points", points)) != points:
            notes.append(f"points of {grade_id} were changed: reset")
    return notes


@dataclass
class Grader:
    """Grades a class's submissions notebook by notebook (see grade())."""

    notebooks: list[Path]
    out: Path
    cell_timeout: int = 300
    notebook_timeout: int = 900
    quick: bool = True
    template: dict = field(default_factory=dict)  # relative path -> bytes of the course folder after generation
    timings: list = field(default_factory=list)  # (student, assignment, seconds)
    released: dict = field(default_factory=dict)  # assignment -> {check grade_id: (source, points)} as handed out
    tmp_root: str = field(default_factory=tempfile.gettempdir)  # sandboxes go here; new files in it are reported

    def prepare(self, work: Path) -> None:
        """Generate the course folder once and keep it in memory: every notebook is graded in a fresh copy."""
        course = make_course(self.notebooks, work / "template")
        for path in self.notebooks:
            released = nbformat.read(course / "release" / path.stem / path.name, as_version=4)
            self.released[path.stem] = {
                c.metadata.nbgrader["grade_id"]: (c.source, float(c.metadata.nbgrader["points"]))
                for c in released.cells
                if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata.nbgrader.get("solution")
            }
        self.template = {
            p.relative_to(course).as_posix(): p.read_bytes()
            for p in course.rglob("*")
            if p.is_file() and "release" not in p.relative_to(course).parts
        }
        shutil.rmtree(course)

    def materialise(self, course: Path) -> None:
        for rel, data in self.template.items():
            (course / rel).parent.mkdir(parents=True, exist_ok=True)
            (course / rel).write_bytes(data)

    def grade_notebook(
        self, work: Path, sub: Submission, aid: str, watch: list
    ) -> tuple[dict, list[str], bytes, float]:
        """Autograde one notebook: ({grade_id: (points, reason)}, notes, nbgrader's HTML feedback, seconds)."""
        course = Path(tempfile.mkdtemp(prefix="course-", dir=work))
        sandbox = Path(tempfile.mkdtemp(prefix="sandbox-", dir=self.tmp_root))  # not in `work`: no path to the course
        notes: list[str] = []
        try:
            self.materialise(course)
            dest = course / "submitted" / sub.slug / aid / f"{aid}.ipynb"
            dest.parent.mkdir(parents=True)
            nbformat.write(sub.notebooks[aid], dest)
            before = snapshot(watch, skip=(course, sandbox))
            t0 = time.perf_counter()
            with Watchdog(self.notebook_timeout) as watchdog, temporary_files_in(course):
                ok, log = autograde(course, aid, sub.slug, sandbox, self.cell_timeout, self.quick)
            if watchdog.fired:
                notes.append(f"stopped after {self.notebook_timeout} s (the limit for one notebook)")
            seconds = time.perf_counter() - t0
            outside = changed(before, snapshot(watch, skip=(course, sandbox)))
            if outside:
                notes.append("wrote outside its own folder: " + ", ".join(outside[:5]))
            notes += tampering(sub.notebooks[aid], self.released[aid])
            graded = course / "autograded" / sub.slug / aid / f"{aid}.ipynb"
            scores = {}
            if graded.is_file() and not any(n.startswith("stopped") for n in notes):
                from nbgrader.utils import determine_grade, is_grade, is_solution

                cells = nbformat.read(graded, as_version=4).cells
                if any(o.get("ename") in INTERRUPTED for c in cells for o in c.get("outputs", [])):
                    notes.append(f"a cell ran past {self.cell_timeout} s and was interrupted")
                for cell in cells:
                    if is_grade(cell) and not is_solution(cell):
                        points, _ = determine_grade(cell)
                        reason = "" if points else first_error(cell)
                        scores[cell.metadata.nbgrader["grade_id"]] = (float(points or 0), reason)
            elif not ok and not notes:
                if "CellTimeoutError" in log:
                    # nbclient interrupts a cell at the limit and waits as long again; a cell that catches the
                    # interrupt is still running then, and nbclient gives up on the whole notebook
                    notes.append(f"stopped: a cell ran past {self.cell_timeout} s and did not stop when interrupted")
                else:
                    tail = " ".join(line for line in log.splitlines() if "[ERROR]" in line)[-300:]
                    notes.append("nbgrader could not grade it" + (f": {tail}" if tail else ""))
            html_path = course / "feedback" / sub.slug / aid / f"{aid}.html"
            feedback = html_path.read_bytes() if html_path.is_file() else b""  # written by grade(), after all runs
            return scores, notes, feedback, seconds
        finally:
            shutil.rmtree(course, ignore_errors=True)
            shutil.rmtree(sandbox, ignore_errors=True)

    def grade(self, submissions: Path, work: Path) -> list[Result]:
        ids = [p.stem for p in self.notebooks]
        subs = collect(submissions, ids)  # every notebook is in memory before any student code runs
        wanted = [aid for aid in ids if any(aid in s.notebooks or aid in s.problems for s in subs)]
        checks = {p.stem: exercises(p) for p in self.notebooks}
        watch = [(Path(submissions).resolve(), True), (self.out.resolve(), True), (work, True)]
        watch.append((Path(self.tmp_root), False))
        results = []
        # One notebook at a time: a second one graded alongside would have its course folder, with the solutions
        # and hidden tests, on disk while this one's student code runs.
        for sub in subs:
            rows, links = [], []
            for aid in wanted:
                if aid in sub.notebooks:
                    scores, notes, feedback, seconds = self.grade_notebook(work, sub, aid, watch)
                    self.timings.append((sub.student, aid, seconds))
                    if feedback:
                        (self.out / "feedback" / sub.slug).mkdir(parents=True, exist_ok=True)
                        (self.out / "feedback" / sub.slug / f"{aid}.html").write_bytes(feedback)
                        links.append(f"{aid}.html")
                    for ex in checks[aid]:
                        points, reason = scores.get(ex.grade_id, (0.0, "check did not run"))
                        if any(n.startswith(("stopped", "wrote outside", "nbgrader could not")) for n in notes):
                            points = 0.0
                        reason = "; ".join([r for r in [reason] if r and points < ex.points] + notes)
                        rows.append(Result(sub.student, ex.label, points, ex.points, reason))
                else:
                    why = sub.problems.get(aid, "not submitted")
                    rows += [Result(sub.student, ex.label, 0.0, ex.points, why) for ex in checks[aid]]
            if sub.ignored:
                rows = rows or [Result(sub.student, "-", 0.0, 0.0, "")]
                rows[0].reason = "; ".join(filter(None, [rows[0].reason, "ignored: " + ", ".join(sub.ignored[:5])]))
            self.write_student_page(sub, rows, links)
            results += rows
        return results

    def write_student_page(self, sub: Submission, rows: list[Result], links: list[str]) -> None:
        """feedback/<student>/index.html: points per exercise with the reasons, and nbgrader's feedback per notebook."""
        folder = self.out / "feedback" / sub.slug
        folder.mkdir(parents=True, exist_ok=True)
        total, most = sum(r.points for r in rows), sum(r.max for r in rows)
        body = [
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
            f"<title>Feedback: {html.escape(sub.student)}</title>",
            "<style>body{font-family:system-ui,sans-serif;max-width:48em;margin:2em auto}"
            "td,th{padding:.2em .6em;text-align:left;vertical-align:top}</style></head><body>",
            f"<h1>Feedback for {html.escape(sub.student)}</h1><p>{total:g} of {most:g} points.</p>",
            "<table><tr><th>exercise</th><th>points</th><th>of</th><th>why</th></tr>",
        ]
        body += [
            f"<tr><td>{html.escape(r.exercise)}</td><td>{r.points:g}</td><td>{r.max:g}</td>"
            f"<td>{html.escape(r.reason)}</td></tr>"
            for r in rows
        ]
        body.append("</table>")
        if links:
            body.append("<h2>Your notebooks, graded</h2><ul>")
            body += [f"<li><a href='{html.escape(name)}'>{html.escape(name)}</a></li>" for name in links]
            body.append("</ul>")
        body.append("</body></html>")
        (folder / "index.html").write_text("\n".join(body), encoding="utf-8")


def write_csv_atomically(rows: list[Result], path: Path) -> None:
    """The gradebook as CSV (student, exercise, points, max, reason), replaced in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".gradebook-", suffix=".csv", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(FIELDS)
            for r in rows:
                writer.writerow([r.student, r.exercise, f"{r.points:g}", f"{r.max:g}", r.reason])
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def grade(
    submissions: Path,
    out: Path,
    nb_dir: Path = DEFAULT_NOTEBOOKS,
    cell_timeout: int = 300,
    notebook_timeout: int = 900,
    quick: bool = True,
    tmp_root: Path | None = None,
) -> tuple[list[Result], list]:
    """Autograde every student folder in `submissions`: out/gradebook.csv and out/feedback/<student>/."""
    submissions, out = Path(submissions), Path(out)
    if not submissions.is_dir():
        raise GradingError(f"{submissions} is not a folder of submissions (one subfolder per student)")
    notebooks = [p for p in course_notebooks(nb_dir) if exercises(p)]
    if not notebooks:
        raise GradingError(f"no notebooks with exercises in {nb_dir}")
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "feedback", ignore_errors=True)
    tmp_root = str(tmp_root or tempfile.gettempdir())
    grader = Grader(notebooks, out, cell_timeout, notebook_timeout, quick, tmp_root=tmp_root)
    work = Path(tempfile.mkdtemp(prefix="course-grading-", dir=tmp_root))
    try:
        grader.prepare(work)
        rows = grader.grade(submissions, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_csv_atomically(rows, out / "gradebook.csv")
    return rows, grader.timings


# ----------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--notebooks", type=Path, default=DEFAULT_NOTEBOOKS, help="the instructor notebooks (source)")
    ap.add_argument("--build", type=Path, default=DEFAULT_BUILD, help="build folder (_build)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("student", help="write the student edition into BUILD/student (course folder: BUILD/nbgrader)")
    g = sub.add_parser("grade", help="grade a folder of submissions into BUILD/grades")
    g.add_argument("submissions", type=Path, help="one subfolder per student, holding their .ipynb files")
    g.add_argument("--out", type=Path, help="where gradebook.csv and feedback/ go (default BUILD/grades)")
    g.add_argument("--timeout", type=int, default=300, help="seconds one cell may run (default 300)")
    g.add_argument("--notebook-timeout", type=int, default=900, help="seconds one notebook may run (default 900)")
    g.add_argument("--full", action="store_true", help="run submissions in the full profile (default: quick)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    try:
        if args.cmd == "student":
            written = build_student(args.notebooks, args.build / "student", args.build / "nbgrader")
            seconds = time.perf_counter() - t0
            print(f"student edition: {len(written)} notebooks in {args.build / 'student'} ({seconds:.1f} s)")
            return 0
        out = args.out or args.build / "grades"
        rows, timings = grade(args.submissions, out, args.notebooks, args.timeout, args.notebook_timeout, not args.full)
    except GradingError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    totals: dict[str, list[float]] = {}
    for r in rows:
        totals.setdefault(r.student, [0.0, 0.0])
        totals[r.student][0] += r.points
        totals[r.student][1] += r.max
    for student, (got, most) in totals.items():
        print(f"{student:>24}: {got:g} / {most:g}")
    per = [s for _, _, s in timings]
    mean = f", {sum(per) / len(per):.1f} s per notebook" if per else ""
    print(f"gradebook: {out / 'gradebook.csv'}, feedback: {out / 'feedback'} ({time.perf_counter() - t0:.1f} s{mean})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
