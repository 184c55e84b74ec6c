"""The class of tests/test_classroom.py: system users made for it and removed after, the hub of classroom/ started on
free loopback ports, commands run as one of its users, and what a student's files may be tried against."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tools.classroom import Classroom, settings, user_environment
from tools.lab_server import free_port
from tools.paths import ROOT
from tools.reachable import course_paths, reachable_command
from tools.waiting import wait_for

HUB_CONFIG = ROOT / "classroom" / "jupyterhub_config.py"

# The hub of classroom/, plus what only the test needs: its ports, and a service whose token spawns servers and
# reaches them (as an instructor's browser would after logging in).
TEST_CONFIG = """load_subconfig({config!r})
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.JupyterHub.services.append({{"name": "classroom-test", "api_token": {token!r}}})
c.JupyterHub.load_roles.append({{"name": "classroom-test", "services": ["classroom-test"],
                                 "scopes": ["admin:users", "admin:servers", "access:servers"]}})
"""


@dataclass
class Hub:
    """A running hub: its classroom, users (name -> password), address, token, and the folder the test owns."""

    room: Classroom
    base: Path
    users: dict[str, str]
    token: str
    process: subprocess.Popen | None = None
    homes: dict[str, Path] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.room.port}"

    def api(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        """A request to the hub (or through it, to a user's server) with the test's token: (status, JSON or text)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Authorization", f"token {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
                status = response.status
        except urllib.error.HTTPError as error:
            text, status = error.read().decode(errors="replace"), error.code
        except (urllib.error.URLError, ConnectionError) as error:  # not listening (yet)
            return 0, str(error)
        try:
            return status, json.loads(text) if text else None
        except json.JSONDecodeError:
            return status, text

    def log(self) -> str:
        return (self.base / "hub.log").read_text(errors="replace")[-6000:]

    def run_as(
        self, user: str, args: list[str], cwd: Path | None = None, timeout: float = 240
    ) -> subprocess.CompletedProcess:
        """`python ARGS` as `user` in their home, with the environment their server has (tools.classroom)."""
        home = self.homes[user]
        env = {"HOME": str(home), "USER": user, "LOGNAME": user, "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
               "PYTHONPATH": str(ROOT), "LANG": "C.UTF-8"}  # fmt: skip
        env |= user_environment(self.room, home, user in self.room.instructors)
        argv = ["runuser", "-u", user, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()), sys.executable, *args]
        command = reachable_command(course_paths(self.room.data), argv, self.base / "mounts")
        return subprocess.run(command, cwd=cwd or home, capture_output=True, text=True, timeout=timeout, check=False)


def needs() -> str:
    """Why the classroom cannot be tried here ("" when it can)."""
    if os.geteuid() != 0:
        return "the classroom test makes system users: it needs root"
    missing = [
        tool for tool in ("useradd", "groupadd", "userdel", "runuser", "unshare", "chpasswd") if not shutil.which(tool)
    ]
    return f"the classroom test needs {', '.join(missing)}" if missing else ""


def run(*argv: str) -> None:
    """A system command that must succeed (useradd, groupadd, chpasswd)."""
    subprocess.run(argv, check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def system_users(base: Path, names: list[str], group: str) -> Iterator[dict[str, str]]:
    """Unix users `names` (the first an instructor, the rest in `group`), homes under base/home, each with a fresh
    password: name -> password. Removed afterwards with their homes and the group, even when a test failed."""
    made, passwords = [], {}
    try:
        run("groupadd", group)
        (base / "home").mkdir(mode=0o755)
        for i, name in enumerate(names):
            groups = ["-G", group] if i else []
            run("useradd", "--create-home", "--base-dir", str(base / "home"), "--user-group", "-K", "HOME_MODE=0755",
                "--shell", "/bin/bash", *groups, name)  # fmt: skip
            made.append(name)
            passwords[name] = secrets.token_urlsafe(12)
            subprocess.run(["chpasswd"], input=f"{name}:{passwords[name]}", text=True, check=True, timeout=30)
        yield passwords
    finally:
        for name in made:
            subprocess.run(["userdel", "--remove", name], capture_output=True, timeout=30, check=False)
            subprocess.run(["groupdel", name], capture_output=True, timeout=30, check=False)  # left by a failed userdel
        subprocess.run(["groupdel", group], capture_output=True, timeout=30, check=False)


def classroom_base() -> Path:
    """A folder every user may pass through (pytest's own temporary folders are root's alone)."""
    base = Path(tempfile.mkdtemp(prefix="cu-classroom-"))
    base.chmod(0o755)
    return base


def start_hub(base: Path, users: dict[str, str], group: str, data: Path) -> Hub:
    """The hub of classroom/jupyterhub_config.py on free loopback ports, its state in base/srv, running."""
    token = secrets.token_hex(16)
    instructor = next(iter(users))
    env = {"CLASSROOM_ROOT": str(base / "srv"), "CLASSROOM_DATA": str(data), "CLASSROOM_INSTRUCTORS": instructor,
           "CLASSROOM_GROUP": group, "CLASSROOM_PORT": str(free_port())}  # fmt: skip
    hub = Hub(settings(env), base, users, token)
    config = base / "test_config.py"
    config.write_text(
        TEST_CONFIG.format(config=str(HUB_CONFIG), hub_port=free_port(), api_port=free_port(), token=token)
    )
    (base / "mounts").mkdir()
    hub.room.root.mkdir()
    command = reachable_command(
        course_paths(data), [sys.executable, "-m", "jupyterhub", "-f", str(config)], base / "mounts"
    )
    with open(base / "hub.log", "w") as log:
        hub.process = subprocess.Popen(command, cwd=hub.room.root, env={**os.environ, **env}, stdout=log, stderr=log)
    up = wait_for(lambda: hub.process.poll() is not None or hub.api("GET", "/hub/api/")[0] == 200, 120, every_s=0.3)
    if not up or hub.process.poll() is not None:
        stop_hub(hub)
        raise RuntimeError(f"the hub did not start:\n{hub.log()}")
    return hub


def stop_hub(hub: Hub) -> None:
    """The hub and every process it started (its proxy, the users' servers), stopped."""
    if hub.process and hub.process.poll() is None:
        hub.process.terminate()  # JupyterHub stops the servers it spawned and its proxy when it is told to
        try:
            hub.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            hub.process.kill()
            hub.process.wait()
    for name in hub.users:  # anything of theirs still running (a kernel, a server the hub lost track of), by id
        found = subprocess.run(["pgrep", "-u", name], capture_output=True, text=True, timeout=10, check=False)
        for pid in found.stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
    time.sleep(0.2)
