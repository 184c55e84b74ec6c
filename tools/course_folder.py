"""nbgrader's course folder: one assignment per notebook (source/NN_name/NN_name.ipynb), released by nbgrader."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import GradingError
from .paths import NBGRADER_CONFIG

if TYPE_CHECKING:
    from nbgrader.apps import NbGraderAPI


def nbgrader_api(course: Path, **overrides: object) -> NbGraderAPI:
    """nbgrader's API on the course folder: its nbgrader_config.py, then `overrides` ({"Execute.timeout": 5})."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config, PyFileConfigLoader

    bin_dir = str(Path(sys.executable).parent)  # nbgrader runs `alembic` from PATH when it makes a gradebook
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    extra = Config()
    for key, value in overrides.items():
        section, name = key.split(".")
        extra[section][name] = value
    cfg.merge(extra)
    coursedir = CourseDirectory(config=cfg, root=str(course))
    return NbGraderAPI(coursedir=coursedir, config=cfg)


def make_course(notebooks: list[Path], course: Path) -> Path:
    """A fresh nbgrader course folder: the config, source/<id>/<id>.ipynb, and release/ made by generate_assignment."""
    course = Path(course)
    if course.exists():
        shutil.rmtree(course)
    course.mkdir(parents=True)
    shutil.copy2(NBGRADER_CONFIG, course / "nbgrader_config.py")
    for path in notebooks:
        (course / "source" / path.stem).mkdir(parents=True)
        shutil.copy2(path, course / "source" / path.stem / path.name)
    api = nbgrader_api(course)
    for path in notebooks:
        result = api.generate_assignment(path.stem, force=True, create=True)
        if not result["success"]:
            raise GradingError(f"nbgrader generate_assignment {path.stem} failed:\n{result.get('log', '')[-3000:]}")
    return course
