"""Grading a class: every submitted notebook autograded on a copy, in a fresh course folder, one at a time.

Each notebook runs in a fresh temporary course folder made from a template kept in memory, its kernel in an empty
sandbox folder (tools.sandbox), one cell at most `cell_timeout` seconds and the whole notebook at most
`notebook_timeout`. A file that is not a notebook, a crash, an endless loop or a tampered check scores 0 with a
reason (tools.outcomes); the other students are graded as if it were not there.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .bubblewrap import Bubblewrap
from .course_folder import make_course
from .errors import GradingError
from .feedback import leaked, safe_page, with_gradebook, write_notebook_feedback, write_student_page
from .gradebook import write_gradebook
from .hand_grades import HandGrade, Written, check_hand_grades, read_hand_grades, write_awaiting, written_rows
from .notebooks import course_notebooks
from .outcomes import NotebookGrade, Outcome, Result
from .paths import NOTEBOOKS
from .sandbox import autograde
from .scoring import (
    exercise_rows,
    failure,
    not_graded_rows,
    read_checks,
    released_checks,
    tampering,
    with_released_points,
)
from .student_edition import secret_lines
from .submissions import Exercise, Submission, collect, exercises, written_answers
from .watch import Watchdog, changed, snapshot, temporary_files_in

AWAITING_FILE = "awaiting_hand_grades.csv"  # the written answers no hand grade was given for, a file to fill in
Watched = list[tuple[Path, bool]]  # folders watched for files a notebook writes outside its own: (folder, recursive)


@dataclass
class Grader:
    """Grades a class's submissions notebook by notebook (see grade())."""

    notebooks: list[Path]
    out: Path
    cell_timeout: int = 300
    notebook_timeout: int = 900
    quick: bool = True
    template: dict[str, bytes] = field(default_factory=dict)  # relative path -> bytes of the generated course folder
    timings: list[tuple[str, str, float]] = field(default_factory=list)  # (student, assignment, seconds)
    released: dict = field(default_factory=dict)  # assignment -> {check grade_id: (source, points)} as handed out
    secrets: dict[str, set[str]] = field(default_factory=dict)  # assignment -> its solution and hidden-test lines
    tmp_root: str = field(default_factory=tempfile.gettempdir)  # sandboxes go here; new files in it are reported
    jail: Bubblewrap | None = None  # the sandbox every kernel runs in; None: --no-sandbox
    hand_grades: list[HandGrade] = field(default_factory=list)  # the instructor's grades of the written answers
    written: dict[str, list[Exercise]] = field(default_factory=dict)  # assignment -> its written answers
    hand: dict = field(default_factory=dict)  # (student slug, grade_id) -> HandGrade, checked against the class

    def __post_init__(self) -> None:
        """The written answers of every notebook, read from the instructor's notebooks."""
        self.written = {p.stem: written_answers(p) for p in self.notebooks}

    @property
    def written_by_id(self) -> Written:
        """Every written answer of the class's notebooks: grade_id -> (assignment, answer)."""
        return {a.grade_id: (aid, a) for aid, answers in self.written.items() for a in answers}

    def prepare(self, work: Path) -> None:
        """Generate the course folder once and keep it in memory: every notebook is graded in a fresh copy."""
        course = make_course(self.notebooks, work / "template")
        for path in self.notebooks:
            self.secrets[path.stem] = secret_lines(nbformat.read(path, as_version=4))
            self.released[path.stem] = released_checks(
                nbformat.read(course / "release" / path.stem / path.name, as_version=4)
            )
        self.template = {
            p.relative_to(course).as_posix(): p.read_bytes()
            for p in course.rglob("*")
            if p.is_file() and "release" not in p.relative_to(course).parts
        }
        shutil.rmtree(course)

    def materialise(self, course: Path) -> None:
        """Write the course folder's template into `course`."""
        for rel, data in self.template.items():
            (course / rel).parent.mkdir(parents=True, exist_ok=True)
            (course / rel).write_bytes(data)

    def grade_notebook(self, work: Path, sub: Submission, aid: str, watch: Watched) -> NotebookGrade:
        """Autograde one notebook in a fresh course folder and sandbox, both removed afterwards."""
        course = Path(tempfile.mkdtemp(prefix="course-", dir=work))
        sandbox = Path(tempfile.mkdtemp(prefix="sandbox-", dir=self.tmp_root))  # not in `work`: no path to the course
        try:
            self.materialise(course)
            dest = course / "submitted" / sub.slug / aid / f"{aid}.ipynb"
            dest.parent.mkdir(parents=True)
            nbformat.write(with_released_points(sub.notebooks[aid], self.released[aid]), dest)
            return self.run(course, sandbox, sub, aid, watch)
        finally:
            shutil.rmtree(course, ignore_errors=True)
            shutil.rmtree(sandbox, ignore_errors=True)

    def run(self, course: Path, sandbox: Path, sub: Submission, aid: str, watch: Watched) -> NotebookGrade:
        """Run nbgrader on the submitted notebook in `course`, watched, and score it: its NotebookGrade."""
        before = snapshot(watch, skip=(course, sandbox))
        t0 = time.perf_counter()
        with Watchdog(self.notebook_timeout) as watchdog, temporary_files_in(course):
            ok, log = autograde(
                course, aid, sub.slug, sandbox, cell_timeout=self.cell_timeout, quick=self.quick, jail=self.jail
            )
        grade = NotebookGrade()
        if watchdog.fired:
            grade.notes.append(Outcome.NOTEBOOK_TIME_LIMIT.note(seconds=self.notebook_timeout))
        grade.seconds = time.perf_counter() - t0
        outside = changed(before, snapshot(watch, skip=(course, sandbox)))
        if outside:
            grade.notes.append(Outcome.WROTE_OUTSIDE.note(paths=", ".join(outside[:5])))
        grade.notes += tampering(sub.notebooks[aid], self.released[aid])
        graded = course / "autograded" / sub.slug / aid / f"{aid}.ipynb"
        if graded.is_file() and not grade.stopped:
            read_checks(graded, self.cell_timeout, grade)
        elif not ok and not grade.notes:
            grade.notes.append(failure(log, self.cell_timeout))
        page = course / "feedback" / sub.slug / aid / f"{aid}.html"
        feedback = safe_page(page.read_bytes()) if page.is_file() else b""  # written by autograde(), after the run
        own = "\n".join(cell.source for cell in sub.notebooks[aid].cells)  # the text, not its JSON (escaped quotes)
        shown = leaked(feedback, self.secrets[aid], own)
        if shown:
            grade.notes.append(Outcome.FEEDBACK_WITHHELD.note(lines=len(shown)))
        grade.feedback = b"" if shown else feedback
        return grade

    def grade_student(
        self, sub: Submission, wanted: list[str], checks: dict[str, list[Exercise]], work: Path, watch: Watched
    ) -> list[Result]:
        """One student's rows of the gradebook, and their feedback folder."""
        folder = self.out / "feedback" / sub.slug
        rows: list[Result] = []
        links: list[str] = []
        for aid in wanted:
            if aid not in sub.notebooks:
                why = sub.problems.get(aid, Outcome.NOT_SUBMITTED.note())
                rows += not_graded_rows(sub.student, checks[aid] + self.written[aid], why)
                continue
            try:
                grade = self.grade_notebook(work, sub, aid, watch)
            except Exception as error:  # one bad file never stops the class: 0 points, and what went wrong
                grade = NotebookGrade(notes=[Outcome.GRADER_ERROR.note(error=f"{type(error).__name__}: {error}"[:300])])
            self.timings.append((sub.student, aid, grade.seconds))
            notebook_rows = exercise_rows(sub.student, checks[aid], grade)
            notebook_rows += written_rows(sub, self.written[aid], grade, self.hand)
            if grade.feedback:
                links.append(write_notebook_feedback(folder, aid, with_gradebook(grade.feedback, notebook_rows)))
            rows += notebook_rows
        if sub.ignored:
            rows = rows or [Result(sub.student, "-", 0.0, 0.0, "")]
            ignored = Outcome.IGNORED_FILES.note(files=", ".join(sub.ignored[:5]))
            rows[0].reason = "; ".join(filter(None, [rows[0].reason, ignored.reason]))
        write_student_page(folder, sub.student, rows, links)
        return rows

    def collect(self, submissions: Path) -> list[Submission]:
        """The class's submissions, every notebook in memory before any student code runs, and the hand grades
        checked against them (a GradingError before anything runs)."""
        subs = collect(submissions, [p.stem for p in self.notebooks])
        self.hand = check_hand_grades(self.hand_grades, self.written_by_id, subs)
        return subs

    def grade(self, submissions: Path, subs: list[Submission], work: Path) -> list[Result]:
        """Every student's rows of the gradebook, student by student, in the order of their folders."""
        ids = [p.stem for p in self.notebooks]
        wanted = [aid for aid in ids if any(s.handed_in(aid) for s in subs)]
        checks = {p.stem: exercises(p) for p in self.notebooks}
        watch = [(Path(submissions).resolve(), True), (self.out.resolve(), True), (work, True)]
        watch.append((Path(self.tmp_root), False))
        # One notebook at a time: a second one graded alongside would have its course folder, with the solutions
        # and hidden tests, on disk while this one's student code runs.
        return [row for sub in subs for row in self.grade_student_safely(sub, wanted, checks, work, watch)]

    def grade_student_safely(
        self, sub: Submission, wanted: list[str], checks: dict[str, list[Exercise]], work: Path, watch: Watched
    ) -> list[Result]:
        """grade_student(), or 0 points on every exercise with the reason when grading that student fails."""
        try:
            return self.grade_student(sub, wanted, checks, work, watch)
        except Exception as error:
            why = Outcome.GRADER_ERROR.note(error=f"{type(error).__name__}: {error}"[:300])
            return [row for aid in wanted for row in not_graded_rows(sub.student, checks[aid] + self.written[aid], why)]


