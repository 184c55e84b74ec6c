"""`make classroom`: the course's JupyterHub (classroom/jupyterhub_config.py) on this machine for a trial, with how to
log in printed first. As root: the hub starts each user's server as that user. Settings: CLASSROOM_* (tools.classroom).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .classroom import Classroom, prepare_classroom, settings
from .paths import ROOT
from .reachable import course_paths, reachable_command

CONFIG = ROOT / "classroom" / "jupyterhub_config.py"


def how_to_log_in(room: Classroom) -> str:
    """What the instructor reads before the hub starts: the address, who may log in, how to add a student."""
    teachers = ", ".join(sorted(room.instructors)) or "none (set CLASSROOM_INSTRUCTORS=name: they get the admin page)"
    return "\n".join([
        f"The course's JupyterHub: http://{room.ip}:{room.port}/ (Ctrl-C stops it and every user's server)",
        "Log in with a system user's name and password (PAM).",
        f"  instructors (admins, nbgrader's formgrader): {teachers}",
        f"  students: members of the Unix group {room.group!r}; add one with",
        f"    groupadd -f {room.group} && useradd --create-home -G {room.group} NAME && passwd NAME",
        f"nbgrader's exchange: {room.exchange}; the shared data (read-only to students): {room.data}",
        "Release, collect, grade and hand back: README, 'A class on one server'.",
    ])  # fmt: skip


def main() -> int:
    """Print how to log in, then run the hub until it is stopped; 1 when not root."""
    if os.geteuid() != 0:
        print("make classroom: run it as root (sudo make classroom): the hub starts each user's server as that user")
        return 1
    room = settings()
    prepare_classroom(room)
    print(how_to_log_in(room), flush=True)
    with tempfile.TemporaryDirectory(prefix="classroom-mounts-") as scratch:
        command = reachable_command(course_paths(room.data), [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)],
                                    Path(scratch))  # fmt: skip
        try:
            return subprocess.run(command, cwd=room.root, check=False).returncode
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
