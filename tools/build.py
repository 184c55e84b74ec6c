#!/usr/bin/env python3
"""Instructors' builds of the course: website, slides and student edition.

    python tools/build.py html     # _build/html     static website (Sphinx + myst-nb + sphinx-book-theme)
    python tools/build.py slides   # _build/slides   one reveal.js deck per notebook (nbconvert)
    python tools/build.py student  # _build/student  the student edition (nbgrader generate_assignment)

notebooks/ is the one source. Nothing is executed: the site and the slides show the
outputs committed in the notebooks. Nothing is fetched from the internet either, at build
time or when a page is viewed: reveal.js and MathJax come from tools/node_modules
(``npm ci --prefix tools``) and are copied next to the pages that use them.
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat

from course_utils.course import COURSE_TOML, course_info, course_map, notebook_paths

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
NODE_MODULES = TOOLS / "node_modules"
DEFAULT_NOTEBOOKS = ROOT / "notebooks"
DEFAULT_BUILD = ROOT / "_build"
DEFAULT_TITLE = "PyTorch course"

SOLUTION_TAG = "solution"


# ----------------------------------------------------------------------------------------
# The course map
# ----------------------------------------------------------------------------------------


class BuildError(RuntimeError):
    """A build that cannot go on: what is missing and what to do (main() turns it into a message and exit status)."""


def find_notebooks(nb_dir: Path, course_toml: Path = COURSE_TOML) -> list[Path]:
    """The course's notebooks that exist in `nb_dir`, in course order (course.toml, read by course_utils.course)."""
    return [p for p in notebook_paths(nb_dir, course_toml) if p.is_file()]


def course_entries(nb_dir: Path, course_toml: Path = COURSE_TOML) -> list[dict]:
    """course.toml's entries in course order, each with ``path`` (None for a notebook listed but not written yet)."""
    entries = [
        dict(e, path=p if p.is_file() else None)
        for e, p in zip(course_map(course_toml), notebook_paths(nb_dir, course_toml), strict=True)
    ]
    for e in entries:
        e.setdefault("title", notebook_title(e["path"]) if e["path"] else Path(e["file"]).stem)
        e.setdefault("teaches", "")
    return entries


