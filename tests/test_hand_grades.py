"""Written answers graded by hand: found in the instructor's notebook, kept from students (the student edition, the
site, the decks), the hand-grades file read and checked against the class, and the gradebook's rows of them. The
grading of a class with a hand-grades file: tests/test_grading.py ("Written answers, graded by hand")."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from classes import RUBRIC, as_submitted, tiny_class_folders, tiny_notebook, write

from tools.errors import GradingError
from tools.hand_grades import (
    AWAITING,
    HandGrade,
    check_hand_grades,
    read_hand_grades,
    write_awaiting,
    written_rows,
)
from tools.notebooks import without_markers
from tools.outcomes import NotebookGrade, Outcome, Result
from tools.paths import ROOT
from tools.student_edition import build_student
from tools.submissions import Exercise, Submission, exercises, written_answers

ANSWER = Exercise("ex90-2-written", "90.2 written", 2.0)
WRITTEN = {ANSWER.grade_id: ("90_tiny", ANSWER)}


def tiny_source(tmp_path, written_points=2):
    path = tmp_path / "90_tiny.ipynb"
    nbformat.write(tiny_notebook(written_points=written_points), path)
    return path


def test_written_answers_are_the_markdown_answers_with_points(tmp_path):
    assert written_answers(tiny_source(tmp_path)) == [ANSWER]
    assert written_answers(tiny_source(tmp_path, written_points=0)) == []  # 0 points: not graded
    assert [e.label for e in exercises(tiny_source(tmp_path))] == ["90.1", "90.2"]  # the checks stay as they were


def test_the_site_and_the_decks_show_a_written_answer_without_its_rubric():
    nb = without_markers(tiny_notebook(written_points=2))
    shown = "\n".join(cell.source for cell in nb.cells)
    assert "Squaring multiplies a number by itself." in shown
    assert "Rubric" not in shown
    assert "sign of x" not in shown


def test_the_student_edition_replaces_a_written_answer_and_its_rubric(tmp_path):
    (tmp_path / "source").mkdir()
    tiny_source(tmp_path / "source")
    [released] = build_student(tmp_path / "source", tmp_path / "student", tmp_path / "nbgrader")
    nb = nbformat.read(released, as_version=4)
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ex90-2-written"]
    assert cell.source == "YOUR ANSWER HERE"
    assert cell.metadata.nbgrader["points"] == 2
    assert not [c for c in nb.cells if "Rubric" in c.source or "itself" in c.source]


def test_a_hand_grades_file_is_read_with_its_lines(tmp_path):
    path = tmp_path / "hand.csv"
    path.write_text("\ufeffstudent,grade_id,points,comment\nana,ex90-2-written,1.5, clear \nben,ex90-2-written,0\n")
    assert read_hand_grades(path) == [
        HandGrade("ana", "ex90-2-written", 1.5, "clear", line=2),
        HandGrade("ben", "ex90-2-written", 0.0, "", line=3),
    ]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("student,grade_id,points\nana,ex90-2-written,two\nben,ex90-2-written,\n", "line 2: points 'two' is not"),
        ("student,answer,points\nana,ex90-2-written,1\n", "no column grade_id"),
    ],
)
def test_a_bad_hand_grades_file_says_what_is_wrong(tmp_path, text, says):
    path = tmp_path / "hand.csv"
    path.write_text(text)
    with pytest.raises(GradingError, match=says):
        read_hand_grades(path)


def class_of(*students: str, handed_in=True) -> list[Submission]:
    nbs = {"90_tiny": tiny_notebook()} if handed_in else {}
    return [Submission(s, s.strip("=+"), dict(nbs)) for s in students]


def test_hand_grades_are_checked_against_the_class():
    subs = class_of("ana", "=2+3") + class_of("ben", handed_in=False)
    ok = [HandGrade("ana", "ex90-2-written", 2.0, line=2), HandGrade("'=2+3", "ex90-2-written", 0.0, line=3)]
    assert set(check_hand_grades(ok, WRITTEN, subs)) == {("ana", "ex90-2-written"), ("2+3", "ex90-2-written")}
    bad = [
        HandGrade("zoe", "ex90-2-written", 1.0, line=2),
        HandGrade("ana", "ex90-9-written", 1.0, line=3),
        HandGrade("ana", "ex90-2-written", 2.5, line=4),
        HandGrade("ana", "ex90-2-written", -1.0, line=5),
        HandGrade("ben", "ex90-2-written", 1.0, line=6),
        HandGrade("ana", "ex90-2-written", 1.0, line=7),
        HandGrade("ana", "ex90-2-written", 1.0, line=8),
    ]
    with pytest.raises(GradingError) as error:
        check_hand_grades(bad, WRITTEN, subs)
    message = str(error.value)
    assert "line 2 (zoe, ex90-2-written): no student of that name" in message
    assert "line 3 (ana, ex90-9-written): no written answer has that grade_id (they are: ex90-2-written)" in message
    assert "line 4 (ana, ex90-2-written): 2.5 points, outside 0 to 2" in message
    assert "line 5 (ana, ex90-2-written): -1 points, outside 0 to 2" in message
    assert "line 6 (ben, ex90-2-written): that student handed in no readable 90_tiny" in message
    assert "line 8 (ana, ex90-2-written): graded twice" in message
    assert "line 7" not in message  # the first grade of ana's answer is fine


def test_a_written_answer_gets_its_hand_grade_awaits_one_or_shares_its_notebooks_fate():
    [ana, ben] = class_of("ana", "ben")
    hand = {("ana", "ex90-2-written"): HandGrade("ana", "ex90-2-written", 1.5, "clear")}
    assert written_rows(ana, [ANSWER], NotebookGrade(), hand) == [
        Result("ana", "90.2 written", 1.5, 2.0, "graded by hand: clear")
    ]
    assert written_rows(ben, [ANSWER], NotebookGrade(), hand) == [Result("ben", "90.2 written", 0.0, 2.0, AWAITING)]
    void = NotebookGrade(notes=[Outcome.WROTE_OUTSIDE.note(paths="/x"), Outcome.CHECK_EDITED.note(grade_id="c")])
    [row] = written_rows(ana, [ANSWER], void, hand)
    assert (row.points, row.reason) == (0.0, "wrote outside its own folder: /x; hand grade 1.5 not counted")


def test_the_answers_awaiting_a_hand_grade_are_written_as_a_file_to_fill_in(tmp_path):
    rows = [
        Result("ana", "90.2 written", 1.5, 2.0, "graded by hand"),
        Result("=2+3", "90.2 written", 0.0, 2.0, AWAITING),
    ]
    write_awaiting(rows, WRITTEN, tmp_path / "awaiting.csv")
    assert (tmp_path / "awaiting.csv").read_text().splitlines() == [
        "student,grade_id,points,comment",
        "'=2+3,ex90-2-written,,",
    ]
    assert read_hand_grades(tmp_path / "awaiting.csv") == []  # points left empty: not graded yet, and no error


def test_an_unknown_or_out_of_range_hand_grade_stops_grading_before_any_notebook_runs(tmp_path):
    source, subs, out, tmp = tiny_class_folders(tmp_path, written_points=2)
    write(subs / "ana", "90_tiny.ipynb", as_submitted(tiny_notebook(written_points=2)))
    (tmp_path / "hand.csv").write_text("student,grade_id,points\nana,ex90-2-written,3\nzoe,ex90-2-written,1\n")
    args = ["-m", "tools.grading", "--notebooks", str(source), "grade", str(subs), "--out", str(out)]
    args += ["--hand-grades", str(tmp_path / "hand.csv"), "--no-sandbox"]
    run = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 1, run.stderr
    assert "line 2 (ana, ex90-2-written): 3 points, outside 0 to 2" in run.stderr
    assert "line 3 (zoe, ex90-2-written): no student of that name" in run.stderr
    assert not (out / "gradebook.csv").exists()
    assert RUBRIC not in run.stderr + run.stdout
