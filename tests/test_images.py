"""The one image check: the same answer for bytes and for a file, "" when the image can be used."""

from __future__ import annotations

import io

from course_utils.images import image_problem


def _jpeg(photo) -> bytes:
    out = io.BytesIO()
    photo.save(out, "JPEG")
    return out.getvalue()


def test_bytes_and_files_get_the_same_answer(tmp_path, photos):
    whole = _jpeg(photos["chelsea"])
    cases = {"whole.jpg": whole, "cut.jpg": whole[: len(whole) // 2], "empty.jpg": b"", "page.jpg": b"<html>404</html>"}
    for name, body in cases.items():
        (tmp_path / name).write_bytes(body)
        assert image_problem(body).split(":")[0] == image_problem(tmp_path / name).split(":")[0], name
    assert image_problem(whole) == ""
    assert image_problem(b"") == "zero bytes"
    assert image_problem(tmp_path / "page.jpg").startswith("UnidentifiedImageError: cannot identify image file")


def test_decoding_finds_a_photo_cut_off_inside_its_data(tmp_path, photos):
    cut = tmp_path / "cut.jpg"
    whole = _jpeg(photos["chelsea"])
    cut.write_bytes(whole[: len(whole) // 2])
    assert image_problem(cut, decode=False) == "", "the headers alone look fine"
    assert image_problem(cut).startswith("OSError: ")