def notebook_title(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            m = re.search(r"^#\s+(.+)$", cell.source, re.MULTILINE)
            if m:
                return m.group(1).strip()
    return path.stem


def format_minutes(value) -> str:
    """0.3 -> '18 s', 4 -> '4 min', 2.5 -> '2.5 min', 75 -> '1 h 15 min'."""
    if value is None or value == "":
        return "–"
    minutes = float(value)
    if minutes < 1:
        return f"{max(1, round(minutes * 60))} s"
    if minutes < 60:
        return f"{minutes:.1f}".rstrip("0").rstrip(".") + " min"
    h, m = divmod(round(minutes), 60)
    return f"{h} h" + (f" {m} min" if m else "")


# ----------------------------------------------------------------------------------------
# Website
# ----------------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    """One line of plain text for a MyST list-table cell."""
    return " ".join(str(text).split())


def home_page(course: dict, entries: list[dict], pages: list[Path] = ()) -> str:
    title = course.get("title", DEFAULT_TITLE)
    lines = [f"# {title}", ""]
    if course.get("description"):
        lines += [course["description"].strip(), ""]
    lines += [
        "Work through the notebooks in order. Each page shows a notebook as it was last run in",
        "full, with its outputs and figures; the download button (top right) gives you the",
        "`.ipynb`. The times are how long a notebook takes to run on a 2-core CPU, in the *quick*",
        "profile (subsets of the data) and in the *full* one.",
        "",
        "## Course map",
        "",
        "```{list-table}",
        ":header-rows: 1",
        ":class: course-map",
        ":widths: 5 30 45 10 10",
        "",
        "* - No.",
        "  - Notebook",
        "  - What it teaches",
        "  - Quick",
        "  - Full",
    ]
    for i, e in enumerate(entries):
        num = re.match(r"(\d+)", e["file"])
        num = num.group(1) if num else str(i)
        name = _md_escape(e["title"])
        link = f"[{name}]({e['file']})" if e["path"] else f"{name} *(coming soon)*"
        lines += [
            f"* - {num}",
            f"  - {link}",
            f"  - {_md_escape(e['teaches']) or '–'}",
            f"  - {format_minutes(e.get('minutes_quick'))}",
            f"  - {format_minutes(e.get('minutes_full'))}",
        ]
    lines += ["```"]
    docs = [e["file"] for e in entries if e["path"]] + [p.name for p in pages]
    lines += ["", "```{toctree}", ":hidden:", ":maxdepth: 2", ""] + docs + ["```", ""]
    return "\n".join(lines)


NBVAL_MARKER = re.compile(r"^[ \t]*# ?NBVAL_[A-Z_]+[ \t]*\n?", re.MULTILINE)


def without_test_markers(nb):
    """Drop the ``# NBVAL_CHECK_OUTPUT``-style lines (test plumbing) from code cells, for display."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = NBVAL_MARKER.sub("", cell.source)
    return nb


def site_notebook(path: Path):
    """The notebook as the site shows it: solutions folded behind a 'Show solution' toggle."""
    nb = without_test_markers(nbformat.read(path, as_version=4))
    for cell in nb.cells:
        if SOLUTION_TAG not in cell.metadata.get("tags", []):
            continue
        if cell.cell_type == "code":
            tags = cell.metadata.setdefault("tags", [])
            if not any(t.startswith(("hide-", "remove-")) for t in tags):
                tags.append("hide-cell")
            cell.metadata.setdefault("mystnb", {}).update(
                code_prompt_show="Show solution", code_prompt_hide="Hide solution"
            )
        elif cell.cell_type == "markdown":
            cell.source = (
                '<details class="course-solution">\n<summary>Show solution</summary>\n\n'
                + cell.source.strip()
                + "\n\n</details>"
            )
    return nb


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def extra_pages(nb_dir: Path) -> list[Path]:
    """The Markdown pages beside the notebooks (the glossary): on the website after the notebooks."""
    return sorted(p for p in Path(nb_dir).glob("*.md") if p.name.lower() != "readme.md")


def stage_site(src: Path, entries: list[dict], course: dict, pages: list[Path] = ()) -> None:
    """Fill Sphinx's source folder; unchanged files keep their mtime (incremental builds)."""
    src.mkdir(parents=True, exist_ok=True)
    wanted = {"index.md"}
    _write_if_changed(src / "index.md", home_page(course, entries, pages))
    for e in entries:
        if e["path"]:
            wanted.add(e["file"])
            _write_if_changed(src / e["file"], nbformat.writes(site_notebook(e["path"])) + "\n")
    for page in pages:
        wanted.add(page.name)
        _write_if_changed(src / page.name, page.read_text(encoding="utf-8"))
    for p in src.iterdir():  # notebooks removed since the last build
        if p.name not in wanted:
            shutil.rmtree(p) if p.is_dir() else p.unlink()


MATHJAX_PARTS = ["tex-chtml.js", "input", "output", "ui", "a11y", "sre", "adaptors"]


def copy_mathjax(dest: Path) -> None:
    """MathJax 3's tex-chtml.js and every file it may load (fonts, TeX extensions, menu)."""
    es5 = NODE_MODULES / "mathjax" / "es5"
    done = dest / "tex-chtml.js"
    if done.is_file() and done.stat().st_size == (es5 / "tex-chtml.js").stat().st_size:
        return
    dest.mkdir(parents=True, exist_ok=True)
    for part in MATHJAX_PARTS:
        if (es5 / part).is_dir():
            shutil.copytree(es5 / part, dest / part, dirs_exist_ok=True)
        else:
            shutil.copy2(es5 / part, dest / part)


def require_node_modules(*packages: str) -> None:
    missing = [p for p in packages if not (NODE_MODULES / p / "package.json").is_file()]
    if missing:
        raise BuildError(
            f"{', '.join(missing)} not found in {NODE_MODULES}: "
            "run `npm ci --prefix tools` (it installs the versions pinned in tools/package-lock.json)"
        )


def build_html(nb_dir: Path, course_toml: Path, out: Path, quiet: bool = True) -> Path:
    from sphinx.cmd.build import build_main

    require_node_modules("mathjax")
    course = course_info(course_toml)
    entries = course_entries(nb_dir, course_toml)
    if not any(e["path"] for e in entries):
        raise BuildError(f"no notebooks in {nb_dir}")
    out = Path(out)
    src, doctrees = out.parent / ".site_src", out.parent / ".site_doctrees"
    stage_site(src, entries, course, extra_pages(nb_dir))
    title = course.get("title", DEFAULT_TITLE)
    argv = [
        "-b",
        "html",
        "-c",
        str(TOOLS / "site"),
        "-d",
        str(doctrees),
        "-D",
        f"project={title}",
        "-D",
        f"html_title={title}",
        str(src),
        str(out),
    ]
    if quiet:
        argv.insert(0, "-q")
    rc = build_main(argv)
    if rc:
        raise BuildError(f"sphinx-build failed ({rc})")
    copy_mathjax(out / "_static" / "mathjax")  # conf.py: mathjax_path = "mathjax/tex-chtml.js"
    for e in entries:  # the download button gives the committed notebook, not the staged copy
        if e["path"] and (out / "_sources" / e["file"]).is_file():
            shutil.copyfile(e["path"], out / "_sources" / e["file"])
    (out / ".nojekyll").touch()
    return out


# ----------------------------------------------------------------------------------------
# Slides
# ----------------------------------------------------------------------------------------

REVEAL_FILES = ["dist/reveal.js", "dist/reveal.css", "dist/theme/white.css", "dist/plugin/notes.js"]


def _copy_assets(out: Path) -> None:
    """reveal.js and MathJax next to the decks, so they open from a server or from disk."""
    reveal = out / "reveal.js"
    for rel in REVEAL_FILES:
        (reveal / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(NODE_MODULES / "reveal.js" / rel, reveal / rel)
    shutil.copy2(NODE_MODULES / "reveal.js" / "LICENSE", reveal / "LICENSE")
    shutil.copy2(TOOLS / "site" / "_static" / "favicon.svg", out / "favicon.svg")
    copy_mathjax(out / "mathjax")


def slides_exporter():
    from nbconvert import SlidesExporter

    exporter = SlidesExporter(
        template_name="course_reveal",
        extra_template_basedirs=[str(TOOLS / "slides")],
        reveal_url_prefix="reveal.js",
        reveal_theme="white",
        reveal_transition="none",
        reveal_number="c/t",
        reveal_scroll=True,  # a safety net only: tools/deckcheck.py fails any slide that does not fit
        reveal_width="1280",  # a 16:9 frame, the shape of today's screens and projectors
        reveal_height="720",
        mathjax_url="mathjax/tex-chtml.js",
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.jquery_url = exporter.require_js_url = ""  # not used by our template
    return exporter


LONG_CODE_LINES = 16  # rise.css gives the same cells (`:has(.cm-line:nth-child(16))`) the same smaller figures


def deck_notebook(nb):
    """The notebook as the decks show it: no test markers, and code cells of LONG_CODE_LINES lines or more tagged
    ``slides-long-code`` (their figures are drawn smaller, so that listing and figure fit one slide)."""
    nb = without_test_markers(nb)
    for cell in nb.cells:
        if cell.cell_type == "code" and len(cell.source.splitlines()) >= LONG_CODE_LINES:
            cell.metadata["tags"] = [*cell.metadata.get("tags", []), "slides-long-code"]
    return nb


def build_slides(nb_dir: Path, out: Path) -> list[Path]:
    require_node_modules("reveal.js", "mathjax")
    notebooks = find_notebooks(nb_dir)
    if not notebooks:
        raise BuildError(f"no notebooks in {nb_dir}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _copy_assets(out)
    exporter = slides_exporter()
    decks = []
    for path in notebooks:
        nb = deck_notebook(nbformat.read(path, as_version=4))
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        deck = out / f"{path.stem}.slides.html"
        deck.write_text(body, encoding="utf-8")
        decks.append(deck)
    index = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'><title>Slides</title>",
        "<link rel='icon' href='favicon.svg' type='image/svg+xml'>",
        "<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;line-height:1.6}</style>",
        "</head><body><h1>Slides</h1><ul>",
    ]
    index += [
        f"<li><a href='{d.name}'>{html.escape(notebook_title(p))}</a></li>"
        for p, d in zip(notebooks, decks, strict=True)
    ]
    (out / "index.html").write_text("\n".join(index + ["</ul></body></html>", ""]), encoding="utf-8")
    return decks


# ----------------------------------------------------------------------------------------
# Student edition
# ----------------------------------------------------------------------------------------


def grading_module():
    """tools/grading.py, loaded once as the module `course_grading` (the name tests/conftest.py gives it too)."""
    if "course_grading" not in sys.modules:
        spec = importlib.util.spec_from_file_location("course_grading", TOOLS / "grading.py")
        sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # before exec: dataclasses look it up
        spec.loader.exec_module(sys.modules[spec.name])
    return sys.modules["course_grading"]


def build_student(nb_dir: Path, out: Path) -> list[Path]:
    """The student edition, made by nbgrader (tools/grading.py): no solutions, no hidden tests, no outputs."""
    grading = grading_module()
    try:
        return grading.build_student(nb_dir, out, Path(out).parent / "nbgrader")
    except grading.GradingError as error:
        raise BuildError(str(error)) from error


# ----------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--notebooks", type=Path, default=DEFAULT_NOTEBOOKS, help="notebooks folder")
    ap.add_argument("--course", type=Path, default=COURSE_TOML, help="course map (course.toml)")
    ap.add_argument("--build", type=Path, default=DEFAULT_BUILD, help="build folder (_build)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("html", help="build the website into BUILD/html")
    h.add_argument("-v", "--verbose", action="store_true", help="show Sphinx's progress")
    sub.add_parser("slides", help="build the reveal.js decks into BUILD/slides")
    sub.add_parser("student", help="write the student edition into BUILD/student")
    args = ap.parse_args(argv)

    try:
        return run(args)
    except BuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    """Build what the command line asks for and say where it went."""
    t0 = time.perf_counter()
    if args.cmd == "html":
        out = build_html(args.notebooks, args.course, args.build / "html", quiet=not args.verbose)
        print(f"website: {out}/index.html ({time.perf_counter() - t0:.1f} s)")
    elif args.cmd == "slides":
        decks = build_slides(args.notebooks, args.build / "slides")
        print(f"slides: {len(decks)} decks in {args.build / 'slides'} ({time.perf_counter() - t0:.1f} s)")
    elif args.cmd == "student":
        written = build_student(args.notebooks, args.build / "student")
        print(
            f"student edition: {len(written)} notebooks in {args.build / 'student'} ({time.perf_counter() - t0:.1f} s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
