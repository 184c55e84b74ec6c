"""The pieces of the instructors' tools that need no build, no browser and no nbgrader run: the command lines' errors,
the course map's minutes, the wait of the live-lab tests, the escaping of the pages, the grader's typed outcomes,
its reading of submissions and its gradebook."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat import v4

from tools import build, grading
from tools.browser import NoBrowser, launch
from tools.deckcheck import NothingToCheck, measure_decks
from tools.feedback import leaked, safe_page, with_gradebook, write_student_page
from tools.gradebook import inert, read_gradebook, totals, write_gradebook
from tools.lab_server import free_port, lab_environment, wait_until_up
from tools.outcomes import CheckResult, NotebookGrade, Outcome, Result
from tools.scoring import as_number, exercise_rows
from tools.submissions import Exercise, display_name, json_depth, match_assignment, read_notebook, slug
from tools.templates import render
from tools.waiting import wait_for
from tools.website import format_minutes

# ----------------------------------------------------------------------------------------
# Builds, pages, browser, waiting
# ----------------------------------------------------------------------------------------


def test_course_map_formatting():
    assert [format_minutes(m) for m in (0.3, 1, 2.5, 12, 60, 75, None)] == \
        ["18 s", "1 min", "2.5 min", "12 min", "1 h", "1 h 15 min", "–"]  # fmt: skip


def test_a_browser_that_cannot_start_is_reported_as_no_browser(playwright, monkeypatch):
    """A Chromium that is there but does not start (say, without its system libraries) skips like a missing one."""
    monkeypatch.setenv("CHROMIUM", "false")
    with pytest.raises(NoBrowser, match=r"/false did not start \(.*install-deps chromium"):
        launch(playwright)


def test_the_slides_index_escapes_notebook_titles():
    """The index of the decks comes from a template with autoescaping: a title is text, never markup."""
    deck = {"href": "01_x.slides.html", "title": "<script>alert(1)</script>", "teaches": "<b>x</b>"}
    page = render("slides_index.html.j2", decks=[deck], title="<i>course</i>")
    assert "<script>" not in page
    assert "<b>" not in page
    assert "<i>" not in page
    assert "<a href='01_x.slides.html'><span class='deck-title'>&lt;script&gt;alert(1)&lt;/script&gt;</span>" in page


def test_a_build_that_cannot_go_on_exits_1_with_the_reason(tmp_path, capsys):
    """`python -m tools.build slides` of a folder without notebooks: status 1 and one line on stderr, no traceback."""
    assert build.main(["--notebooks", str(tmp_path), "--build", str(tmp_path / "_build"), "slides"]) == 1
    assert capsys.readouterr().err == f"error: no notebooks in {tmp_path}\n"


def test_wait_for_returns_the_first_true_value_or_none_when_time_runs_out():
    """The one wait of the live-lab tests: polls until the condition holds, sleeping `every_s` between polls."""
    values, naps = iter([0, None, "ready", "later"]), []
    assert wait_for(lambda: next(values), 5, every_s=0.25, sleep=naps.append) == "ready"
    assert naps == [0.25, 0.25]
    assert wait_for(lambda: False, 0.05, every_s=0.01) is None


def test_a_deck_check_of_a_folder_without_decks_says_what_to_run(tmp_path):
    with pytest.raises(NothingToCheck, match=r"no decks in .*: run `make slides`"):
        measure_decks(None, tmp_path)  # stops before it needs a page


def test_the_lab_gets_its_own_settings_and_the_environment_asked_for(monkeypatch):
    monkeypatch.setenv("COURSE_BATCH", "1")
    env = lab_environment("/lab-home", {"COURSE_BATCH": None, "COURSE_QUICK": "1"})
    assert "COURSE_BATCH" not in env  # None removes a name
    assert env["COURSE_QUICK"] == "1"
    assert env["JUPYTERLAB_SETTINGS_DIR"] == "/lab-home/settings"


def test_a_lab_that_exits_before_it_answers_is_reported_with_its_log(tmp_path):
    """Even when it exits with status 0: a server that is gone did not start."""
    with open(tmp_path / "lab.log", "w+") as log:
        log.write("the server's last words\n")
        log.flush()
        proc = subprocess.Popen([sys.executable, "-c", "pass"])
        with pytest.raises(RuntimeError, match="JupyterLab did not start:\nthe server's last words"):
            wait_until_up(proc, f"http://127.0.0.1:{free_port()}", "token", log, timeout=60)


# ----------------------------------------------------------------------------------------
# Grading
# ----------------------------------------------------------------------------------------


def test_submitted_files_are_matched_to_notebooks():
    ids = ["01_layers_activations_losses", "02_data_init_schedules"]
    assert match_assignment(Path("01_layers_activations_losses.ipynb"), ids) == ids[0]
    assert match_assignment(Path("02_data_init_schedules (1).ipynb"), ids) == ids[1]
    assert match_assignment(Path("02 my copy.ipynb"), ids) == ids[1]
    assert match_assignment(Path("notes.ipynb"), ids) is None
    assert slug("Ana María O'Neil") == "Ana_Mar_a_O_Neil"


def test_reading_a_submission(tmp_path):
    cases = {"empty.ipynb": b"", "binary.ipynb": b"\xff\xfe\x00", "text.ipynb": b"hello", "list.ipynb": b"[1, 2]"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        nb, why = read_notebook(tmp_path / name)
        assert nb is None, name
        assert why, name
    nbformat.write(v4.new_notebook(cells=[v4.new_code_cell("1 + 1")]), tmp_path / "ok.ipynb")
    nb, why = read_notebook(tmp_path / "ok.ipynb")
    assert nb is not None
    assert why is None


def test_the_gradebook_is_replaced_in_one_step(tmp_path):
    path = tmp_path / "gradebook.csv"
    path.write_text("old\n")
    rows = [Result("ana", "01.1", 1.0, 1.0, ""), Result("ben, jr", "01.1", 0.0, 1.0, "✘ no")]
    write_gradebook(rows, path)
    assert read_gradebook(path) == {"ana": {"01.1": (1.0, 1.0, "")}, "ben, jr": {"01.1": (0.0, 1.0, "✘ no")}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gradebook.csv"]


def test_totals_add_up_each_students_points_in_the_order_they_come():
    rows = [Result("ben", "01.1", 1.0, 1.0), Result("ana", "01.1", 0.0, 1.0), Result("ben", "01.2", 0.5, 2.0)]
    assert list(totals(rows).items()) == [("ben", (1.5, 3.0)), ("ana", (0.0, 1.0))]


def test_a_gradebook_that_fails_to_write_leaves_the_old_one(tmp_path):
    """A row that cannot be written (points that are no number) stops the write before the old gradebook is gone."""
    path = tmp_path / "gradebook.csv"
    path.write_text("old\n")
    with pytest.raises(ValueError, match="format code 'g'"):
        write_gradebook([Result("ana", "01.1", "one", 1.0, "")], path)
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gradebook.csv"]


def test_a_feedback_page_shows_a_students_name_as_text(tmp_path):
    """The feedback index comes from a template with autoescaping: a name or a reason holding markup is shown, not
    run."""
    name = "<script>alert(1)</script>"
    rows = [Result(name, "01.1", 0.5, 1.0, "✘ <img src=x onerror=alert(2)>")]
    page = write_student_page(tmp_path, name, rows, ["01_x.html"]).read_text(encoding="utf-8")
    assert "<script>" not in page
    assert "<img" not in page
    assert "<h1>Feedback for &lt;script&gt;alert(1)&lt;/script&gt;</h1><p>0.5 of 1 points.</p>" in page
    assert "<td>✘ &lt;img src=x onerror=alert(2)&gt;</td>" in page
    assert "<li><a href='01_x.html'>01_x.html</a></li>" in page


# ----------------------------------------------------------------------------------------
# Outcomes: typed, each with its reason and its effect on the points
# ----------------------------------------------------------------------------------------

EXERCISES = [Exercise("ex-1", "01.1", 1.0), Exercise("ex-2", "01.2", 2.0)]
PASSED_AND_FAILED = {"ex-1": CheckResult(1.0), "ex-2": CheckResult(0.0, "✘ wrong")}


def test_an_outcome_that_voids_a_notebook_scores_every_exercise_0_and_says_why():
    for outcome, details in [
        (Outcome.NOTEBOOK_TIME_LIMIT, {"seconds": 3}),
        (Outcome.CELL_IGNORED_INTERRUPT, {"seconds": 2}),
        (Outcome.WROTE_OUTSIDE, {"paths": "/tmp/x"}),
        (Outcome.NBGRADER_FAILED, {"detail": ""}),
    ]:
        note = outcome.note(**details)
        rows = exercise_rows("ana", EXERCISES, NotebookGrade(dict(PASSED_AND_FAILED), [note]))
        assert [r.points for r in rows] == [0.0, 0.0], outcome
        assert [r.reason for r in rows] == [note.reason, f"✘ wrong; {note.reason}"], outcome


def test_tampering_keeps_the_points_the_released_checks_give():
    notes = [Outcome.CHECK_EDITED.note(grade_id="ex-1"), Outcome.CELL_INTERRUPTED.note(seconds=2)]
    grade = NotebookGrade(dict(PASSED_AND_FAILED), notes)
    rows = exercise_rows("ana", EXERCISES, grade)
    assert [r.points for r in rows] == [1.0, 0.0]
    expected = "check cell ex-1 was edited: graded as released; a cell ran past 2 s and was interrupted"
    assert [r.reason for r in rows] == [expected, f"✘ wrong; {expected}"]
    assert grade.tampered
    assert not grade.voided
    assert not grade.stopped


def test_a_check_that_did_not_run_scores_0():
    rows = exercise_rows("ana", EXERCISES, NotebookGrade({"ex-1": CheckResult(1.0)}))
    assert [(r.points, r.reason) for r in rows] == [(1.0, ""), (0.0, "check did not run")]


def test_the_command_line_says_why_it_cannot_grade(tmp_path, capsys):
    """`python -m tools.grading grade FOLDER` of a folder that is not there: status 1 and the reason, no traceback."""
    missing = tmp_path / "submissions"
    assert grading.main(["grade", str(missing), "--out", str(tmp_path / "grades"), "--no-sandbox"]) == 1
    assert capsys.readouterr().err == f"error: {missing} is not a folder of submissions (one subfolder per student)\n"


def test_grading_without_bubblewrap_refuses_and_says_what_to_install(tmp_path, monkeypatch, capsys):
    (tmp_path / "submissions").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    assert grading.main(["grade", str(tmp_path / "submissions"), "--out", str(tmp_path / "grades")]) == 1
    err = capsys.readouterr().err
    assert "apt-get install bubblewrap" in err
    assert "--no-sandbox" in err
    assert not (tmp_path / "grades").exists()


def test_a_cell_that_starts_like_a_formula_is_made_inert():
    assert [inert(c) for c in ("=2+3", "+1", "-x", "@SUM(A1)", "alice", "1.5")] == [
        "'=2+3", "'+1", "'-x", "'@SUM(A1)", "alice", "1.5",
    ]  # fmt: skip


def test_json_depth_is_counted_outside_strings_without_recursion():
    assert json_depth('{"a": [1, {"b": "[[[["}]}') == 3
    assert json_depth("[" * 100_000 + "]" * 100_000) == 100_000


def test_a_latin1_folder_name_reads_as_text():
    name = os.fsdecode(b"Ren\xe9e")
    assert display_name(name) == "Renée"
    assert display_name("Zoë") == "Zoë"


def test_points_that_are_no_number_are_none():
    assert [as_number(v) for v in (2, "1.5", "abc", None, [1])] == [2.0, 1.5, None, None, None]


def test_a_feedback_page_gets_a_content_security_policy_and_its_leaks_are_found():
    page = safe_page(b"<html><head><title>t</title></head><body><span>assert</span> f(2) == 4</body></html>")
    assert page.index(b"Content-Security-Policy") < page.index(b"<title>")
    secret = {"assert f(2) == 4", "return 2 * x"}
    assert leaked(page, secret, own="") == ["assert f(2) == 4"]
    assert leaked(page, secret, own="assert f(2) == 4") == []  # the student's own line is no leak


def test_a_feedback_page_runs_nothing():
    page = safe_page(
        b"<html><head><script src='require.js'></script></head><body><img src=x onerror=alert(1)>"
        b"<SCRIPT type='text/javascript'>\nalert(2)\n</SCRIPT ><a href='#' onclick=\"steal()\">a</a></body></html>"
    )
    assert b"<script" not in page.lower()
    assert b"onerror" not in page
    assert b"onclick" not in page
    assert b'<img src="x">' in page  # the element stays, without its handler
    assert safe_page(b"<pre>only = 1; onion = 2</pre>").endswith(b"<pre>only = 1; onion = 2</pre>")  # text stays


def test_a_feedback_page_opens_with_the_gradebooks_points_and_reasons():
    rows = [Result("eve", "01.1", 0.0, 2.0, "needs review: <b>hook</b> added"), Result("eve", "01.2", 0.0, 1.0, "")]
    page = with_gradebook(b"<html><body><p>nbgrader: 3 / 3</p></body></html>", rows).decode()
    assert page.index("Gradebook: 0 of 3 points") < page.index("nbgrader: 3 / 3")
    assert "needs review: &lt;b&gt;hook&lt;/b&gt; added" in page  # escaped
