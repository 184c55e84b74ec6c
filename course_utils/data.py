"""Datasets: fetch them (data/ first, then a local mirror, then the official source), load MNIST-sized ones into memory.

Command line: ``python -m course_utils.data fetch [--keep-going] [NAME ...]`` (``make data`` runs it strict,
``make lab`` with ``--keep-going``). Each dataset's download URL can be replaced through an environment variable
(COURSE_URL_MNIST, COURSE_URL_FASHIONMNIST, COURSE_URL_DOGS_VS_CATS, COURSE_URL_CALTECH101): a classroom's own copy.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import sys
import tarfile
import tempfile
import warnings
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import torch
from torch.utils.data import TensorDataset

from .download import NETWORK_TIMEOUT, DownloadError, download, reachable  # noqa: F401 (NETWORK_TIMEOUT: public)
from .env import data_root


class DatasetError(RuntimeError):
    """A dataset is missing, incomplete or could not be fetched; `summary` says so in one line."""

    def __init__(self, message: str, summary: str = "") -> None:
        super().__init__(message)
        self.summary = summary or message.splitlines()[0]


@dataclass(frozen=True)
class DatasetSource:
    """One dataset: where it lands under the data root, how its content is pinned, where it comes from."""

    name: str
    folder: str  # path under the data root (and under the mirror)
    files: dict[str, str] = field(default_factory=dict)  # idx file -> sha256 of its decompressed content
    tree: str = ""  # folder of images pinned by the sha256 of its SHA256SUMS manifest
    tree_sha256: str = ""
    urls: tuple[str, ...] = ()  # official sources (for idx files: the folder URL the file names are appended to)
    official: str = ""  # where a person downloads it by hand
    unpack: str = ""  # how a downloaded archive becomes the tree: "caltech101" or "petimages" (see UNPACK)
    subset: int = 0  # petimages: how many readable photos of each class the course keeps
    notebooks: tuple[str, ...] = ()  # the notebooks that need it (named when it cannot be fetched)

    @property
    def path(self) -> Path:
        """Where this dataset lives under the data root."""
        return data_root() / self.folder

    @property
    def url_variable(self) -> str:
        """The environment variable that replaces the official URL, e.g. COURSE_URL_DOGS_VS_CATS."""
        return "COURSE_URL_" + re.sub(r"[^A-Z0-9]+", "_", self.name.upper())

    @property
    def url(self) -> str:
        """The download URL: $COURSE_URL_<NAME> when set, else the official one ("" when there is none)."""
        return os.environ.get(self.url_variable) or (self.urls[0] if self.urls else "")

    @property
    def record_path(self) -> Path:
        """Trust on first use: the size and sha256 of the archive a tree was first downloaded from (JSON)."""
        return data_root() / f"{self.folder}.download.json"


_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

DATASETS: dict[str, DatasetSource] = {
    d.name: d
    for d in (
        DatasetSource(
            "MNIST",
            "MNIST/raw",
            files=dict(
                zip(
                    _MNIST_FILES,
                    (
                        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
                    ),
                    strict=True,
                )
            ),
            urls=("https://ossci-datasets.s3.amazonaws.com/mnist/",),
            official="https://ossci-datasets.s3.amazonaws.com/mnist/ (the four *-ubyte.gz files)",
            notebooks=("00", "04"),
        ),
        DatasetSource(
            "FashionMNIST",
            "FashionMNIST/raw",
            files=dict(
                zip(
                    _MNIST_FILES,
                    (
                        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
                    ),
                    strict=True,
                )
            ),
            urls=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
            official="https://github.com/zalandoresearch/fashion-mnist (the four *-ubyte.gz files)",
            notebooks=("00", "01", "02", "03"),
        ),
        DatasetSource(
            "dogs-vs-cats",
            "dogs-vs-cats",
            tree="train",
            tree_sha256="11153af7f27ce757e6da9fcbc66b668f8ab633cee46ee9bdf0ccac8a3571dc22",
            # The mirror's copies (cat.0-1499, dog.0-1499, resized to 200x200) are pinned by tree_sha256; a download
            # of Microsoft's PetImages archive keeps the first 1,500 readable photos of each class, full size.
            urls=(
                "https://download.microsoft.com/download/3/E/1/3E1C3F21-ECDB-4869-8368-6DEBA77B919F/"
                "kagglecatsanddogs_5340.zip",
            ),
            official="https://www.microsoft.com/en-us/download/details.aspx?id=54765 (kagglecatsanddogs_5340.zip, "
            "PetImages/Cat/N.jpg and PetImages/Dog/N.jpg)",
            unpack="petimages",
            subset=1500,
            notebooks=("00", "05"),
        ),
        DatasetSource(
            "caltech101",
            "caltech101",
            tree="101_ObjectCategories",
            tree_sha256="660ff37fe7766f21a07bfb910b746673a8ae2b5d92ce6fab58e44571250122bc",
            urls=("https://data.caltech.edu/records/mzrjq-6wc02/files/caltech-101.zip",),
            official="https://data.caltech.edu/records/mzrjq-6wc02 (caltech-101.zip, which holds "
            "101_ObjectCategories.tar.gz)",
            unpack="caltech101",
            notebooks=("00", "06"),
        ),
    )
}


def mirror_root() -> Path | None:
    """The local mirror named by $COURSE_DATA_MIRROR, if set."""
    mirror = os.environ.get("COURSE_DATA_MIRROR")
    return Path(mirror).expanduser().resolve() if mirror else None


def sha256_file(path: Path, gunzip: bool = False) -> str:
    """The sha256 of a file's content (of its decompressed content with gunzip=True)."""
    digest = hashlib.sha256()
    with gzip.open(path, "rb") if gunzip else open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tree_manifest(folder: Path, prefix: str) -> str:
    """A SHA256SUMS text for every file below `folder`, paths written as prefix/relative, sorted."""
    files = sorted((prefix + "/" + p.relative_to(folder).as_posix(), p) for p in folder.rglob("*") if p.is_file())
    return "".join(f"{sha256_file(p)}  {rel}\n" for rel, p in files)


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- verification
def problems(ds: DatasetSource, root: Path | None = None) -> list[str]:
    """What is missing or wrong in a copy of the dataset (empty when it is complete and verified)."""
    root = root or ds.path
    if ds.files:
        found = []
        for name, want in ds.files.items():
            path = root / name
            if not path.is_file():
                found.append(f"missing {path}")
            elif sha256_file(path) != want:
                found.append(f"wrong content (sha256) in {path}")
        return found
    sums = root / "SHA256SUMS"
    if not (root / ds.tree).is_dir():
        return [f"missing folder {root / ds.tree}"]
    accepted = {ds.tree_sha256}  # the mirror's exact files
    if ds.subset:  # or a subset extracted from a download, whose manifest was recorded beside the dataset
        accepted.add(_read_record(ds).get("manifest_sha256", ""))
    if not sums.is_file() or _sha256_text(sums.read_text()) not in accepted - {""}:
        return [f"missing or unexpected {sums}"]
    found, absent = [], []
    for line in sums.read_text().splitlines():
        want, rel = line.split("  ", 1)
        path = root / rel
        if not path.parent.is_dir():
            if path.parent not in absent:
                absent.append(path.parent)
        elif not path.is_file():
            found.append(f"missing {path}")
        elif sha256_file(path) != want:
            found.append(f"wrong content (sha256) in {path}")
    return [f"missing class folder {folder}" for folder in absent] + found


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