def grade(
    submissions: Path,
    out: Path,
    nb_dir: Path = NOTEBOOKS,
    *,
    cell_timeout: int = 300,
    notebook_timeout: int = 900,
    quick: bool = True,
    tmp_root: Path | None = None,
    jail: Bubblewrap | None = None,
    hand_grades: Path | None = None,
) -> tuple[list[Result], list[tuple[str, str, float]]]:
    """Autograde every student folder in `submissions` (each kernel in `jail`), with the written answers' grades from
    the file `hand_grades`: out/gradebook.csv, out/feedback/, and out/awaiting_hand_grades.csv where answers wait."""
    submissions, out = Path(submissions), Path(out)
    if not submissions.is_dir():
        raise GradingError(f"{submissions} is not a folder of submissions (one subfolder per student)")
    given = read_hand_grades(hand_grades) if hand_grades else []
    notebooks = [p for p in course_notebooks(nb_dir) if exercises(p) or written_answers(p)]
    if not notebooks:
        raise GradingError(f"no notebooks with exercises in {nb_dir}")
    tmp_root = str(tmp_root or tempfile.gettempdir())
    grader = Grader(notebooks, out, cell_timeout, notebook_timeout, quick, tmp_root=tmp_root, jail=jail)
    grader.hand_grades = given
    subs = grader.collect(submissions)  # a hand grade that does not fit the class stops here, the old grades intact
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(out / "feedback", ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix="course-grading-", dir=tmp_root))
    try:
        grader.prepare(work)
        rows = grader.grade(submissions, subs, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    write_gradebook(rows, out / "gradebook.csv")
    awaiting = out / AWAITING_FILE
    if grader.written_by_id:
        write_awaiting(rows, grader.written_by_id, awaiting)
    else:
        awaiting.unlink(missing_ok=True)
    return rows, grader.timings
