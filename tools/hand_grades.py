"""Written answers, graded by hand: the instructor's hand-grades CSV read and checked, and the gradebook's rows of them.

A written answer is a markdown cell nbgrader grades by hand (`solution` and `grade`, points > 0; its rubric is in the
instructor's notebook only). The grader gives it 0 points "awaiting a hand grade" until the hand-grades file gives it
points: one row per student and answer, `student,grade_id,points,comment`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from course_utils.files import write_bytes

from .errors import GradingError
from .gradebook import inert
from .outcomes import NotebookGrade, Result
from .submissions import Exercise, Submission

FIELDS = ["student", "grade_id", "points", "comment"]
AWAITING = "awaiting a hand grade"


@dataclass(frozen=True)
class HandGrade:
    """One hand grade: a student's points for one written answer, with the instructor's comment."""

    student: str
    grade_id: str
    points: float
    comment: str = ""
    line: int = 0  # where it stands in its file, for the error messages


def read_hand_grades(path: Path) -> list[HandGrade]:
    """The hand grades of a CSV file (student, grade_id, points, comment), rows without points skipped; a GradingError
    naming each line whose points are no number."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a spreadsheet's UTF-8 starts with a byte-order mark
    except (OSError, UnicodeDecodeError) as error:
        raise GradingError(f"hand grades {path}: cannot read it ({error})") from error
    reader = csv.DictReader(io.StringIO(text))
    missing = [f for f in FIELDS[:3] if f not in (reader.fieldnames or [])]
    if missing:
        raise GradingError(f"hand grades {path}: no column {', '.join(missing)} (the header is {','.join(FIELDS)})")
    grades, problems = [], []
    for row in reader:
        line = reader.line_num
        student, grade_id, given = [(row.get(k) or "").strip() for k in ("student", "grade_id", "points")]
        if not given:
            continue  # points left empty: not graded yet (awaiting_hand_grades.csv, partly filled in)
        try:
            points = float(given)
        except ValueError:
            problems.append(f"line {line}: points {row.get('points')!r} is not a number")
            continue
        grades.append(HandGrade(student, grade_id, points, (row.get("comment") or "").strip(), line))
    if problems:
        raise GradingError(f"hand grades {path}: " + "; ".join(problems))
    return grades


def known_as(sub: Submission) -> set[str]:
    """The names a hand-grades file may give a student: the folder's name, as the gradebook shows it, or its slug."""
    return {sub.student, inert(sub.student), sub.slug}


def has_answer(nb: NotebookNode, grade_id: str) -> bool:
    """Whether a submitted notebook still has the written answer `grade_id`: a markdown cell of that grade_id."""
    return any(
        c.cell_type == "markdown" and c.metadata.get("nbgrader", {}).get("grade_id") == grade_id for c in nb.cells
    )


Written = dict[str, tuple[str, Exercise]]  # grade_id -> (assignment, the written answer)


def check_hand_grades(grades: list[HandGrade], written: Written, subs: list[Submission]) -> dict:
    """{(slug, grade_id): HandGrade}, or a GradingError naming every hand grade for an unknown student or answer, a
    notebook the student did not hand in, points for an answer their notebook no longer has, points outside 0 to the
    answer's, or an answer graded twice."""
    students = {name: sub for sub in subs for name in known_as(sub)}
    checked: dict[tuple[str, str], HandGrade] = {}
    problems = []
    for g in grades:
        aid, answer = written.get(g.grade_id, (None, None))
        sub = students.get(g.student)
        where = f"line {g.line} ({g.student}, {g.grade_id})"
        if sub is None:
            problems.append(f"{where}: no student of that name")
        elif answer is None:
            problems.append(f"{where}: no written answer has that grade_id (they are: {', '.join(written) or 'none'})")
        elif aid not in sub.notebooks:
            problems.append(f"{where}: that student handed in no readable {aid}")
        elif g.points > 0 and not has_answer(sub.notebooks[aid], g.grade_id):
            problems.append(f"{where}: that student's {aid} has no markdown cell {g.grade_id} (deleted or changed)")
        elif not 0 <= g.points <= answer.points:
            problems.append(f"{where}: {g.points:g} points, outside 0 to {answer.points:g}")
        elif (sub.slug, g.grade_id) in checked:
            problems.append(f"{where}: graded twice")
        else:
            checked[sub.slug, g.grade_id] = g
    if problems:
        raise GradingError("hand grades: " + "; ".join(problems))
    return checked


def written_rows(sub: Submission, answers: list[Exercise], grade: NotebookGrade, hand: dict) -> list[Result]:
    """The gradebook's rows of one graded notebook's written answers: the hand grade where there is one (not where
    the notebook's points are void), else 0 points awaiting it."""
    rows = []
    for answer in answers:
        given = hand.get((sub.slug, answer.grade_id))
        if grade.voided:
            notes = [n.reason for n in grade.notes if n.outcome.voids]
            reason = "; ".join(notes + ([f"hand grade {given.points:g} not counted"] if given else []))
            rows.append(Result(sub.student, answer.label, 0.0, answer.points, reason))
        elif given:
            comment = f"graded by hand: {given.comment}" if given.comment else "graded by hand"
            rows.append(Result(sub.student, answer.label, given.points, answer.points, comment))
        else:
            rows.append(Result(sub.student, answer.label, 0.0, answer.points, AWAITING))
    return rows


def write_awaiting(rows: list[Result], written: Written, path: Path) -> Path:
    """The written answers still awaiting a hand grade, as a hand-grades file to fill in (points left empty)."""
    by_label = {answer.label: grade_id for grade_id, (_, answer) in written.items()}
    text = io.StringIO(newline="")
    out = csv.writer(text)
    out.writerow(FIELDS)
    out.writerows([inert(r.student), by_label[r.exercise], "", ""] for r in rows if r.reason == AWAITING)
    return write_bytes(path, text.getvalue().encode("utf-8"))
