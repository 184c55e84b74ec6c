"""Notebook 06's exported split keeps each Faces photo and its Faces_easy crop (the same file name) in one split."""

from __future__ import annotations

import course_utils as cu


def test_no_face_is_in_another_split_than_its_crop(lesson06, tmp_path):
    cu.require("caltech101")
    counts = lesson06["split_caltech101"](tmp_path / "split", ["Faces", "Faces_easy"])
    split_of = {(p.parent.name, p.name): p.parent.parent.name for p in (tmp_path / "split").glob("*/*/*.jpg")}
    faces = {name: split for (c, name), split in split_of.items() if c == "Faces"}
    crops = {name: split for (c, name), split in split_of.items() if c == "Faces_easy"}
    assert len(faces) == len(crops) == 435
    assert crops == faces, [name for name in faces if crops.get(name) != faces[name]][:5]
    assert counts["test"]["Faces"] == counts["test"]["Faces_easy"] > 0
