"""Fetching and loading data: mirror first, verified, atomic, idempotent, fails fast and clearly."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

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
    assert [p.name for p in (tmp_path / "data" / "MNIST").iterdir()] == ["raw"], "no staging folder is left behind"


def test_corrupt_copy_in_data_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(_mini_mirror(tmp_path)))
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "data"))
    data.fetch_one("MNIST")
    bad = tmp_path / "data" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    bad.write_bytes(b"not mnist")
    assert data.problems(data.DATASETS["MNIST"]) == [f"wrong content (sha256) in {bad}"]
    assert "fetched from the mirror" in data.fetch_one("MNIST")
    assert data.problems(data.DATASETS["MNIST"]) == []
    assert [p.name for p in (tmp_path / "data" / "MNIST").iterdir()] == ["raw"], "no .old copy is left behind"


def test_a_fetch_that_fails_after_staging_leaves_the_old_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_DATA_MIRROR", str(_mini_mirror(tmp_path)))
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "data"))
    data.fetch_one("MNIST")
    raw = tmp_path / "data" / "MNIST" / "raw"
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"not mnist")
    old = {p.name: p.read_bytes() for p in raw.iterdir()}
    rename = os.replace

    def refuse_the_staged_copy(source, dest):
        if Path(source).name == "staged":
            raise OSError("no space left on device")
        rename(source, dest)

    monkeypatch.setattr(os, "replace", refuse_the_staged_copy)
    with pytest.raises(data.DatasetError, match="could not move the verified copy .* nothing changed"):
        data.fetch_one("MNIST")
    assert {p.name: p.read_bytes() for p in raw.iterdir()} == old, "the old copy is back where it was"
    assert [p.name for p in raw.parent.iterdir()] == ["raw"]


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
    assert "Could not fetch MNIST" in result.stderr
    assert "Could not fetch dogs-vs-cats" in result.stderr
    assert "COURSE_DATA_MIRROR" in result.stderr
    assert str(tmp_path / "data" / "MNIST" / "raw") in result.stderr
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
