"""Downloaded archives: unpacked safely into the course's layout, trusted on first use where no checksum is published.

Caltech-101's zip holds a tar.gz of class folders; Microsoft's PetImages zip holds Cat/N.jpg and Dog/N.jpg, some of
them empty or undecodable. Only plain files and folders are unpacked, always inside the staging folder.
"""

from __future__ import annotations

import json
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from .catalog import DatasetError, DatasetSource
from .files import write_text
from .images import image_problem

PET_PHOTO = re.compile(r"(?:.*/)?PetImages/(Cat|Dog)/(\d+)\.jpg")


def unpack_caltech101(ds: DatasetSource, archive: Path, staging: Path) -> None:
    """caltech-101.zip holds 101_ObjectCategories.tar.gz: stream the tar out of the zip into `staging`."""
    with zipfile.ZipFile(archive) as z:
        inner = next((n for n in z.namelist() if n.endswith("101_ObjectCategories.tar.gz")), None)
        if inner is None:
            raise DatasetError(f"{archive.name} holds no 101_ObjectCategories.tar.gz")
        with z.open(inner) as f, tarfile.open(fileobj=f, mode="r|gz") as t:
            # tarfile's "data" filter came in Python 3.11.4: older 3.11 releases get the same refusal from _plain()
            safety = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            t.extractall(staging, members=_plain(t, inner), **safety)


def _plain(members: Iterable[tarfile.TarInfo], archive: str) -> Iterator[tarfile.TarInfo]:
    """Only files and folders inside the target folder: no absolute path, no "..", no link or device."""
    for member in members:
        path = PurePosixPath(member.name)
        if path.is_absolute() or ".." in path.parts or not (member.isfile() or member.isdir()):
            raise DatasetError(f"{archive} holds {member.name!r}, which is not a plain file or folder inside it")
        yield member


def unpack_petimages(ds: DatasetSource, archive: Path, staging: Path) -> None:
    """Microsoft's PetImages/{Cat,Dog}/N.jpg as the course's flat train/{cat,dog}.N.jpg: the first `ds.subset`
    readable photos of each class by number; unreadable and empty files are dropped, counted and named."""
    tree = staging / ds.tree
    tree.mkdir()
    dropped: list[str] = []
    with zipfile.ZipFile(archive) as z:
        for label, members in _pet_photos(z).items():
            kept = 0
            for number, info in members:
                if kept == ds.subset:
                    break
                photo = z.read(info)
                why = image_problem(photo)
                if why:
                    dropped.append(f"{info.filename} ({why})")
                    continue
                (tree / f"{label}.{number}.jpg").write_bytes(photo)
                kept += 1
            if kept < ds.subset:
                raise DatasetError(
                    f"{archive.name} has only {kept} readable {label} photos; the course needs {ds.subset}"
                )
    if dropped:
        print(f"{ds.name}: dropped {len(dropped)} unreadable file(s): " + "; ".join(dropped), flush=True)
    (staging / "dropped.txt").write_text("".join(line + "\n" for line in dropped))


def _pet_photos(z: zipfile.ZipFile) -> dict[str, list[tuple[int, zipfile.ZipInfo]]]:
    """The photos of each class ("cat", "dog") in the archive, by number."""
    by_class: dict[str, list[tuple[int, zipfile.ZipInfo]]] = {"cat": [], "dog": []}
    for info in z.infolist():
        match = PET_PHOTO.fullmatch(info.filename)
        if match:
            by_class[match[1].lower()].append((int(match[2]), info))
    return {label: sorted(members, key=lambda m: m[0]) for label, members in by_class.items()}


UNPACK: dict[str, Callable[[DatasetSource, Path, Path], None]] = {
    "caltech101": unpack_caltech101,
    "petimages": unpack_petimages,
}


# --------------------------------------------------------------------------- trust on first use
def read_record(ds: DatasetSource) -> dict:
    """What was recorded of the archive a dataset was first downloaded from ({} when nothing was)."""
    try:
        return json.loads(ds.record_path.read_text())
    except (OSError, ValueError):
        return {}


def check_archive(ds: DatasetSource, url: str, archive: Path, sha256: str) -> dict:
    """Trust on first use: no checksum of the official archive is published, so the size and sha256 of the first
    archive this data folder sees are recorded in ds.record_path, and every later download must match them."""
    size, record = archive.stat().st_size, read_record(ds)
    seen = record.get("archive")
    if seen and (seen["sha256"], seen["bytes"]) != (sha256, size):
        raise DatasetError(
            f"{url} is not the archive first downloaded on {seen.get('first_seen', '?')}: sha256 {sha256} "
            f"({size:,} bytes), expected {seen['sha256']} ({seen['bytes']:,} bytes). If the new archive is "
            f"trustworthy, delete {ds.record_path} and fetch again."
        )
    if not seen:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        record["archive"] = {"url": url, "bytes": size, "sha256": sha256, "first_seen": now}
    return record


def write_record(ds: DatasetSource, record: dict) -> None:
    """Record (atomically) the archive and the manifest of the subset extracted from it."""
    write_text(ds.record_path, json.dumps(record, indent=2) + "\n")