# --------------------------------------------------------------------------- sources
def _idx_from(source: Path, dest: Path) -> None:
    """Copy an idx file, decompressing it when the source is gzip-compressed."""
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rb") as fin, open(dest, "wb") as fout:
        shutil.copyfileobj(fin, fout)


def _fill_files(ds: DatasetSource, staging: Path, mirror: Path | None) -> str:
    """Put every idx file of `ds` into `staging`; return where they came from."""
    for origin in ("mirror", "official"):
        if origin == "mirror" and not (mirror and (mirror / ds.folder).is_dir()):
            continue
        if origin == "official" and not (ds.url and reachable(ds.url)):
            continue
        base = ds.url if ds.url.endswith("/") else ds.url + "/"
        for name in ds.files:
            if origin == "mirror":
                candidates = [mirror / ds.folder / n for n in (name, name + ".gz")]
                source = next((c for c in candidates if c.is_file()), None)
                if source is None:
                    break
            else:
                source = staging.parent / (name + ".gz")
                download(base + name + ".gz", source, desc=f"{ds.name} {name}.gz")
            _idx_from(source, staging / name)
            if origin == "official":
                source.unlink()
        if not problems(ds, staging):
            return "mirror" if origin == "mirror" else f"download {base}"
    return ""


def _unpack_caltech101(ds: DatasetSource, archive: Path, staging: Path) -> None:
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


