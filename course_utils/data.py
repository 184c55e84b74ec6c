"""Datasets: verify them, fetch them (data/ first, then a local mirror, then the official source), and the command line.

Command line: ``python -m course_utils.data fetch [--keep-going] [NAME ...]`` (``make data`` runs it strict,
``make lab`` with ``--keep-going``), ``python -m course_utils.data list``. The datasets themselves (where each lands,
how it is pinned, its URL and the COURSE_URL_* variable that replaces it) are listed in `catalog`; unpacking and trust
on first use are in `archives`; MNIST-sized data in memory is in `tensors`.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from .archives import UNPACK, check_archive, read_record, write_record
from .catalog import DATASETS, DatasetError, DatasetSource, mirror_root
from .download import download, reachable
from .files import replace_folder, sha256_file, sha256_text

__all__ = ["DATASETS", "DatasetError", "DatasetSource", "fetch", "fetch_one", "main", "problems", "require"]
__all__ += ["mirror_root", "tree_manifest"]


def tree_manifest(folder: Path, prefix: str) -> str:
    """A SHA256SUMS text for every file below `folder`, paths written as prefix/relative, sorted."""
    files = sorted((prefix + "/" + p.relative_to(folder).as_posix(), p) for p in folder.rglob("*") if p.is_file())
    return "".join(f"{sha256_file(p)}  {rel}\n" for rel, p in files)


# --------------------------------------------------------------------------- verification
def _file_problem(path: Path, want: str) -> str:
    if not path.is_file():
        return f"missing {path}"
    return f"wrong content (sha256) in {path}" if sha256_file(path) != want else ""


def _tree_problems(ds: DatasetSource, root: Path) -> list[str]:
    sums = root / "SHA256SUMS"
    if not (root / ds.tree).is_dir():
        return [f"missing folder {root / ds.tree}"]
    accepted = {ds.tree_sha256}  # the mirror's exact files
    if ds.subset:  # or a subset extracted from a download, whose manifest was recorded beside the dataset
        accepted.add(read_record(ds).get("manifest_sha256", ""))
    if not sums.is_file() or sha256_text(sums.read_text()) not in accepted - {""}:
        return [f"missing or unexpected {sums}"]
    found, absent = [], []
    for line in sums.read_text().splitlines():
        want, rel = line.split("  ", 1)
        path = root / rel
        if not path.parent.is_dir():
            if path.parent not in absent:
                absent.append(path.parent)
        elif problem := _file_problem(path, want):
            found.append(problem)
    return [f"missing class folder {folder}" for folder in absent] + found


def problems(ds: DatasetSource, root: Path | None = None) -> list[str]:
    """What is missing or wrong in a copy of the dataset (empty when it is complete and verified)."""
    root = root or ds.path
    if ds.files:
        return [p for name, want in ds.files.items() if (p := _file_problem(root / name, want))]
    return _tree_problems(ds, root)


def require(name: str) -> Path:
    """The verified folder of a dataset, or a DatasetError that says what is wrong and what to do."""
    ds = DATASETS[name]
    found = problems(ds)
    if found:
        shown = "\n  ".join(found[:5]) + (f"\n  ... and {len(found) - 5} more" if len(found) > 5 else "")
        raise DatasetError(
            f"{name} is not complete in {ds.path}:\n  {shown}\n"
            f"Run `make data` (or `python -m course_utils.data fetch {name}`) to fetch a verified copy."
        )
    return ds.path


# --------------------------------------------------------------------------- sources: each fills `staging` or says ""
def _idx_from(source: Path, dest: Path) -> None:
    """Copy an idx file, decompressing it when the source is gzip-compressed."""
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rb") as fin, open(dest, "wb") as fout:
        shutil.copyfileobj(fin, fout)


def _files_from_mirror(ds: DatasetSource, staging: Path) -> str:
    """The idx files of `ds` from the mirror, plain or gzip-compressed."""
    mirror = mirror_root()
    folder = mirror / ds.folder if mirror else None
    if folder is None or not folder.is_dir():
        return ""
    for name in ds.files:
        source = next((c for c in (folder / name, folder / (name + ".gz")) if c.is_file()), None)
        if source is None:
            return ""
        _idx_from(source, staging / name)
    return "mirror"


def _files_from_download(ds: DatasetSource, staging: Path) -> str:
    """The idx files of `ds`, each downloaded as name.gz from the folder URL and decompressed."""
    if not (ds.url and reachable(ds.url)):
        return ""
    base = ds.url if ds.url.endswith("/") else ds.url + "/"
    for name in ds.files:
        archive = staging.parent / (name + ".gz")  # beside the staged files, never among them
        download(base + name + ".gz", archive, desc=f"{ds.name} {name}.gz")
        _idx_from(archive, staging / name)
        archive.unlink()
    return f"download {base}"


def _tree_from_mirror(ds: DatasetSource, staging: Path) -> str:
    """The image tree of `ds` copied from the mirror, with the SHA256SUMS of what was copied."""
    mirror = mirror_root()
    if not (mirror and (mirror / ds.folder / ds.tree).is_dir()):
        return ""
    shutil.copytree(mirror / ds.folder / ds.tree, staging / ds.tree)
    (staging / "SHA256SUMS").write_text(tree_manifest(staging / ds.tree, ds.tree))
    return "mirror"


def _tree_from_download(ds: DatasetSource, staging: Path) -> str:
    """The image tree of `ds` unpacked from the downloaded archive; a subset's manifest is recorded with the archive."""
    url = ds.url
    if not (url and reachable(url)):
        return ""
    archive = staging.parent / "download"  # beside the staged tree, never inside it
    sha256 = download(url, archive, desc=f"{ds.name} ({url.rsplit('/', 1)[-1]})")
    record = check_archive(ds, url, archive, sha256) if ds.subset else {}
    UNPACK[ds.unpack](ds, archive, staging)
    archive.unlink()
    manifest = tree_manifest(staging / ds.tree, ds.tree)
    (staging / "SHA256SUMS").write_text(manifest)
    if ds.subset:  # the extracted subset is pinned by its manifest, recorded with the archive it came from
        write_record(ds, record | {"manifest_sha256": sha256_text(manifest)})
    return f"download {url}"


