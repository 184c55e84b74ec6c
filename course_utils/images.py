"""The one check that an image file can be used: what a fetched archive and an image folder both ask."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

from PIL import Image


def image_problem(source: bytes | str | os.PathLike, *, decode: bool = True) -> str:
    """Why an image (its bytes, or a path) cannot be used; "" when PIL verifies it (and, with decode, decodes it)."""
    if (len(source) if isinstance(source, bytes) else Path(source).stat().st_size) == 0:
        return "zero bytes"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # some photos carry broken EXIF blocks and still decode
            with _open(source) as image:
                image.verify()
            if decode:  # verify() reads the headers only: a photo cut off inside its data still passes it
                with _open(source) as image:
                    image.load()
    except Exception as exc:  # PIL raises many kinds (OSError, SyntaxError, ValueError, ...)
        return f"{type(exc).__name__}: {exc}"
    return ""


def _open(source: bytes | str | os.PathLike) -> Image.Image:
    return Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