def unreadable(data: bytes) -> str:
    """Why a photo cannot be used ("" when PIL verifies it and decodes it completely)."""
    from PIL import Image

    if not data:
        return "zero bytes"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # some photos carry broken EXIF blocks and still decode
            with Image.open(io.BytesIO(data)) as image:
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()
    except Exception as exc:  # PIL raises many kinds (OSError, SyntaxError, ValueError, ...)
        return f"unreadable: {type(exc).__name__}: {exc}"
    return ""


def _unpack_petimages(ds: DatasetSource, archive: Path, staging: Path) -> None:
    """Microsoft's PetImages/{Cat,Dog}/N.jpg as the course's flat train/{cat,dog}.N.jpg: the first `ds.subset`
    readable photos of each class by number; unreadable and empty files are dropped, counted and named."""
    pattern = re.compile(r"(?:.*/)?PetImages/(Cat|Dog)/(\d+)\.jpg")
    tree = staging / ds.tree
    tree.mkdir()
    dropped: list[str] = []
    with zipfile.ZipFile(archive) as z:
        by_class: dict[str, list[tuple[int, zipfile.ZipInfo]]] = {"cat": [], "dog": []}
        for info in z.infolist():
            match = pattern.fullmatch(info.filename)
            if match:
                by_class[match[1].lower()].append((int(match[2]), info))
        for label, members in by_class.items():
            kept = 0
            for number, info in sorted(members, key=lambda m: m[0]):
                if kept == ds.subset:
                    break
                data = z.read(info)
                why = unreadable(data)
                if why:
                    dropped.append(f"{info.filename} ({why})")
                    continue
                (tree / f"{label}.{number}.jpg").write_bytes(data)
                kept += 1
            if kept < ds.subset:
                raise DatasetError(
                    f"{archive.name} has only {kept} readable {label} photos; the course needs {ds.subset}"
                )
    if dropped:
        print(f"{ds.name}: dropped {len(dropped)} unreadable file(s): " + "; ".join(dropped), flush=True)
    (staging / "dropped.txt").write_text("".join(line + "\n" for line in dropped))


UNPACK = {"caltech101": _unpack_caltech101, "petimages": _unpack_petimages}


def _read_record(ds: DatasetSource) -> dict:
    try:
        return json.loads(ds.record_path.read_text())
    except (OSError, ValueError):
        return {}


def _check_archive(ds: DatasetSource, url: str, archive: Path, sha256: str) -> dict:
    """Trust on first use: no checksum of the official archive is published, so the size and sha256 of the first
    archive this data folder sees are recorded in ds.record_path, and every later download must match them."""
    size, record = archive.stat().st_size, _read_record(ds)
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


def _write_record(ds: DatasetSource, record: dict) -> None:
    part = ds.record_path.with_name(ds.record_path.name + ".part")
    part.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(part, ds.record_path)


def _fill_tree(ds: DatasetSource, staging: Path, mirror: Path | None) -> str:
    """Put the image tree of `ds` and its SHA256SUMS into `staging`; return where it came from."""
    if mirror and (mirror / ds.folder / ds.tree).is_dir():
        shutil.copytree(mirror / ds.folder / ds.tree, staging / ds.tree)
        (staging / "SHA256SUMS").write_text(tree_manifest(staging / ds.tree, ds.tree))
        if not problems(ds, staging):
            return "mirror"
        shutil.rmtree(staging / ds.tree)
    url = ds.url
    if url and reachable(url):
        archive = staging.parent / "download"  # beside the staged tree, never inside it
        sha256 = download(url, archive, desc=f"{ds.name} ({url.rsplit('/', 1)[-1]})")
        record = _check_archive(ds, url, archive, sha256) if ds.subset else {}
        UNPACK[ds.unpack](ds, archive, staging)
        archive.unlink()
        manifest = tree_manifest(staging / ds.tree, ds.tree)
        (staging / "SHA256SUMS").write_text(manifest)
        if ds.subset:  # the extracted subset is pinned by its manifest, recorded with the archive it came from
            record["manifest_sha256"] = _sha256_text(manifest)
            _write_record(ds, record)
        if not problems(ds, staging):
            return f"download {url}"
    return ""


FETCH_ERRORS = (OSError, EOFError, zlib.error, zipfile.BadZipFile, tarfile.TarError, DatasetError)


