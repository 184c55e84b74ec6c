"""Fetching and loading data: mirror first, verified, atomic, idempotent, fails fast and clearly."""

from __future__ import annotations

import gzip
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from course_utils import data


def _mini_mirror(tmp: Path) -> Path:
    """A mirror holding the real MNIST files, gzip-compressed as the course mirror ships them."""
    mirror = tmp / "mirror" / "MNIST" / "raw"
    mirror.mkdir(parents=True)
    source = data.require("MNIST")
    for name in data.DATASETS["MNIST"].files:
        with open(source / name, "rb") as fin, gzip.open(mirror / (name + ".gz"), "wb", compresslevel=1) as fout:
            fout.write(fin.read())
    return tmp / "mirror"


def test_fetch_from_mirror_is_verified_and_idempotent(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(_mini_mirror(tmp_path)))
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "data"))
    assert "fetched from the mirror" in data.fetch_one("MNIST")
    raw = tmp_path / "data" / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(data.DATASETS["MNIST"].files)
    mtimes = {p: p.stat().st_mtime_ns for p in raw.iterdir()}
    assert "present and verified" in data.fetch_one("MNIST")
    assert {p: p.stat().st_mtime_ns for p in raw.iterdir()} == mtimes
    assert not list((tmp_path / "data" / "MNIST").glob(".fetch-*")), "no staging folder is left behind"


def test_corrupt_copy_in_data_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(_mini_mirror(tmp_path)))
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "data"))
    data.fetch_one("MNIST")
    bad = tmp_path / "data" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    bad.write_bytes(b"not mnist")
    assert data.problems(data.DATASETS["MNIST"]) == [f"wrong content (sha256) in {bad}"]
    assert "fetched from the mirror" in data.fetch_one("MNIST")
    assert data.problems(data.DATASETS["MNIST"]) == []


def test_no_source_fails_fast_with_a_clear_message(tmp_path):
    env = {"COURSE_DATA_MIRROR": str(tmp_path / "empty"), "COURSE_DATA": str(tmp_path / "data"), "PATH": ""}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "course_utils.data", "fetch", "MNIST", "dogs-vs-cats"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.perf_counter() - start < 30
    assert result.returncode != 0
    assert "Could not fetch MNIST" in result.stderr and "Could not fetch dogs-vs-cats" in result.stderr
    assert "COURSE_DATA_MIRROR" in result.stderr and str(tmp_path / "data" / "MNIST" / "raw") in result.stderr
    assert not (tmp_path / "data" / "MNIST" / "raw").exists()


def test_missing_class_folder_is_named(tmp_path, monkeypatch):
    root = tmp_path / "caltech101"
    real = data.require("caltech101")
    for folder in (real / "101_ObjectCategories").iterdir():
        if folder.name != "accordion":
            (root / "101_ObjectCategories" / folder.name).mkdir(parents=True)
    (root / "SHA256SUMS").write_text((real / "SHA256SUMS").read_text())
    monkeypatch.setenv("COURSE_DATA", str(tmp_path))
    with pytest.raises(data.DatasetError) as err:
        data.require("caltech101")
    message = str(err.value)
    assert f"missing class folder {root / '101_ObjectCategories' / 'accordion'}" in message
    assert "make data" in message


def test_load_mnist_in_memory_matches_torchvision():
    from torchvision.datasets import FashionMNIST

    ours = data.load_mnist("FashionMNIST", train=False, normalize=False)
    theirs = FashionMNIST(str(data.data_root()), train=False)
    x, y = ours.tensors
    assert x.shape == (10000, 1, 28, 28) and x.dtype == torch.float32
    assert torch.equal(y, theirs.targets)
    assert torch.equal((x[:, 0] * 255).round().byte(), theirs.data)


def test_subset_is_seeded_and_loader_covers_every_sample():
    a = data.load_mnist("MNIST", limit=500, seed=1)
    b = data.load_mnist("MNIST", limit=500, seed=1)
    assert torch.equal(a.tensors[1], b.tensors[1]) and len(a) == 500
    loader = data.TensorLoader(a, batch_size=64, shuffle=True, seed=0)
    labels = torch.cat([y for _, y in loader])
    assert len(loader) == 8 and torch.equal(labels.sort().values, a.tensors[1].sort().values)
    first, second = (torch.cat([y for _, y in loader]) for _ in range(2))
    assert not torch.equal(first, second), "each epoch is shuffled anew"
