"""A class on one server: the classroom's folders, each user's home and environment on the hub (classroom/).

The hub (classroom/jupyterhub_config.py) reads its settings from CLASSROOM_* variables through `settings`, and calls
`prepare_home` before it starts a user's server: the home closed to others, a data folder whose datasets are links to
the one shared, verified, read-only copy, and the environment that points the course and nbgrader at them.
"""

from __future__ import annotations

import json
import os
import pwd
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from course_utils.catalog import DATASETS

from .paths import BUILD, ROOT

COURSE_ID = "pytorch-course"  # as in tools/nbgrader_config.py
DATA_FOLDER = "pytorch-course-data"  # in each home: the student's own data root (splits, checkpoints, caches)
INSTRUCTOR_ONLY = ("formgrader", "create_assignment")  # nbgrader's tools for the instructor, off for students
EXCHANGE_MODE = 0o777  # nbgrader's exchange root: every user writes their submissions into it (nbgrader's mode)


@dataclass(frozen=True)
class Classroom:
    """Where the classroom keeps things, who teaches, who may log in, and where the hub listens."""

    root: Path  # the hub's state: its database, cookie secret, nbgrader's shared configuration
    data: Path  # the shared, verified, read-only copy of the datasets (a data root)
    exchange: Path  # nbgrader's exchange
    instructors: frozenset[str]  # the hub's admins, who release, collect and grade
    group: str  # the Unix group whose members may log in (the students)
    ip: str
    port: int

    @property
    def jupyter_config(self) -> Path:
        """The folder of the nbgrader_config.py every user's nbgrader reads (JUPYTER_CONFIG_PATH)."""
        return self.root / "jupyter"

    @property
    def student_config(self) -> Path:
        """The folder of the Jupyter settings only students get, read first: nbgrader's instructor tools off."""
        return self.root / "jupyter-students"


def settings(environ: Mapping[str, str] = os.environ) -> Classroom:
    """The classroom that CLASSROOM_* variables describe; defaults for a trial: _build/classroom on 127.0.0.1:8000."""
    root = Path(environ.get("CLASSROOM_ROOT") or BUILD / "classroom").resolve()
    data = Path(environ.get("CLASSROOM_DATA") or environ.get("COURSE_DATA") or ROOT / "data").resolve()
    instructors = frozenset(n for n in environ.get("CLASSROOM_INSTRUCTORS", "").replace(",", " ").split() if n)
    return Classroom(
        root=root,
        data=data,
        exchange=Path(environ.get("CLASSROOM_EXCHANGE") or root / "exchange").resolve(),
        instructors=instructors,
        group=environ.get("CLASSROOM_GROUP", "pytorch-course"),
        ip=environ.get("CLASSROOM_IP", "127.0.0.1"),
        port=int(environ.get("CLASSROOM_PORT", "8000")),
    )


def nbgrader_config_text(room: Classroom) -> str:
    """The nbgrader settings every user shares: the course id and the exchange."""
    lines = ["c = get_config()  # noqa: F821", f"c.CourseDirectory.course_id = {COURSE_ID!r}"]
    return "\n".join([*lines, f"c.Exchange.root = {str(room.exchange)!r}", ""])


def student_settings() -> dict[str, dict]:
    """Jupyter's settings files for students: nbgrader's formgrader and assignment creator off, server and lab."""
    server = {f"nbgrader.server_extensions.{name}": False for name in INSTRUCTOR_ONLY}
    lab = {f"@jupyter/nbgrader:{name.replace('_', '-')}": True for name in INSTRUCTOR_ONLY}
    return {
        "jupyter_server_config.json": {"ServerApp": {"jpserver_extensions": server}},
        "labconfig/page_config.json": {"disabledExtensions": lab},
    }


def prepare_classroom(room: Classroom) -> None:
    """The hub's folder (closed to users), nbgrader's shared configuration and the students' settings (readable), and
    the exchange (nbgrader's mode: anyone writes, nbgrader's own folders inside keep students apart)."""
    room.root.mkdir(parents=True, exist_ok=True)
    room.root.chmod(0o711)
    files = {room.jupyter_config / "nbgrader_config.py": nbgrader_config_text(room)}
    files |= {room.student_config / name: json.dumps(value, indent=1) for name, value in student_settings().items()}
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)
        for folder in path.relative_to(room.root).parents[:-1]:
            (room.root / folder).chmod(0o755)
    room.exchange.mkdir(parents=True, exist_ok=True)
    room.exchange.chmod(EXCHANGE_MODE)


def shared_entries(data: Path) -> list[str]:
    """The top-level names of the shared data root that hold the course's datasets and their records."""
    names = {ds.folder.split("/")[0] for ds in DATASETS.values()} | {
        f"{ds.folder}.download.json" for ds in DATASETS.values()
    }
    return sorted(n for n in names if (data / n).exists())


def link_shared_data(folder: Path, data: Path) -> list[Path]:
    """`folder` with a link to each dataset of the shared copy `data` (what a student's own copy would hold);
    an entry already there that is not such a link is left as it is. The links made or kept. A `folder` that is
    itself a link (the hub runs this as root in a folder its user owns) is not followed: nothing is made."""
    if folder.is_symlink():
        return []
    folder.mkdir(exist_ok=True)
    links = []
    for name in shared_entries(data):
        link = folder / name
        if link.is_symlink() and Path(os.readlink(link)) != data / name:
            link.unlink()
        if not link.exists() and not link.is_symlink():
            link.symlink_to(data / name)
        if link.is_symlink():
            links.append(link)
    return links


def user_environment(room: Classroom, home: Path, instructor: bool) -> dict[str, str]:
    """What a user's server runs with: their own data root (links to the shared copy), the shared copy as the mirror
    (a link removed is copied back from it, not downloaded), nbgrader's shared configuration, and for a student the
    settings that turn the instructor's tools off."""
    configs = [room.jupyter_config] if instructor else [room.student_config, room.jupyter_config]
    return {
        "COURSE_DATA": str(home / DATA_FOLDER),
        "COURSE_DATA_MIRROR": str(room.data),
        "JUPYTER_CONFIG_PATH": os.pathsep.join(map(str, configs)),
    }


def prepare_home(room: Classroom, username: str) -> dict[str, str]:
    """A user's home before their server starts: closed to other users (0700), their data folder linked to the shared
    copy and owned by them; the environment their server runs with."""
    user = pwd.getpwnam(username)
    home = Path(user.pw_dir)
    home.chmod(0o700)
    data = home / DATA_FOLDER
    for path in (data, *link_shared_data(data, room.data)):
        os.lchown(path, user.pw_uid, user.pw_gid)
    return user_environment(room, home, username in room.instructors)


def singleuser_command() -> list[str]:
    """Each user's server: jupyterhub-singleuser from this environment, started as a module (whatever the scripts'
    shebangs say), opening JupyterLab."""
    return [sys.executable, "-m", "jupyterhub.singleuser", "--SingleUserNotebookApp.default_url=/lab"]