def fetch_one(name: str) -> str:
    """Make one dataset present and verified under the data root; return what was done."""
    ds = DATASETS[name]
    if not problems(ds):
        return f"{name}: present and verified in {ds.path}"
    mirror = mirror_root()
    ds.path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".fetch-{name}-", dir=ds.path.parent) as tmp:
        staging = Path(tmp) / "staged"
        staging.mkdir()
        try:
            origin = (_fill_files if ds.files else _fill_tree)(ds, staging, mirror)
        except FETCH_ERRORS as exc:
            origin, failure = "", f"{type(exc).__name__}: {exc}"
        else:
            failure = ""
        if not origin:
            tried = [f"{ds.path} (missing or not verified)"]
            tried.append(f"mirror {mirror / ds.folder}" if mirror else "no mirror ($COURSE_DATA_MIRROR is not set)")
            tried.append(f"{ds.url} ({'failed' if failure else 'not reachable'})" if ds.url else "no download URL")
            reason = failure or "; ".join(tried[1:])
            remedy = (
                f"set COURSE_DATA_MIRROR to a folder that holds {ds.folder}/, or {ds.url_variable} to a reachable "
                f"copy of the download, or download it from {ds.official} into {ds.path}"
                + (f"/{ds.tree}/" if ds.tree else "/")
            )
            needs = f"notebook(s) {', '.join(ds.notebooks)} need it" if ds.notebooks else "no notebook needs it"
            raise DatasetError(
                f"Could not fetch {name}"
                + (f" ({failure})" if failure else "")
                + ". Tried: "
                + "; ".join(tried)
                + f". Nothing was written to {ds.path}. To get it: {remedy}.",
                summary=f"{name}: not available ({reason}); {needs}; to get it, {remedy}.",
            )
        if ds.path.exists():  # an old, broken copy: move it aside, then replace it in one rename
            shutil.rmtree(ds.path) if ds.path.is_dir() else ds.path.unlink()
        os.replace(staging, ds.path)
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


# --------------------------------------------------------------------------- MNIST-sized data in memory
MNIST_STATS = {"MNIST": (0.1307, 0.3081), "FashionMNIST": (0.2860, 0.3530)}
FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]


def _read_idx(path: Path) -> torch.Tensor:
    data = path.read_bytes()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return torch.frombuffer(bytearray(data[4 + 4 * ndim :]), dtype=torch.uint8).reshape(shape)


def load_mnist(
    name: str = "FashionMNIST",
    train: bool = True,
    limit: int | None = None,
    normalize: bool = True,
    seed: int = 0,
) -> TensorDataset:
    """A whole MNIST or Fashion-MNIST split as float tensors in memory (N, 1, 28, 28), optionally a seeded subset."""
    root = require(name)
    prefix = "train" if train else "t10k"
    images = _read_idx(root / f"{prefix}-images-idx3-ubyte")
    labels = _read_idx(root / f"{prefix}-labels-idx1-ubyte").long()
    if limit is not None and limit < len(labels):
        keep = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))[:limit]
        images, labels = images[keep], labels[keep]
    x = images.unsqueeze(1).float().div_(255)
    if normalize:
        mean, std = MNIST_STATS[name]
        x = (x - mean) / std
    return TensorDataset(x, labels)


class TensorLoader:
    """Minibatches straight from tensors held in memory: what a DataLoader does, without per-item work."""

    def __init__(
        self,
        dataset: TensorDataset,
        batch_size: int = 256,
        shuffle: bool = False,
        seed: int = 0,
        device: torch.device | str | None = None,
    ):
        self.dataset = dataset
        self.tensors = [t.to(device) for t in dataset.tensors] if device else list(dataset.tensors)
        self.batch_size, self.shuffle = batch_size, shuffle
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.tensors[0]) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = len(self.tensors[0])
        order = torch.randperm(n, generator=self.generator) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                yield tuple(t[start : start + self.batch_size] for t in self.tensors)
            else:
                index = order[start : start + self.batch_size].to(self.tensors[0].device)
                yield tuple(t[index] for t in self.tensors)


def mnist_loaders(
    name: str = "FashionMNIST",
    batch_size: int = 256,
    train_limit: int | None = None,
    test_limit: int | None = None,
    seed: int = 0,
    normalize: bool = True,
) -> tuple[TensorLoader, TensorLoader]:
    """Shuffled train and ordered test TensorLoaders over MNIST or Fashion-MNIST held in memory."""
    train = load_mnist(name, True, train_limit, normalize, seed)
    test = load_mnist(name, False, test_limit, normalize, seed)
    return TensorLoader(train, batch_size, shuffle=True, seed=seed), TensorLoader(test, batch_size)


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
