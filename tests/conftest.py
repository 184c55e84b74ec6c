"""Shared fixtures: small real photos from scikit-image, the packaged pretrained backbone, notebook 06's lesson code,
one torch thread, and the browser of the website, deck and JupyterLab tests (Playwright)."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import torch
from PIL import Image
from skimage import data as skdata

import course_utils as cu
from course_utils.models import FALLBACK, Backbone, load_backbone

TOOLS = Path(__file__).resolve().parent.parent / "tools"


@pytest.fixture(scope="session")
def photos() -> dict[str, Image.Image]:
    """A few real photos (cat, coffee, astronaut, rocket) as small RGB images."""
    return {
        name: Image.fromarray(getattr(skdata, name)()).convert("RGB").resize((64, 48))
        for name in ("chelsea", "coffee", "astronaut", "rocket")
    }


def make_class_folders(root: Path, photos: dict[str, Image.Image], per_class: int = 5) -> Path:
    """root/<class>/img_<i>.jpg: 'cat' from chelsea, 'cup' from coffee, slightly shifted crops."""
    for label, name in (("cat", "chelsea"), ("cup", "coffee")):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            photos[name].crop((i, 0, 64 - per_class + i, 48)).save(root / label / f"img_{i}.jpg")
    return root


@pytest.fixture(scope="module")
def one_thread():
    """Batches of a few small images: one thread is faster than several fighting for shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def lite0() -> Backbone:
    """The packaged pretrained fallback backbone (EfficientNet-Lite0), loaded once per module."""
    return load_backbone("resnet18", FALLBACK)


@pytest.fixture(scope="session")
def lesson06() -> dict:
    """What notebook 06 exports (split_caltech101, train_transform, eval_transform, source_head): one copy for all."""
    return cu.lesson_code("06_caltech101_vgg16.ipynb")


@pytest.fixture(scope="session")
def as_input(lesson06):
    """An HWC uint8 image as the normalised batch of one a backbone expects, through notebook 06's eval transform."""

    def prepare(image, backbone: Backbone, size: int = 224) -> torch.Tensor:
        return lesson06["eval_transform"](backbone, size)(image)[None]

    return prepare


@pytest.fixture
def mnist_small():
    """Real MNIST, small: a shuffled loader of 1,000 training images and one of 500 valid images, fresh each time."""
    from course_utils.tensors import TensorLoader, load_mnist

    def make() -> tuple[TensorLoader, TensorLoader]:
        train = TensorLoader(load_mnist("MNIST", split="train", limit=1000, seed=0), 100, shuffle=True)
        return train, TensorLoader(load_mnist("MNIST", split="valid", limit=500, seed=0), 250)

    return make


# ----------------------------------------------------------------------------------------
# The browser for the website, deck and JupyterLab tests: pytest-playwright's fixtures (`browser`, `page`), driving
# Playwright's own Chromium (`python -m playwright install chromium`) or a Chromium/Chrome found on PATH or named by
# $CHROMIUM. Without one the browser tests skip, with one line saying how to get one; COURSE_REQUIRE_BROWSER=1 (CI)
# makes that a failure.
# ----------------------------------------------------------------------------------------

REQUIRE_BROWSER = os.environ.get("COURSE_REQUIRE_BROWSER", "").strip().lower() in {"1", "true", "yes"}


def load_tool(name: str):
    """tools/<name>.py as the module course_<name>, loaded once (the tools are scripts, not a package)."""
    key = f"course_{name}"
    if key not in sys.modules:
        spec = importlib.util.spec_from_file_location(key, TOOLS / f"{name}.py")
        sys.modules[key] = importlib.util.module_from_spec(spec)  # before exec: dataclasses look their module up
        spec.loader.exec_module(sys.modules[key])
    return sys.modules[key]


_deckcheck = load_tool("deckcheck")


@pytest.fixture(scope="session")
def deckcheck():
    """tools/deckcheck.py: the slide-fit checks, the browser finder and the JupyterLab launcher."""
    return _deckcheck


def no_browser(reason: str):
    """Skip (a laptop without Chromium) or fail (COURSE_REQUIRE_BROWSER=1, as in CI)."""
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (COURSE_REQUIRE_BROWSER=1: the browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, playwright):
    """Chromium's launch options, once it has been seen to start (a browser that cannot start skips like none)."""
    try:
        options = {**browser_type_launch_args, **_deckcheck.launch_options(playwright)}
        _deckcheck.launch(playwright, options).close()
    except _deckcheck.NoBrowser as error:
        no_browser(str(error))
    return options


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """Pages open at 1280×720, the screen every slide must fit."""
    return {**browser_context_args, "viewport": {"width": 1280, "height": 720}}


LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class PageWatch:
    """What goes wrong in one page: console errors, uncaught exceptions, failed requests, HTTP errors, and any
    request that would leave this machine."""

    def __init__(self, page, ignore: tuple[str, ...] = ()):
        self.problems: list[str] = []
        self.ignore = ignore  # substrings of messages that are known and not the course's (say why where used)
        page.on("console", lambda m: m.type in ("error", "assert") and self.add(f"console.{m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.add(f"uncaught exception: {e}"))
        page.on("requestfailed", lambda r: self.add(f"failed request {r.url}: {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.add(f"HTTP {r.status} for {r.url}"))
        page.on("request", self._request)

    def add(self, problem: str) -> None:
        if not any(text in problem for text in self.ignore):
            self.problems.append(problem[:500])

    def _request(self, request):
        parts = urlsplit(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS:
            self.add(f"request to a non-localhost host: {request.url}")


@pytest.fixture(scope="session")
def page_watch():
    """PageWatch(page) records what goes wrong in a page (see the class)."""
    return PageWatch