Source = Callable[[DatasetSource, Path], str]
SOURCES: dict[str, tuple[Source, ...]] = {
    "files": (_files_from_mirror, _files_from_download),
    "tree": (_tree_from_mirror, _tree_from_download),
}


def _fill(ds: DatasetSource, staging: Path) -> str:
    """Fill `staging` from the first source whose copy verifies; return where it came from ("" when none did)."""
    for source in SOURCES["files" if ds.files else "tree"]:
        origin = source(ds, staging)
        if origin and not problems(ds, staging):
            return origin
        shutil.rmtree(staging)  # what a source left unverified goes before the next one tries
        staging.mkdir()
    return ""


# --------------------------------------------------------------------------- fetch
FETCH_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError, DatasetError)


def _not_fetched(ds: DatasetSource, failure: str) -> DatasetError:
    """The error for a dataset no source could provide: what was tried, what failed, what to do, who needs it."""
    mirror = mirror_root()
    tried = [f"{ds.path} (missing or not verified)"]
    tried.append(f"mirror {mirror / ds.folder}" if mirror else "no mirror ($COURSE_DATA_MIRROR is not set)")
    tried.append(f"{ds.url} ({'failed' if failure else 'not reachable'})" if ds.url else "no download URL")
    reason = failure or "; ".join(tried[1:])
    remedy = (
        f"set COURSE_DATA_MIRROR to a folder that holds {ds.folder}/, or {ds.url_variable} to a reachable "
        f"copy of the download, or download it from {ds.official} into {ds.path}" + (f"/{ds.tree}/" if ds.tree else "/")
    )
    needs = f"notebook(s) {', '.join(ds.notebooks)} need it" if ds.notebooks else "no notebook needs it"
    return DatasetError(
        f"Could not fetch {ds.name}"
        + (f" ({failure})" if failure else "")
        + ". Tried: "
        + "; ".join(tried)
        + f". Nothing was written to {ds.path}. To get it: {remedy}.",
        summary=f"{ds.name}: not available ({reason}); {needs}; to get it, {remedy}.",
    )


def fetch_one(name: str) -> str:
    """Make one dataset present and verified under the data root; return what was done."""
    ds = DATASETS[name]
    if not problems(ds):
        return f"{name}: present and verified in {ds.path}"
    ds.path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".fetch-{name}-", dir=ds.path.parent) as tmp:
        staging = Path(tmp) / "staged"
        staging.mkdir()
        try:
            origin, failure = _fill(ds, staging), ""
        except FETCH_ERRORS as exc:
            origin, failure = "", f"{type(exc).__name__}: {exc}"
        if not origin:
            raise _not_fetched(ds, failure)
        try:  # an old, broken copy is moved aside first and removed only once the new one is in place
            replace_folder(staging, ds.path)
        except OSError as exc:
            raise DatasetError(
                f"{name}: could not move the verified copy into {ds.path} ({exc}); nothing changed"
            ) from exc
    return f"{name}: fetched from the {origin} into {ds.path}"


def fetch(names: list[str] | None = None, keep_going: bool = False) -> list[str]:
    """Fetch the named datasets (all by default); raise DatasetError naming each one that failed.

    With keep_going=True, print one line per dataset that could not be fetched (what failed, what to do, which
    notebooks need it) and return instead of raising: what `make lab` runs, so the course opens anyway.
    """
    names = names or list(DATASETS)
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        raise DatasetError(f"unknown dataset(s) {unknown}; known: {', '.join(DATASETS)}")
    done, failed = [], []
    for name in names:
        try:
            done.append(fetch_one(name))
            print(done[-1], flush=True)
        except DatasetError as exc:
            failed.append(exc)
    if failed and keep_going:
        for exc in failed:
            print("warning: " + exc.summary, file=sys.stderr, flush=True)
    elif failed:
        raise DatasetError("\n".join(str(exc) for exc in failed))
    return done


# --------------------------------------------------------------------------- command line
def main(argv: list[str] | None = None) -> int:
    """Command line: fetch datasets, or list them."""
    parser = argparse.ArgumentParser(prog="python -m course_utils.data", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fetch_parser = sub.add_parser("fetch", help="fetch and verify datasets (all by default)")
    fetch_parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(DATASETS))
    fetch_parser.add_argument(
        "--keep-going",
        action="store_true",
        help="fetch what can be fetched, print one line per dataset that cannot, and exit 0 (make lab)",
    )
    sub.add_parser("list", help="list the datasets and whether each is present")
    args = parser.parse_args(argv)
    if args.command == "list":
        for ds in DATASETS.values():
            print(f"{ds.name:14s} {'ok     ' if not problems(ds) else 'missing'} {ds.path}")
        return 0
    try:
        fetch(args.names, keep_going=args.keep_going)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
