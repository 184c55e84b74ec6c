"""Shared fixtures: small real photos from scikit-image, the packaged pretrained backbone, notebook 06's lesson code,
one torch thread, and the browser of the website, deck and JupyterLab tests (Playwright)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from pages import PageWatch
from PIL import Image
from skimage import data as skdata

import course_utils as cu
from course_utils.env import flag
from course_utils.models import FALLBACK, Backbone, load_backbone
from tools.browser import NoBrowser, launch, launch_options
from tools.paths import COURSE_TOML, NOTEBOOKS, ROOT
from tools.student_edition import build_student


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

REQUIRE_BROWSER = flag("COURSE_REQUIRE_BROWSER")


def no_browser(reason: str):
    """Skip (a laptop without Chromium) or fail (COURSE_REQUIRE_BROWSER=1, as in CI)."""
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (COURSE_REQUIRE_BROWSER=1: the browser tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, playwright):
    """Chromium's launch options, once it has been seen to start (a browser that cannot start skips like none)."""
    try:
        options = {**browser_type_launch_args, **launch_options(playwright)}
        launch(playwright, options).close()
    except NoBrowser as error:
        no_browser(str(error))
    return options


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """Pages open at 1280×720, the screen every slide must fit."""
    return {**browser_context_args, "viewport": {"width": 1280, "height": 720}}


@pytest.fixture(scope="session")
def page_watch():
    """PageWatch(page) records what goes wrong in a page (tests/pages.py)."""
    return PageWatch


# ----------------------------------------------------------------------------------------
# Work in the background: a session fixture whose work is a command line (a build, the grading of a class) starts it
# at the session's first test, when a selected test needs that fixture, and waits for it only when a test asks: it
# runs while the other tests do.
# ----------------------------------------------------------------------------------------


@dataclass
class Job:
    """Command lines started for one fixture, each printing into folder/NAME.log."""

    folder: Path
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        """`python ARGS` in the repository root, with `env` added to this process's environment."""
        with open(self.folder / f"{name}.log", "w") as log:  # the child keeps its own copy of the file
            self.procs[name] = subprocess.Popen(
                [sys.executable, *args], cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=log
            )

    def failures(self, timeout: float) -> list[str]:
        """Wait for every command: what each one that failed printed."""
        codes = {name: proc.wait(timeout=timeout) for name, proc in self.procs.items()}
        return [
            f"`python {' '.join(self.procs[name].args[1:])}` failed ({code}):\n{self.log(name)[-5000:]}"
            for name, code in codes.items()
            if code
        ]

    def log(self, name: str) -> str:
        """What command `name` printed."""
        return (self.folder / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        """Kill what is still running."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()


STARTERS: dict[str, Callable[[Job], None]] = {}  # fixture name -> what starts its work


def starts_in_background(fixture: str) -> Callable[[Callable[[Job], None]], Callable[[Job], None]]:
    """Register a function that starts the work of `fixture` in a Job (a test module may register its own)."""

    def register(start: Callable[[Job], None]) -> Callable[[Job], None]:
        STARTERS[fixture] = start
        return start

    return register


class Jobs:
    """The session's Jobs by fixture name, each started the first time it is asked for."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp_path_factory, self.started = tmp_path_factory, {}

    def __getitem__(self, fixture: str) -> Job:
        return self.start(fixture)

    def start(self, fixture: str) -> Job:
        """The Job of `fixture`, started now unless it was already."""
        if fixture not in self.started:
            self.started[fixture] = Job(self.tmp_path_factory.mktemp(fixture))
            STARTERS[fixture](self.started[fixture])
        return self.started[fixture]

    def stop(self) -> None:
        """Kill what is still running."""
        for job in self.started.values():
            job.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The test modules that wait on background work run last, so that the work goes on while the others run."""
    waiting = {item.module.__name__ for item in items if set(STARTERS) & set(getattr(item, "fixturenames", ()))}
    items.sort(key=lambda item: getattr(getattr(item, "module", None), "__name__", "") in waiting)  # stable


@pytest.fixture(scope="session", autouse=True)
def background(request, tmp_path_factory) -> Iterator[Jobs]:
    """The Jobs of the fixtures that selected tests use, started now (the session's first test), or when a test first
    asks with COURSE_TEST_EARLY_START=0 (the other tests then never share the machine with them); stopped at the end."""
    jobs = Jobs(tmp_path_factory)
    if os.environ.get("COURSE_TEST_EARLY_START", "1").strip() != "0":
        for fixture in STARTERS:
            if any(fixture in getattr(item, "fixturenames", ()) for item in request.session.items):
                jobs.start(fixture)
    yield jobs
    jobs.stop()


def finished(job: Job, timeout: float = 900) -> Path:
    """The job's folder once all its commands are done; the test fails with their output when one failed."""
    failed = job.failures(timeout)
    if failed:
        pytest.fail("\n".join(failed))
    return job.folder


# ----------------------------------------------------------------------------------------
# The instructors' builds, made once per session for every test that reads them (tests/test_instructor.py,
# tests/test_grading.py). INSTRUCTOR_NOTEBOOKS and INSTRUCTOR_COURSE_MAP point them at other notebooks.
# ----------------------------------------------------------------------------------------

INSTRUCTOR_NOTEBOOKS = Path(os.environ.get("INSTRUCTOR_NOTEBOOKS", NOTEBOOKS))
INSTRUCTOR_COURSE_MAP = Path(os.environ.get("INSTRUCTOR_COURSE_MAP", COURSE_TOML))


@dataclass(frozen=True)
class Builds:
    """The build folder (html/, slides/, student/, nbgrader/) and the student edition's notebooks as written."""

    folder: Path
    student: list[Path]


@starts_in_background("instructor_builds")
def start_web_builds(job: Job) -> None:
    """`python -m tools.build html` and `... slides` of the instructor notebooks, as make runs them."""
    for what in ("html", "slides"):
        job.start(what, ["-m", "tools.build", "--notebooks", str(INSTRUCTOR_NOTEBOOKS),
                         "--course", str(INSTRUCTOR_COURSE_MAP), "--build", str(job.folder), what])  # fmt: skip


@pytest.fixture(scope="session")
def instructor_builds(background) -> Builds:
    """The website and the decks built by the command line (in the background), the student edition here."""
    folder = background["instructor_builds"].folder
    student = build_student(INSTRUCTOR_NOTEBOOKS, folder / "student", folder / "nbgrader")
    return Builds(finished(background["instructor_builds"]), student)
