"""The course's datasets: where each lands under the data root, how its content is pinned, where it comes from.

Each dataset's download URL can be replaced through an environment variable (COURSE_URL_MNIST,
COURSE_URL_FASHIONMNIST, COURSE_URL_DOGS_VS_CATS, COURSE_URL_CALTECH101): a classroom's own copy.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

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
