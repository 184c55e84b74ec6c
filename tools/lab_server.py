"""A JupyterLab for the browser: on a folder, with a token, its own settings, on a free port, stopped on exit."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from .waiting import wait_for


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_environment(home: str, env: dict | None) -> dict:
    """This process's environment, JupyterLab's settings, workspaces and runtime files in `home`, then `env`
    (a value of None removes that name)."""
    run_env = dict(os.environ)
    run_env.update(
        JUPYTERLAB_SETTINGS_DIR=f"{home}/settings",
        JUPYTERLAB_WORKSPACES_DIR=f"{home}/workspaces",
        JUPYTER_RUNTIME_DIR=f"{home}/runtime",
    )
    for name, value in (env or {}).items():
        if value is None:
            run_env.pop(name, None)
        else:
            run_env[name] = value
    return run_env


def lab_command(root_dir: Path, port: int, token: str) -> list[str]:
    """The command line of a JupyterLab on `root_dir` at 127.0.0.1:`port`, no browser, no update checks."""
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root_dir}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    return cmd


def answers(url: str) -> bool:
    """Whether the server at `url` (its status URL, token included) answers."""
    with contextlib.suppress(OSError):
        urllib.request.urlopen(url, timeout=2).close()
        return True
    return False


def wait_until_up(proc: subprocess.Popen, url: str, token: str, log: IO[str], timeout: float) -> None:
    """Return once the server answers; RuntimeError with its log when it exits or `timeout` passes first."""
    status = f"{url}/api/status?token={token}"
    up = wait_for(lambda: proc.poll() is not None or answers(status), timeout, every_s=0.3)
    if not up or proc.poll() is not None:
        log.seek(0)
        raise RuntimeError(f"JupyterLab did not start:\n{log.read()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """Terminate the server, and kill it when it has not exited 20 s later."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def jupyter_lab(root_dir: Path, env: dict | None = None, timeout: float = 90) -> Iterator[tuple[str, str]]:
    """A JupyterLab server on `root_dir`: yields (url, token); stopped on exit.

    User settings, workspaces and runtime files go to a temporary folder, so a run neither reads nor
    changes the user's own; `env` is added to the server's (and its kernels') environment (None removes a name).
    """
    token, port = os.urandom(12).hex(), free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="course-lab-") as home, open(Path(home) / "lab.log", "w+") as log:
        proc = subprocess.Popen(
            lab_command(root_dir, port, token), env=lab_environment(home, env), stdout=log, stderr=subprocess.STDOUT,
            cwd=root_dir,
        )  # fmt: skip
        try:
            wait_until_up(proc, url, token, log, timeout)
            yield url, token
        finally:
            stop(proc)
