"""The classroom's pieces, without root or a hub: its settings and folders, a student's data links, the hand-off
between nbgrader's exchange and the grader, and the mount namespace that makes root's environment reachable."""

from __future__ import annotations

import json
import os
import shutil

import pytest

AID = "90_tiny"


def test_settings_come_from_classroom_variables(tmp_path):
    from tools.classroom import settings

    room = settings({"CLASSROOM_ROOT": str(tmp_path), "CLASSROOM_INSTRUCTORS": "kim, lee", "CLASSROOM_PORT": "8123"})
    assert (room.root, room.exchange, room.port) == (tmp_path, tmp_path / "exchange", 8123)
    assert room.instructors == {"kim", "lee"}
    assert room.ip == "127.0.0.1"


def test_the_classroom_folders_and_the_students_settings(tmp_path):
    from tools.classroom import prepare_classroom, settings, user_environment

    room = settings({"CLASSROOM_ROOT": str(tmp_path / "srv"), "CLASSROOM_DATA": str(tmp_path / "data")})
    prepare_classroom(room)
    assert room.exchange.stat().st_mode & 0o777 == 0o777  # nbgrader's mode: everyone submits into it
    assert f"c.Exchange.root = {str(room.exchange)!r}" in (room.jupyter_config / "nbgrader_config.py").read_text()
    server = json.loads((room.student_config / "jupyter_server_config.json").read_text())
    assert server["ServerApp"]["jpserver_extensions"]["nbgrader.server_extensions.formgrader"] is False
    student = user_environment(room, tmp_path / "home", instructor=False)["JUPYTER_CONFIG_PATH"].split(os.pathsep)
    teacher = user_environment(room, tmp_path / "home", instructor=True)["JUPYTER_CONFIG_PATH"].split(os.pathsep)
    assert (student, teacher) == ([str(room.student_config), str(room.jupyter_config)], [str(room.jupyter_config)])


def test_a_students_data_folder_links_the_shared_copy(tmp_path):
    from tools.classroom import link_shared_data

    shared = tmp_path / "shared"
    (shared / "MNIST" / "raw").mkdir(parents=True)
    (shared / "dogs-vs-cats.download.json").write_text("{}")
    (shared / "unrelated").mkdir()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "caltech101").mkdir()  # a copy of the student's own stays as it is
    links = link_shared_data(mine, shared)
    assert sorted(link.name for link in links) == ["MNIST", "dogs-vs-cats.download.json"]
    assert all(link.resolve() == shared / link.name for link in links)
    assert not (mine / "caltech101").is_symlink()
    assert link_shared_data(mine, shared) == links  # again: nothing changes
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "trap").symlink_to(elsewhere)  # a student's data folder made a link to a folder root would write in
    assert link_shared_data(tmp_path / "trap", shared) == []
    assert list(elsewhere.iterdir()) == []


def test_collected_notebooks_and_the_feedback_handed_back(tmp_path):
    from tools.classroom_exchange import collected, hand_back

    course, grades = tmp_path / "course", tmp_path / "grades"
    for student in ("ann", "bob"):
        submitted = course / "submitted" / student / AID
        submitted.mkdir(parents=True)
        (submitted / f"{AID}.ipynb").write_text("{}")
        (submitted / "timestamp.txt").write_text("2026-12-04 21:00:00")
        (submitted / "submission_secret.txt").write_text(student * 8)
    (grades / "feedback" / "ann").mkdir(parents=True)
    (grades / "feedback" / "ann" / f"{AID}.html").write_text("<html>ann's page</html>")
    copied = collected(course, AID, tmp_path / "class")
    assert [p.relative_to(tmp_path).as_posix() for p in copied] == [f"class/ann/{AID}.ipynb", f"class/bob/{AID}.ipynb"]
    pages = hand_back(course, AID, grades)
    assert pages == [course / "feedback" / "ann" / AID / f"{AID}.html"]  # bob has no page: nothing to release
    assert (pages[0].parent / "submission_secret.txt").read_text() == "ann" * 8
    assert pages[0].stat().st_mode & 0o044 == 0o044  # nbgrader copies the mode: the student must read it


@pytest.fixture
def open_folder():
    """A folder every user may pass through, on every folder above it (pytest's own are root's alone)."""
    from classroom import classroom_base

    base = classroom_base()
    yield base
    shutil.rmtree(base)


def test_paths_in_a_closed_folder_are_bound_back_in_a_namespace(open_folder):
    from tools.reachable import closed, reachable_command

    tmp_path = open_folder
    shut = tmp_path / "shut"
    (shut / "env" / "bin").mkdir(parents=True)
    (tmp_path / "open").mkdir()
    shut.chmod(0o700)
    assert closed([shut / "env", shut / "env" / "bin", tmp_path / "open"]) == {shut: [shut / "env"]}
    assert reachable_command([tmp_path / "open"], ["true"], tmp_path) == ["true"]
    command = reachable_command([shut / "env"], ["python", "-V"], tmp_path / "scratch")
    assert command[:4] == ["unshare", "--mount", "--propagation", "private"]
    script = command[-1]
    assert f"mount -t tmpfs -o mode=0711 classroom {shut}" in script
    assert f"mount --bind {tmp_path / 'scratch' / 'real0' / 'env'} {shut / 'env'}" in script
    assert script.endswith("exec python -V")


def test_the_round_trip_says_why_it_cannot_run(monkeypatch):
    from classroom import needs

    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "needs root" in needs()
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    monkeypatch.setattr(shutil, "which", lambda tool: None if tool == "useradd" else f"/usr/sbin/{tool}")
    assert needs() == "the classroom test needs useradd"
