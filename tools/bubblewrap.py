"""The sandbox of a student's kernel: bubblewrap (bwrap), found at run time, and the command line it wraps a kernel in.

Inside: a read-only view of the system, of Python and its packages, of `course_utils` alone (not the repository
around it) and of the datasets; one writable scratch folder (the kernel's home, temporary folder and connection
folder); no network, its own PID, IPC and UTS namespaces, a new session, death with its parent, no capabilities;
limits on address space, processes and file size. Run as root, the kernel runs as `nobody` (65534).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .errors import GradingError

INSTALL = (
    "grading runs every kernel in a sandbox, and bubblewrap was not found: install it (Debian/Ubuntu: "
    "apt-get install bubblewrap; Fedora: dnf install bubblewrap), or pass --no-sandbox to grade without one "
    "(student code then runs with your rights: README, 'Grading a class')"
)
NOBODY = 65534
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group", "hosts")
ETC += ("fonts", "mime.types", "alternatives")
NAMESPACES = ("--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try")


@dataclass(frozen=True)
class Limits:
    """What one notebook's kernel may use: bytes of address space, processes (threads count), bytes of output."""

    memory: int = 6 * 2**30
    processes: int = 512
    output: int = 4 * 2**20
    file_size: int = 512 * 2**20


@dataclass(frozen=True)
class Bubblewrap:
    """bwrap at `path`, with the folders every kernel may read and the limits it runs under."""

    path: str
    readable: tuple[str, ...]
    limits: Limits = Limits()

    @property
    def as_root(self) -> bool:
        """Whether the grader is root: the kernel then drops to nobody, whose processes the limit counts."""
        return os.geteuid() == 0

    def prepare(self, scratch: Path) -> None:
        """Give the scratch folder and all in it to the user the kernel runs as; 0711: bwrap enters it first."""
        if self.as_root:
            for p in [scratch, *scratch.rglob("*")]:
                os.chown(p, NOBODY, NOBODY, follow_symlinks=False)
            scratch.chmod(0o711)

    def command(self, argv: list[str], scratch: Path) -> list[str]:
        """`argv` (the kernel's command line) inside the sandbox, with `scratch` its one writable folder."""
        lim = self.limits
        nproc = lim.processes if self.as_root else lim.processes + own_tasks()  # counted per user, all of its tasks
        limits = ["prlimit", f"--as={lim.memory}", f"--nproc={nproc}", f"--fsize={lim.file_size}", "--core=0", "--"]
        cmd = [*limits, self.path, "--die-with-parent", "--new-session", *NAMESPACES, "--cap-drop", "ALL"]
        cmd += ["--unsetenv", "JPY_PARENT_PID"]  # a PID of the namespace outside: the kernel would think it gone
        cmd += system_mounts() + ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
        for path in self.readable:
            cmd += parents(path) + ["--ro-bind", path, path]
        cmd += parents(str(scratch)) + ["--bind", str(scratch), str(scratch), "--chdir", str(scratch)]
        if self.as_root:
            cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--", "setpriv", f"--reuid={NOBODY}"]
            cmd += [f"--regid={NOBODY}", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]
        return [*cmd, "--", *argv]


def own_tasks() -> int:
    """How many tasks (processes and threads) this user runs now: RLIMIT_NPROC counts them all."""
    import psutil

    uid = os.getuid()
    return sum(
        p.info["num_threads"] or 1 for p in psutil.process_iter(["uids", "num_threads"]) if p.info["uids"][0] == uid
    )


def system_mounts() -> list[str]:
    """The system's programs and libraries, read-only, with /bin and /lib as the symlinks they are here."""
    cmd = []
    for path in SYSTEM:
        if os.path.islink(path):
            cmd += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            cmd += ["--ro-bind", path, path]
    for name in ETC:
        if os.path.exists(f"/etc/{name}"):
            cmd += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    return cmd


def parents(path: str) -> list[str]:
    """bwrap's arguments that make the folders above `path` traversable (it makes them 0700 otherwise)."""
    cmd = []
    for parent in reversed(Path(path).parents):
        if str(parent) not in ("/", *SYSTEM):
            cmd += ["--perms", "0755", "--dir", str(parent)]
    return cmd


def readable_paths() -> tuple[str, ...]:
    """What every kernel reads: Python and its packages, the course_utils package alone, the datasets, the weights."""
    import course_utils
    from course_utils.env import data_root

    torch_home = (
        os.environ.get("TORCH_HOME") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "torch"
    )
    found = [sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))]
    found += [str(Path(course_utils.__file__).resolve().parent), str(data_root()), str(torch_home)]
    found = sorted({os.path.realpath(p) for p in found if os.path.isdir(p)})
    return tuple(p for p in found if not any(p != q and p.startswith(q + os.sep) for q in found))


def find_bubblewrap(limits: Limits | None = None) -> Bubblewrap:
    """bwrap on PATH, once seen to start a sandbox here; GradingError saying what to install or enable otherwise."""
    path = shutil.which("bwrap")
    if path is None:
        raise GradingError(INSTALL)
    trial = [path, "--ro-bind", "/", "/", *NAMESPACES, "--die-with-parent", "true"]
    try:
        done = subprocess.run(trial, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise GradingError(f"bubblewrap ({path}) could not start a sandbox: {error}") from error
    if done.returncode:
        raise GradingError(
            f"bubblewrap ({path}) could not start a sandbox: {done.stderr.strip()} (it needs user namespaces: "
            "sysctl kernel.unprivileged_userns_clone=1, or run as root); or pass --no-sandbox"
        )
    return Bubblewrap(path, readable_paths(), limits or Limits())
