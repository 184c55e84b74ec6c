"""The course's notebooks: the course map, the one notebook finder, and the lesson code a notebook exports."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from .env import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"
COURSE_TOML = REPO_ROOT / "course.toml"


def course_info(course_toml: Path = COURSE_TOML) -> dict:
    """course.toml's optional [course] table (title, description)."""
    return tomllib.loads(Path(course_toml).read_text()).get("course", {})


def course_map(course_toml: Path = COURSE_TOML) -> list[dict]:
    """The notebooks of the course in order, from course.toml (file, title, teaches, minutes per profile)."""
    entries = tomllib.loads(Path(course_toml).read_text())["notebook"]
    missing = [entry for entry in entries if "file" not in entry]
    if missing:
        raise ValueError(f"{course_toml}: every [[notebook]] needs a 'file' key: {missing[0]}")
    return entries


def notebook_paths(folder: Path = NOTEBOOKS, course_toml: Path = COURSE_TOML) -> list[Path]:
    """The course's notebooks in course order (course.toml's), as paths in `folder`."""
    return [Path(folder) / entry["file"] for entry in course_map(course_toml)]


def lesson_code(notebook: str) -> dict:
    """Run the code cells tagged `export` of a notebook in notebooks/ and return what they define."""
    path = NOTEBOOKS / notebook
    cells = json.loads(path.read_text())["cells"]
    namespace: dict = {"__name__": f"lesson_{path.stem}"}
    for cell in cells:
        if cell["cell_type"] == "code" and "export" in cell.get("metadata", {}).get("tags", []):
            exec(compile("".join(cell["source"]), f"{path.name}[export]", "exec"), namespace)
    return namespace
