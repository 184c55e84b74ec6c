"""The gradebook: one CSV row per student and exercise (student, exercise, points, max, reason), replaced whole."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from course_utils.files import write_bytes

from .outcomes import Result

FIELDS = ["student", "exercise", "points", "max", "reason"]
FORMULA = ("=", "+", "-", "@", "\t", "\r")  # how a cell a spreadsheet would run as a formula starts


def inert(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text: one that starts like a formula gets a leading apostrophe."""
    return "'" + cell if cell.startswith(FORMULA) else cell


def write_gradebook(rows: list[Result], path: Path) -> Path:
    """The gradebook as CSV at `path`, replaced in one step (course_utils.files, its one atomic writer)."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(FIELDS)
    writer.writerows([inert(c) for c in (r.student, r.exercise, f"{r.points:g}", f"{r.max:g}", r.reason)] for r in rows)
    return write_bytes(path, text.getvalue().encode("utf-8"))


def read_gradebook(path: Path) -> dict[str, dict[str, tuple[float, float, str]]]:
    """A gradebook read back: student -> exercise -> (points, max, reason)."""
    with Path(path).open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    book: dict[str, dict[str, tuple[float, float, str]]] = {}
    for r in rows:
        book.setdefault(r["student"], {})[r["exercise"]] = (float(r["points"]), float(r["max"]), r["reason"])
    return book


def totals(rows: list[Result]) -> dict[str, tuple[float, float]]:
    """Each student's points and the most they could have got, in the order they first appear."""
    sums: dict[str, tuple[float, float]] = {}
    for r in rows:
        got, most = sums.get(r.student, (0.0, 0.0))
        sums[r.student] = (got + r.points, most + r.max)
    return sums
