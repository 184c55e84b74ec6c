"""Watching a notebook while it is graded: the clock (a watchdog that stops its kernel) and the disk around it."""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path


def snapshot(roots: list[tuple[Path, bool]], skip: tuple[Path, ...] = ()) -> dict[Path, tuple[int, int] | None]:
    """Path -> (size, mtime) of the files under each (root, recursive), leaving out the folders in `skip`."""
    state = {}
    for root, recursive in roots:
        if not root.is_dir():
            continue
        for p in root.rglob("*") if recursive else root.iterdir():
            if any(p == s or s in p.parents for s in skip):
                continue
            try:
                st = p.lstat()
            except OSError:
                continue
            state[p] = None if p.is_dir() else (st.st_size, st.st_mtime_ns)  # a folder: whether it is there
    return state


def changed(before: dict, after: dict) -> list[str]:
    """Files created, changed or removed between two snapshots."""
    return sorted(str(p) for p in set(before) | set(after) if before.get(p) != after.get(p))


@contextlib.contextmanager
def temporary_files_in(folder: Path) -> Iterator[None]:
    """The grader's own temporary files (the kernel's connection file) in `folder`, not in the watched temp folder."""
    saved, tempfile.tempdir = tempfile.tempdir, str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = saved


class Watchdog:
    """Kills this process's children (the notebook's kernel) when a notebook runs past `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.fired = seconds, False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        """Wait `seconds` for the notebook to finish; past them, kill every child process."""
        import psutil

        if self._done.wait(self.seconds):
            return
        self.fired = True
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                child.kill()

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
