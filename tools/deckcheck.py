"""Does every slide fit the screen? The course's decks measured in Chromium, driven by Playwright.

    python -m tools.deckcheck decks [FOLDER]       # the exported reveal.js decks (`make slides` writes _build/slides)
    python -m tools.deckcheck rise [NOTEBOOKS]     # every notebook presented with RISE, in a JupyterLab on a copy
    python -m tools.deckcheck rise notebooks/03_convolutions_lenet.ipynb   # one notebook

Each slide is shown at 1280×720 (``--size``) with all its fragments, and its content is measured against the
slide's frame: a slide overflows when its content is taller or wider than the frame (it would scroll, or be cut
off in RISE). Code must be at least 14 px on the screen and nothing may come within 12 px of the right
edge; slides that show nbval's `# NBVAL_...` lines are counted. The exit status is 1 when a slide is faulty, 2
when there is nothing to measure or no browser.

The browser is Playwright's Chromium (``python -m playwright install chromium``), or a Chromium/Chrome found on
PATH or named by $CHROMIUM (tools.browser); the tests use the same finder and the same JupyterLab (tools.lab_server).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils.course import notebook_paths

from .browser import NoBrowser, launch
from .lab_server import jupyter_lab
from .paths import BUILD, NOTEBOOKS
from .slidefit import SIZE, SlideFit, check_deck, check_rise, report

if TYPE_CHECKING:
    from playwright.sync_api import Page


class NothingToCheck(RuntimeError):
    """No deck or notebook in the folder named (the message says what to run)."""


def measure_decks(page: Page, folder: Path | None) -> list[SlideFit]:
    """Every slide of every exported deck in `folder` (default _build/slides)."""
    folder = (folder or BUILD / "slides").resolve()
    decks = sorted(folder.glob("*.slides.html"))
    if not decks:
        raise NothingToCheck(f"no decks in {folder}: run `make slides`")
    return [fit for deck in decks for fit in check_deck(page, deck.as_uri())]


def measure_rise(page: Page, where: Path | None) -> list[SlideFit]:
    """Every slide of one notebook, or of every notebook in a folder (default notebooks/), in RISE, in a JupyterLab on
    a copy."""
    where = (where or NOTEBOOKS).resolve()
    folder, paths = (where.parent, [where]) if where.is_file() else (where, notebook_paths(where))
    fits: list[SlideFit] = []
    with tempfile.TemporaryDirectory(prefix="course-rise-") as tmp:
        for path in paths:  # a copy: RISE's kernel session must not touch the course
            shutil.copy2(path, tmp)
        for extra in folder.glob("*.css"):
            shutil.copy2(extra, tmp)
        with jupyter_lab(Path(tmp), {"COURSE_QUICK": "1"}) as (url, token):
            for path in paths:
                fits += check_rise(page, url, token, path.name)
    return fits


def parser() -> argparse.ArgumentParser:
    """The command line: decks or rise, a folder, the screen size."""
    ap = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("what", choices=["decks", "rise"])
    ap.add_argument("folder", nargs="?", type=Path, help="decks: _build/slides; rise: notebooks/ or one notebook")
    ap.add_argument("--size", default=f"{SIZE[0]}x{SIZE[1]}", help="the screen, WIDTHxHEIGHT (1280x720)")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Measure every slide and report; 1 when a slide is faulty, 2 without a browser or anything to measure."""
    from playwright.sync_api import sync_playwright

    args = parser().parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    measure = measure_decks if args.what == "decks" else measure_rise
    with sync_playwright() as p:
        try:
            browser = launch(p)
            fits = measure(browser.new_page(viewport={"width": width, "height": height}), args.folder)
        except (NoBrowser, NothingToCheck) as error:
            print(error, file=sys.stderr)
            return 2
        browser.close()
    return 1 if report(fits) else 0


if __name__ == "__main__":
    sys.exit(main())
