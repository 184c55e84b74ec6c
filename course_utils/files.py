"""Files written whole or not at all: one atomic writer, one atomic folder replace, one sha256.

Every file the course writes (datasets, records, checkpoints, notebooks, gradebooks) goes through `atomic_write`:
a temporary file in the destination's own folder, flushed and fsynced, then renamed over the destination, so a
reader sees the old file or the new one, never half of one, and a failure leaves nothing behind.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

BLOCK = 1 << 20


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside `path` for writing; on success fsync it and rename it to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(handle, mode, encoding=encoding if "b" not in mode else None) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically."""
    with atomic_write(path, "wb") as file:
        file.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write `text` (UTF-8) to `path` atomically."""
    with atomic_write(path, "w", encoding="utf-8") as file:
        file.write(text)
    return Path(path)


def replace_folder(staging: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Put the folder `staging` at `dest` by renames: an old `dest` is moved aside first and removed only after."""
    staging, dest = Path(staging), Path(dest)
    aside = None
    if dest.exists() or dest.is_symlink():
        aside = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.old-"))
        os.replace(dest, aside / dest.name)
    try:
        os.replace(staging, dest)
    except BaseException:
        if aside is not None:
            os.replace(aside / dest.name, dest)  # put the old copy back: nothing changed
            aside.rmdir()
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
    return dest


def sha256_file(path: str | os.PathLike, gunzip: bool = False) -> str:
    """The sha256 of a file's content (of its decompressed content with gunzip=True)."""
    digest = hashlib.sha256()
    with gzip.open(path, "rb") if gunzip else open(path, "rb") as file:
        for block in iter(lambda: file.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    """The sha256 of a text's UTF-8 bytes."""
    return hashlib.sha256(text.encode()).hexdigest()


_DIGESTS: dict[tuple[int, int, int, int], str] = {}


def content_digest(path: str | os.PathLike) -> str:
    """The sha256 of a file's content, remembered by (device, inode, size, mtime): a file is read once per process."""
    stat = os.stat(path)
    stamp = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if stamp not in _DIGESTS:
        _DIGESTS[stamp] = sha256_file(path)
    return _DIGESTS[stamp]
