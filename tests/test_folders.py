"""Splitting folders of images and reading them: deterministic, non-destructive, clear about bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_class_folders

from course_utils.folders import CheckedImageFolder, label_from_name, split_folder


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_split_is_deterministic_and_leaves_the_source_untouched(tmp_path, photos):
    source = make_class_folders(tmp_path / "src", photos, per_class=10)
    before = _snapshot(source)
    counts = split_folder(source, tmp_path / "a", {"train": 0.5, "valid": 0.3, "test": 0.2}, seed=3)
    split_folder(source, tmp_path / "b", {"train": 0.5, "valid": 0.3, "test": 0.2}, seed=3)
    assert _snapshot(source) == before
    assert counts["train"] == {"cat": 5, "cup": 5}
    assert counts["valid"] == {"cat": 3, "cup": 3}
    a, b = (json.loads((tmp_path / d / "split.json").read_text())["plan"] for d in "ab")
    assert a == b
    files = [f for split in a.values() for fs in split.values() for f in fs]
    assert len(files) == len(set(files)) == 20, "every file lands in exactly one split"
    other = json.loads(
        split_folder(source, tmp_path / "c", {"train": 0.5, "valid": 0.3, "test": 0.2}, seed=4)
        and (tmp_path / "c" / "split.json").read_text()
    )["plan"]
    assert other != a, "another seed gives another split"


def test_classes_split_together_put_same_named_files_in_the_same_split(tmp_path, photos):
    source = make_class_folders(tmp_path / "src", photos, per_class=12)
    fractions = {"train": 0.5, "valid": 0.25, "test": 0.25}
    alone = json.loads(split_folder(source, tmp_path / "a", fractions) and (tmp_path / "a" / "split.json").read_text())[
        "plan"
    ]
    where = {split: sorted(Path(f).name for f in classes["cup"]) for split, classes in alone.items()}
    assert where != {split: sorted(Path(f).name for f in classes["cat"]) for split, classes in alone.items()}
    counts = split_folder(source, tmp_path / "b", fractions, together=(("cat", "cup"),), per_class=8)
    tied = json.loads((tmp_path / "b" / "split.json").read_text())["plan"]
    for split, classes in tied.items():
        assert [Path(f).name for f in classes["cup"]] == [Path(f).name for f in classes["cat"]], split
    assert counts["train"] == {"cat": 4, "cup": 4}
    (source / "cup" / "img_99.jpg").write_bytes((source / "cup" / "img_0.jpg").read_bytes())
    with pytest.raises(ValueError, match="img_99.jpg"):
        split_folder(source, tmp_path / "c", fractions, together=(("cat", "cup"),))


def test_rerun_changes_nothing_and_new_arguments_rebuild(tmp_path, photos):
    source = make_class_folders(tmp_path / "src", photos, per_class=10)
    dest = tmp_path / "split"
    split_folder(source, dest, seed=0)
    marker = dest / "split.json"
    mtime = marker.stat().st_mtime_ns
    split_folder(source, dest, seed=0)
    assert marker.stat().st_mtime_ns == mtime
    counts = split_folder(source, dest, seed=0, per_class=4)
    assert sum(counts["train"].values()) + sum(counts["valid"].values()) == 8
    assert len(list(dest.glob("*/*/*.jpg"))) == 8
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no staging folder is left behind"


def test_flat_kaggle_layout_is_split_by_file_name(tmp_path, photos):
    flat = tmp_path / "train"
    flat.mkdir()
    for i in range(4):
        photos["chelsea"].save(flat / f"cat.{i}.jpg")
        photos["coffee"].save(flat / f"dog.{i}.jpg")
    counts = split_folder(flat, tmp_path / "split", label_of=label_from_name)
    assert counts["train"] == {"cat": 3, "dog": 3}
    assert counts["valid"] == {"cat": 1, "dog": 1}
    assert sorted(p.name for p in flat.iterdir()) == sorted(f"{c}.{i}.jpg" for c in ("cat", "dog") for i in range(4))


def test_bad_files_are_named_and_skipped_and_modes_become_rgb(tmp_path, photos, capsys):
    root = make_class_folders(tmp_path / "imgs", photos, per_class=3)
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    photos["coffee"].convert("L").save(root / "cup" / "gray.png")
    photos["coffee"].convert("CMYK").save(root / "cup" / "cmyk.jpg")
    ds = CheckedImageFolder(root)
    out = capsys.readouterr().out
    assert "Skipped 2 file(s)" in out
    assert "cat/notes.txt" in out
    assert "cat/broken.jpg" in out
    assert str(tmp_path) not in out, "the report names files relative to the folder, the same on every machine"
    assert len(ds) == 8
    assert ds.classes == ["cat", "cup"]
    assert {ds[i][0].mode for i in range(len(ds))} == {"RGB"}


def test_empty_class_or_no_class_folders_is_a_clear_error(tmp_path, photos):
    root = make_class_folders(tmp_path / "imgs", photos, per_class=2)
    (root / "dog").mkdir()
    with pytest.raises(FileNotFoundError, match=r"empty class folder\(s\) in .*imgs: dog"):
        CheckedImageFolder(root)
    flat = tmp_path / "flat"
    flat.mkdir()
    photos["chelsea"].save(flat / "cat.0.jpg")
    with pytest.raises(FileNotFoundError, match="has no class subfolders"):
        CheckedImageFolder(flat)
    with pytest.raises(FileNotFoundError, match="no image folder at"):
        CheckedImageFolder(tmp_path / "nowhere")


def test_a_photo_replaced_under_the_same_name_rebuilds_the_split(tmp_path, photos):
    # a refetch (the full-size download after the 200x200 mirror) keeps the names: the split must follow the content
    source = make_class_folders(tmp_path / "src", photos, per_class=4)
    dest = tmp_path / "split"
    split_folder(source, dest, seed=0)
    first = json.loads((dest / "split.json").read_text())
    replaced = source / "cat" / "img_0.jpg"
    replaced.unlink()  # a new file under the old name, as a fresh download writes it
    photos["astronaut"].save(replaced)
    split_folder(source, dest, seed=0)
    linked = next(dest.glob("*/cat/img_0.jpg"))
    assert linked.read_bytes() == replaced.read_bytes(), "the split holds the new photo, not a link to the old one"
    assert json.loads((dest / "split.json").read_text())["plan"] == first["plan"]
