"""Scoring a graded notebook: each check's points and reason, what the student changed, and the gradebook's rows."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import nbformat

from .outcomes import DID_NOT_RUN, GRADER_META, CheckResult, Note, NotebookGrade, Outcome, Result
from .submissions import Exercise
from .verified import is_check

INTERRUPTED = {"CellTimeoutError", "KeyboardInterrupt"}  # how nbgrader's Execute reports a cell it stopped
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def first_error(cell: nbformat.NotebookNode) -> str:
    """One line saying why a graded cell failed: the check's own message, or the error's name and value."""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            value = ANSI.sub("", str(out.get("evalue", ""))).strip()
            name = out.get("ename", "Error")
            if name == "CheckFailed":
                return f"✘ {value}"[:300]
            return f"{name}: {value}"[:300] if value else name
        if out.get("output_type") == "stream" and out.get("name") == "stderr":
            return "the check wrote to stderr: " + str(out.get("text", "")).strip()[:200]
    return "no output"


def released_checks(released: nbformat.NotebookNode) -> dict[str, tuple[str, float]]:
    """The check cells of a released notebook: {grade_id: (source, points)}."""
    return {
        c.metadata.nbgrader["grade_id"]: (c.source, float(c.metadata.nbgrader["points"]))
        for c in released.cells
        if c.metadata.get("nbgrader", {}).get("grade") and not c.metadata.nbgrader.get("solution")
    }


def as_number(value: object) -> float | None:
    """A cell's points as a number, or None for anything else ("abc", a list)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def with_released_points(nb: nbformat.NotebookNode, released: dict[str, tuple[str, float]]) -> nbformat.NotebookNode:
    """A copy of the submitted notebook whose check cells carry the points they were released with (nbgrader reads
    them as numbers before it restores anything)."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade_id") in released:
            meta["points"] = released[meta["grade_id"]][1]
    return nb


def tampering(submitted: nbformat.NotebookNode, released: dict[str, tuple[str, float]]) -> list[Note]:
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
            notes.append(Outcome.CHECK_DELETED.note(grade_id=grade_id))
        elif cell.source.strip() != source.strip():
            notes.append(Outcome.CHECK_EDITED.note(grade_id=grade_id))
        elif as_number(cell.metadata.nbgrader.get("points", points)) != points:
            notes.append(Outcome.POINTS_CHANGED.note(grade_id=grade_id))
    return notes


def check_result(cell: nbformat.NotebookNode, seen: dict) -> CheckResult:
    """A check cell's points from the grader's record of its run (`seen`): all of them when the kernel replied that
    it ran without error and no error arrived while it ran, else 0; never what the cell's outputs say (a value in
    Out[] is no partial credit, and a hook can clear an error from the outputs)."""
    points = float(cell.metadata.nbgrader["points"])
    errors = seen.get("errors", [])
    if seen.get("status") == "ok" and not errors:
        return CheckResult(points)
    if seen.get("status") == "did not run":
        return DID_NOT_RUN
    shown = first_error(cell)
    return CheckResult(0.0, shown if shown != "no output" else (errors or ["the kernel replied with an error"])[0])


def read_checks(graded: Path, cell_timeout: int, grade: NotebookGrade) -> None:
    """Each check's result from the grader's record in the autograded notebook into `grade`, and the notes on the
    run: an interrupted cell, memory, the output limit, and what the integrity check found (needs review)."""
    nb = nbformat.read(graded, as_version=4)
    cells = nb.cells
    errors = {o.get("ename") for c in cells for o in c.get("outputs", [])}
    if errors & INTERRUPTED:
        grade.notes.append(Outcome.CELL_INTERRUPTED.note(seconds=cell_timeout))
    if "MemoryError" in errors:
        grade.notes.append(Outcome.OUT_OF_MEMORY.note())
    seen = nb.metadata.get(GRADER_META, {})
    if seen.get("output_bytes", 0) > seen.get("max_output", float("inf")):
        grade.notes.append(Outcome.OUTPUT_LIMIT.note(bytes=seen["output_bytes"], limit=seen["max_output"]))
    problems = seen.get("integrity", ["the grader kept no record of the run"])
    if problems:
        grade.notes.append(Outcome.NEEDS_REVIEW.note(what="; ".join(problems)[:300]))
    for cell in cells:
        if is_check(cell):
            grade_id = cell.metadata.nbgrader["grade_id"]
            grade.checks[grade_id] = check_result(cell, seen.get("checks", {}).get(grade_id, {}))


def failure(log: str, cell_timeout: int) -> Note:
    """Why nbgrader graded nothing, from its log: a cell that ignored its interrupt, else nbgrader's error lines."""
    if "CellTimeoutError" in log:
        # nbclient interrupts a cell at the limit and waits as long again; a cell that catches the interrupt is
        # still running then, and nbclient gives up on the whole notebook
        return Outcome.CELL_IGNORED_INTERRUPT.note(seconds=cell_timeout)
    tail = " ".join(line for line in log.splitlines() if "[ERROR]" in line)[-300:]
    return Outcome.NBGRADER_FAILED.note(detail=f": {tail}" if tail else "")


def exercise_rows(student: str, checks: list[Exercise], grade: NotebookGrade) -> list[Result]:
    """The gradebook's rows of one graded notebook: each exercise's points, and the reasons it lost any."""
    rows = []
    for ex in checks:
        check = grade.checks.get(ex.grade_id, DID_NOT_RUN)
        points = 0.0 if grade.voided else check.points
        reasons = [check.reason] if check.reason and points < ex.points else []
        rows.append(Result(student, ex.label, points, ex.points, "; ".join(reasons + [n.reason for n in grade.notes])))
    return rows


def not_graded_rows(student: str, checks: list[Exercise], why: Note) -> list[Result]:
    """The gradebook's rows of a notebook that was not handed in, or is no notebook: 0 points and why."""
    return [Result(student, ex.label, 0.0, ex.points, why.reason) for ex in checks]
