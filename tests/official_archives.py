"""Small archives in each official format (idx.gz, Caltech-101's zip of a tar.gz, Microsoft's PetImages zip) and an
HTTP handler that serves them, whole or broken: what tests/test_download.py fetches from a local server."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import time
import zipfile
from http.server import BaseHTTPRequestHandler

import numpy as np
from PIL import Image
from skimage import data as skdata

from course_utils import data


def _idx(kind: int, shape: tuple[int, ...], seed: int) -> bytes:
    """An idx file: magic (0, 0, 8 = uint8, ndim), the dimensions big-endian, the values."""
    header = bytes([0, 0, 8, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)
    values = np.random.default_rng(seed).integers(0, 10 if kind == 1 else 256, size=shape, dtype=np.uint8)
    return header + values.tobytes()


def _jpeg(image: np.ndarray, size: tuple[int, int], shift: int = 0) -> bytes:
    out = io.BytesIO()
    Image.fromarray(image).convert("RGB").resize(size).crop((shift, 0, size[0], size[1])).save(out, "JPEG")
    return out.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, body in members.items():
            z.writestr(name, body)
    return out.getvalue()


def _caltech_zip(members: dict[str, bytes], link: tuple[str, str] | None = None) -> bytes:
    """Caltech-101's layout: a zip holding 101_ObjectCategories.tar.gz, with these files (and a symbolic link)."""
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w:gz") as t:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
        if link:
            info = tarfile.TarInfo(link[0])
            info.type, info.linkname = tarfile.SYMTYPE, link[1]
            t.addfile(info)
    return _zip({"caltech-101/101_ObjectCategories.tar.gz": tar.getvalue()})


def archives() -> tuple[dict[str, bytes], dict[str, dict[str, str]], str]:
    """The files the server serves (by path), the idx pins of each MNIST-like set, Caltech-101's tree pin."""
    served, pins = {}, {}
    for folder, seed in (("mnist", 0), ("fashion", 10)):
        pins[folder] = {}
        for i, name in enumerate(data.DATASETS["MNIST"].files):
            kind, n = (3, (6, 28, 28)) if "images" in name else (1, (6,))
            raw = _idx(kind, n, seed + i)
            pins[folder][name] = hashlib.sha256(raw).hexdigest()
            served[f"/{folder}/{name}.gz"] = gzip.compress(raw)
    caltech = {
        "101_ObjectCategories/accordion/image_0001.jpg": _jpeg(skdata.coffee(), (60, 40)),
        "101_ObjectCategories/accordion/image_0002.jpg": _jpeg(skdata.coffee(), (60, 40), 3),
        "101_ObjectCategories/rocket/image_0001.jpg": _jpeg(skdata.rocket(), (40, 60)),
        "101_ObjectCategories/BACKGROUND_Google/image_0001.jpg": _jpeg(skdata.astronaut(), (50, 50)),
        "101_ObjectCategories/BACKGROUND_Google/tmp": b"stray",
    }
    served["/caltech/caltech-101.zip"] = _caltech_zip(caltech)
    # archives no one should unpack: a member that climbs out of the folder, a link to a file outside it
    served["/climbs/caltech-101.zip"] = _caltech_zip(caltech | {"101_ObjectCategories/../../outside.txt": b"x"})
    served["/links/caltech-101.zip"] = _caltech_zip(caltech, link=("101_ObjectCategories/rocket/a.jpg", "/etc/passwd"))
    manifest = "".join(f"{hashlib.sha256(body).hexdigest()}  {name}\n" for name, body in sorted(caltech.items()))
    pets = {f"PetImages/Cat/{i}.jpg": _jpeg(skdata.chelsea(), (48, 40), i) for i in range(5)}
    pets |= {f"PetImages/Dog/{i}.jpg": _jpeg(skdata.astronaut(), (40, 48), i) for i in range(5)}
    pets["PetImages/Cat/1.jpg"] = pets["PetImages/Cat/1.jpg"][:300]  # cut off inside the picture
    pets["PetImages/Dog/0.jpg"] = b""  # as in Microsoft's archive: empty files and a Thumbs.db
    pets["PetImages/Dog/Thumbs.db"] = b"\0" * 64
    pets["CDLA-Permissive-2.0.pdf"] = b"%PDF-1.4"
    served["/pets/kagglecatsanddogs_5340.zip"] = _zip(pets)
    return served, pins, hashlib.sha256(manifest.encode()).hexdigest()


class Handler(BaseHTTPRequestHandler):
    """GET/HEAD of the served files; /cut/... sends half the body under the full Content-Length and hangs up,
    /stall/... sends half and then stops sending, /short/... sends an archive cut in half (an honest length)."""

    served: dict[str, bytes] = {}

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass

    def _send(self, head_only: bool) -> None:
        mode, _, path = self.path.partition("/")[2].partition("/")
        mode, path = (mode, "/" + path) if mode in ("cut", "stall", "short") else ("", self.path)
        body = self.served.get(path)
        if body is None:
            self.send_error(404)
            return
        if mode == "short":
            body = body[: len(body) // 2]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if head_only:
            return
        if mode in ("cut", "stall"):
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            if mode == "stall":
                time.sleep(6)
            self.close_connection = True
            return
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._send(False)

    def do_HEAD(self) -> None:
        self._send(True)
