"""Datasets: fetch them (data/ first, then a local mirror, then the official source), load MNIST-sized ones into memory.

Command line: ``python -m course_utils.data fetch [NAME ...]`` (what ``make data`` runs).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from .download import reachable
from .env import data_root

NETWORK_TIMEOUT = 4.0  # seconds for one connection attempt: no network must fail fast


class DatasetError(RuntimeError):
    """A dataset is missing, incomplete or could not be fetched."""


@dataclass(frozen=True)
class Dataset:
    """One dataset: where it lands under the data root, how its content is pinned, where it comes from."""

    name: str
    folder: str  # path under the data root (and under the mirror)
    files: dict[str, str] = field(default_factory=dict)  # idx file -> sha256 of its decompressed content
    tree: str = ""  # folder of images pinned by the sha256 of its SHA256SUMS manifest
    tree_sha256: str = ""
    urls: tuple[str, ...] = ()  # official sources
    official: str = ""  # where a person downloads it by hand

    @property
    def path(self) -> Path:
        """Where this dataset lives under the data root."""
        return data_root() / self.folder


_MNIST_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
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
                )
            ),
            urls=("https://ossci-datasets.s3.amazonaws.com/mnist/",),
            official="https://ossci-datasets.s3.amazonaws.com/mnist/ (the four *-ubyte.gz files)",
        ),
        Dataset(
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
                )
            ),
            urls=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
            official="https://github.com/zalandoresearch/fashion-mnist (the four *-ubyte.gz files)",
        ),
        Dataset(
            "dogs-vs-cats",
            "dogs-vs-cats",
            tree="train",
            tree_sha256="11153af7f27ce757e6da9fcbc66b668f8ab633cee46ee9bdf0ccac8a3571dc22",
            official="https://www.kaggle.com/c/dogs-vs-cats/data (login needed; the course uses "
            "cat.0-1499 and dog.0-1499 resized to 200x200)",
        ),
        Dataset(
            "caltech101",
            "caltech101",
            tree="101_ObjectCategories",
            tree_sha256="660ff37fe7766f21a07bfb910b746673a8ae2b5d92ce6fab58e44571250122bc",
            urls=("https://data.caltech.edu/records/mzrjq-6wc02/files/caltech-101.zip",),
            official="https://data.caltech.edu/records/mzrjq-6wc02 (caltech-101.zip, which holds "
            "101_ObjectCategories.tar.gz)",
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
def problems(ds: Dataset, root: Path | None = None) -> list[str]:
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
    if not sums.is_file() or _sha256_text(sums.read_text()) != ds.tree_sha256:
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
def _download(url: str, dest: Path) -> None:
    with urllib.request.urlopen(url, timeout=NETWORK_TIMEOUT * 5) as response, open(dest, "wb") as f:
        shutil.copyfileobj(response, f)


def _idx_from(source: Path, dest: Path) -> None:
    """Copy an idx file, decompressing it when the source is gzip-compressed."""
    opener = gzip.open if source.suffix == ".gz" else open
    with opener(source, "rb") as fin, open(dest, "wb") as fout:
        shutil.copyfileobj(fin, fout)


def _fill_files(ds: Dataset, staging: Path, mirror: Path | None) -> str:
    """Put every idx file of `ds` into `staging`; return where they came from."""
    for origin in ("mirror", "official"):
        if origin == "mirror" and not (mirror and (mirror / ds.folder).is_dir()):
            continue
        if origin == "official" and not (ds.urls and reachable(ds.urls[0], NETWORK_TIMEOUT)):
            continue
        for name in ds.files:
            if origin == "mirror":
                candidates = [mirror / ds.folder / n for n in (name, name + ".gz")]
                source = next((c for c in candidates if c.is_file()), None)
                if source is None:
                    break
            else:
                source = staging / (name + ".gz")
                _download(ds.urls[0] + name + ".gz", source)
            _idx_from(source, staging / name)
            if origin == "official":
                source.unlink()
        if not problems(ds, staging):
            return origin
    return ""


def _fill_tree(ds: Dataset, staging: Path, mirror: Path | None) -> str:
    """Put the image tree of `ds` and its SHA256SUMS into `staging`; return where it came from."""
    if mirror and (mirror / ds.folder / ds.tree).is_dir():
        shutil.copytree(mirror / ds.folder / ds.tree, staging / ds.tree)
        (staging / "SHA256SUMS").write_text(tree_manifest(staging / ds.tree, ds.tree))
        if not problems(ds, staging):
            return "mirror"
        shutil.rmtree(staging / ds.tree)
    if ds.urls and reachable(ds.urls[0], NETWORK_TIMEOUT):
        archive = staging / "download.zip"
        _download(ds.urls[0], archive)
        with zipfile.ZipFile(archive) as z:
            inner = next(n for n in z.namelist() if n.endswith("101_ObjectCategories.tar.gz"))
            z.extract(inner, staging)
        with tarfile.open(staging / inner) as t:
            t.extractall(staging, filter="data")
        (staging / "SHA256SUMS").write_text(tree_manifest(staging / ds.tree, ds.tree))
        if not problems(ds, staging):
            return "official download"
    return ""


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
        except (OSError, zipfile.BadZipFile, tarfile.TarError, StopIteration) as exc:
            origin, failure = "", f" ({type(exc).__name__}: {exc})"
        else:
            failure = ""
        if not origin:
            tried = [f"{ds.path} (missing or not verified)"]
            tried.append(f"mirror {mirror / ds.folder}" if mirror else "no mirror ($COURSE_DATA_MIRROR is not set)")
            tried += [f"{url} (not reachable)" for url in ds.urls] or [
                "no official download URL (manual download only)"
            ]
            raise DatasetError(
                f"Could not fetch {name}{failure}. Tried: " + "; ".join(tried) + ". "
                f"Set COURSE_DATA_MIRROR to a folder that holds {ds.folder}/, or download it from "
                f"{ds.official} into {ds.path}" + (f"/{ds.tree}/" if ds.tree else "/") + "."
            )
        if ds.path.exists():  # an old, broken copy: move it aside, then replace it in one rename
            shutil.rmtree(ds.path) if ds.path.is_dir() else ds.path.unlink()
        os.replace(staging, ds.path)
    return f"{name}: fetched from the {origin} into {ds.path}"


def fetch(names: list[str] | None = None) -> list[str]:
    """Fetch the named datasets (all by default); raise DatasetError naming each one that failed."""
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
            failed.append(str(exc))
    if failed:
        raise DatasetError("\n".join(failed))
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
    sub.add_parser("fetch", help="fetch and verify datasets (all by default)").add_argument(
        "names", nargs="*", metavar="NAME", help=", ".join(DATASETS)
    )
    sub.add_parser("list", help="list the datasets and whether each is present")
    args = parser.parse_args(argv)
    if args.command == "list":
        for ds in DATASETS.values():
            print(f"{ds.name:14s} {'ok     ' if not problems(ds) else 'missing'} {ds.path}")
        return 0
    try:
        fetch(args.names)
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
