"""course_utils.files: the atomic writer, the folder replace, the sha256."""

from __future__ import annotations

import hashlib

import pytest

from course_utils import files


def test_atomic_write_replaces_the_file_whole(tmp_path):
    path = tmp_path / "sub" / "out.txt"
    files.write_text(path, "old")
    files.write_text(path, "new")
    assert path.read_text() == "new"
    assert sorted(p.name for p in path.parent.iterdir()) == ["out.txt"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = files.write_bytes(tmp_path / "out.bin", b"old")

    def write_half() -> None:
        with files.atomic_write(path) as file:
            file.write(b"half")
            raise RuntimeError("midway")

    with pytest.raises(RuntimeError, match="midway"):
        write_half()
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_replace_folder_swaps_the_tree_and_removes_the_old_one(tmp_path):
    dest, staging = tmp_path / "dataset", tmp_path / "staged"
    (dest / "old").mkdir(parents=True)
    (staging / "new").mkdir(parents=True)
    files.replace_folder(staging, dest)
    assert [p.name for p in dest.iterdir()] == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]  # the old copy is gone, nothing beside it


def test_replace_folder_keeps_the_old_tree_when_the_new_one_is_missing(tmp_path):
    dest = tmp_path / "dataset"
    (dest / "old").mkdir(parents=True)
    with pytest.raises(FileNotFoundError):
        files.replace_folder(tmp_path / "absent", dest)
    assert [p.name for p in dest.iterdir()] == ["old"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]


def test_sha256_of_a_file_its_gzip_and_a_text(tmp_path):
    import gzip

    data = b"course" * 1000
    (tmp_path / "a").write_bytes(data)
    (tmp_path / "a.gz").write_bytes(gzip.compress(data))
    want = hashlib.sha256(data).hexdigest()
    assert files.sha256_file(tmp_path / "a") == want
    assert files.sha256_file(tmp_path / "a.gz", gunzip=True) == want
    assert files.sha256_text("course" * 1000) == want


def test_content_digest_is_the_sha256_and_follows_a_rewrite(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"first")
    assert files.content_digest(path) == files.sha256_file(path)
    path.unlink()
    path.write_bytes(b"another")  # a new file under the same name (its size, inode or mtime differ): read again
    assert files.content_digest(path) == files.sha256_file(path) == files.sha256_text("another")
