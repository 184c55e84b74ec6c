"""Run a command where paths inside a private folder (root's home, 0700) are reachable by every user: a private mount
namespace with that folder replaced by an empty one holding just those paths, bound back in place.

A classroom installs the course's environment where every user can read it (/opt/...): then nothing is replaced and
the command runs as it is. A trial as root, whose virtual environment and Python live in /root, needs this.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path

from .paths import ROOT


def closed_ancestor(path: Path) -> Path | None:
    """The outermost folder above `path` (or `path` itself) that other users cannot pass through, or None."""
    path = Path(path).absolute()
    for folder in reversed(path.parents[:-1]):
        if not folder.stat().st_mode & stat.S_IXOTH:
            return folder
    return path if path.is_dir() and not path.stat().st_mode & stat.S_IXOTH else None


def closed(paths: list[Path]) -> dict[Path, list[Path]]:
    """The paths other users cannot reach, by the closed folder above them (the paths inside another left out)."""
    found: dict[Path, list[Path]] = {}
    for path in sorted({Path(p).absolute() for p in paths}):
        top = closed_ancestor(path)
        if top is not None and not any(path.is_relative_to(kept) for kept in found.get(top, [])):
            found.setdefault(top, []).append(path)
    return found


def shell_script(paths: list[Path], scratch: Path) -> str:
    """The shell lines that, in a new mount namespace, make `paths` reachable at their own names (scratch: an empty
    folder to mount the closed folders on for a moment)."""
    lines = ["set -e"]
    for i, (top, inside) in enumerate(closed(paths).items()):
        real = scratch / f"real{i}"
        lines += [
            f"mkdir -p {shlex.quote(str(real))}",
            f"mount --bind {shlex.quote(str(top))} {shlex.quote(str(real))}",
        ]
        lines.append(f"mount -t tmpfs -o mode=0711 classroom {shlex.quote(str(top))}")
        for path in inside:
            source = real / path.relative_to(top)
            lines += [
                f"mkdir -p {shlex.quote(str(path))}",
                f"mount --bind {shlex.quote(str(source))} {shlex.quote(str(path))}",
            ]
        lines.append(f"umount {shlex.quote(str(real))}")
    return "\n".join(lines)


def reachable_command(paths: list[Path], argv: list[str], scratch: Path) -> list[str]:
    """`argv` run where every user reaches `paths`: as it is when they already do, else in a private mount namespace
    (root only: unshare and mount)."""
    if not closed(paths):
        return list(argv)
    script = shell_script(paths, scratch) + "\nexec " + shlex.join(argv)
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script]


def course_paths(*more: Path) -> list[Path]:
    """What every user's processes need to read: this Python and its virtual environment, the repository, `more`."""
    return [Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent, ROOT, *more]
