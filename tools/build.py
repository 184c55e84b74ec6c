"""Instructors' builds of the course: website, slides and student edition.

    python -m tools.build html     # _build/html     static website (Sphinx + myst-nb + sphinx-book-theme)
    python -m tools.build slides   # _build/slides   one reveal.js deck per notebook (nbconvert)
    python -m tools.build student  # _build/student  the student edition (nbgrader generate_assignment)

notebooks/ is the one source. Nothing is executed: the site and the slides show the
outputs committed in the notebooks. Nothing is fetched from the internet either, at build
time or when a page is viewed: reveal.js and MathJax come from tools/node_modules
(``npm ci --prefix tools``) and are copied next to the pages that use them.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .decks import build_slides
from .errors import ToolError
from .paths import BUILD, COURSE_TOML, NOTEBOOKS
from .student_edition import build_student
from .website import build_html


def parser() -> argparse.ArgumentParser:
    """The command line: html, slides or student, with the folders to read and write."""
    ap = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="notebooks folder")
    ap.add_argument("--course", type=Path, default=COURSE_TOML, help="course map (course.toml)")
    ap.add_argument("--build", type=Path, default=BUILD, help="build folder (_build)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("html", help="build the website into BUILD/html")
    h.add_argument("-v", "--verbose", action="store_true", help="show Sphinx's progress")
    sub.add_parser("slides", help="build the reveal.js decks into BUILD/slides")
    sub.add_parser("student", help="write the student edition into BUILD/student")
    return ap


def run(args: argparse.Namespace) -> str:
    """Build what the command line asks for: one line saying what was written where."""
    if args.cmd == "html":
        out = build_html(args.notebooks, args.course, args.build / "html", quiet=not args.verbose)
        return f"website: {out}/index.html"
    if args.cmd == "slides":
        decks = build_slides(args.notebooks, args.build / "slides")
        return f"slides: {len(decks)} decks in {args.build / 'slides'}"
    written = build_student(args.notebooks, args.build / "student", args.build / "nbgrader")
    return f"student edition: {len(written)} notebooks in {args.build / 'student'}"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; 1 with the reason on stderr when a build cannot go on."""
    args = parser().parse_args(argv)
    t0 = time.perf_counter()
    try:
        done = run(args)
    except ToolError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{done} ({time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
