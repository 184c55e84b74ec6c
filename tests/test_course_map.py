"""course.toml, notebooks/ and the README's table of notebooks must tell the same story."""
from __future__ import annotations

import re

from course_utils.env import REPO_ROOT, course_map

ROW = re.compile(r"^\| (\d\d) \| \[[^\]]+\]\(notebooks/([^)]+)\) \| .+ \| ([\d.]+) min \| ([\d.]+) min \|$")


def test_every_notebook_is_on_the_map_in_order():
    on_disk = sorted(p.name for p in (REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    assert [entry["file"] for entry in course_map()] == on_disk


def test_readme_table_matches_the_map():
    rows = [ROW.match(line) for line in (REPO_ROOT / "README.md").read_text().splitlines()]
    table = [(m[2], float(m[3]), float(m[4])) for m in rows if m]
    expected = [(e["file"], float(e["minutes_quick"]), float(e["minutes_full"])) for e in course_map()]
    assert table == expected, "README.md's table of notebooks differs from course.toml (file, quick and full minutes)"
