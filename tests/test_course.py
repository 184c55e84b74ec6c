"""The course's notebooks: course.toml, notebooks/ and the README's table tell the same story; lesson code exports."""

from __future__ import annotations

import re

from course_utils.course import NOTEBOOKS, course_map, lesson_code, notebook_paths
from course_utils.env import REPO_ROOT

ROW = re.compile(r"^\| (\d\d) \| \[[^\]]+\]\(notebooks/([^)]+)\) \| .+ \| ([\d.]+) min \| ([\d.]+) min \|$")


def test_every_notebook_is_on_the_map_in_order():
    assert sorted(notebook_paths()) == sorted(NOTEBOOKS.glob("*.ipynb")), "course.toml and notebooks/ differ"
    assert [p.name for p in notebook_paths()] == sorted(p.name for p in notebook_paths()), "numbered in course order"


def test_readme_table_matches_the_map():
    rows = [ROW.match(line) for line in (REPO_ROOT / "README.md").read_text().splitlines()]
    table = [(m[2], float(m[3]), float(m[4])) for m in rows if m]
    expected = [(e["file"], float(e["minutes_quick"]), float(e["minutes_full"])) for e in course_map()]
    assert table == expected, "README.md's table of notebooks differs from course.toml (file, quick and full minutes)"


def test_lesson_code_runs_only_the_cells_tagged_export():
    lesson = lesson_code("06_caltech101_vgg16.ipynb")
    assert {"split_caltech101", "eval_transform", "train_transform", "source_head"} <= set(lesson)
    assert "history" not in lesson
    assert "backbone" not in lesson
    head = lesson["source_head"](1280, 101)
    assert [type(m).__name__ for m in head] == ["Linear", "ReLU", "Dropout", "Linear", "LogSoftmax"]


def test_every_notebook_has_cells_whose_output_nbval_compares():
    """`# NBVAL_CHECK_OUTPUT` on deterministic cells (CONTRIBUTING): without one, nbval compares nothing there."""
    import json

    for path in notebook_paths():
        cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
        checked = [c for c in cells if "".join(c["source"]).lstrip().startswith("# NBVAL_CHECK_OUTPUT")]
        assert checked, f"{path.name}: no cell starts with # NBVAL_CHECK_OUTPUT, so nbval compares nothing in it"
