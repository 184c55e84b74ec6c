"""The course website: the committed notebooks (never executed) and a home page from course.toml, built by Sphinx."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path

import nbformat

from course_utils.course import course_info

from .assets import copy_mathjax, require_node_modules
from .errors import BuildError
from .notebooks import course_entries, without_markers
from .paths import TOOLS

DEFAULT_TITLE = "PyTorch course"
SOLUTION_TAG = "solution"
INTRODUCTION = [
    "Work through the notebooks in order. Each page shows a notebook as it was last run in",
    "full, with its outputs and figures; the download button (top right) gives you the",
    "`.ipynb`. The times are how long a notebook takes to run on a 2-core CPU, in the *quick*",
    "profile (subsets of the data) and in the *full* one.",
]
MAP_HEADER = [
    "```{list-table}", ":header-rows: 1", ":class: course-map", ":widths: 5 30 45 10 10", "",
    "* - No.", "  - Notebook", "  - What it teaches", "  - Quick", "  - Full",
]  # fmt: skip


def format_minutes(value: float | str | None) -> str:
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


def _md_escape(text: str) -> str:
    """One line of plain text for a MyST list-table cell."""
    return " ".join(str(text).split())


def course_map_rows(entries: list[dict]) -> list[str]:
    """The course map's list-table rows: number, linked title (or *coming soon*), what it teaches, the minutes."""
    lines = []
    for i, e in enumerate(entries):
        num = re.match(r"(\d+)", e["file"])
        name = _md_escape(e["title"])
        link = f"[{name}]({e['file']})" if e["path"] else f"{name} *(coming soon)*"
        lines += [
            f"* - {num.group(1) if num else i}",
            f"  - {link}",
            f"  - {_md_escape(e['teaches']) or '–'}",
            f"  - {format_minutes(e.get('minutes_quick'))}",
            f"  - {format_minutes(e.get('minutes_full'))}",
        ]
    return lines


def home_page(course: dict, entries: list[dict], pages: Sequence[Path] = ()) -> str:
    """index.md: the title, the description, the course map, and the hidden toctree that orders the pages."""
    lines = [f"# {course.get('title', DEFAULT_TITLE)}", ""]
    if course.get("description"):
        lines += [course["description"].strip(), ""]
    lines += [*INTRODUCTION, "", "## Course map", "", *MAP_HEADER, *course_map_rows(entries), "```"]
    docs = [e["file"] for e in entries if e["path"]] + [p.name for p in pages]
    lines += ["", "```{toctree}", ":hidden:", ":maxdepth: 2", "", *docs, "```", ""]
    return "\n".join(lines)


def site_notebook(path: Path) -> nbformat.NotebookNode:
    """The notebook as the site shows it: solutions folded behind a 'Show solution' toggle."""
    nb = without_markers(nbformat.read(path, as_version=4))
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
    """Write `text` to `path` unless it holds that already (Sphinx rebuilds only what changed)."""
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def extra_pages(nb_dir: Path) -> list[Path]:
    """The Markdown pages beside the notebooks (the glossary): on the website after the notebooks."""
    return sorted(p for p in Path(nb_dir).glob("*.md") if p.name.lower() != "readme.md")


def stage_site(src: Path, entries: list[dict], course: dict, pages: Sequence[Path] = ()) -> None:
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


def sphinx_argv(src: Path, out: Path, title: str, quiet: bool) -> list[str]:
    """sphinx-build's arguments: the HTML builder, the course's conf.py, the title from course.toml."""
    doctrees = out.parent / ".site_doctrees"
    argv = ["-b", "html", "-c", str(TOOLS / "site"), "-d", str(doctrees)]
    argv += ["-D", f"project={title}", "-D", f"html_title={title}", str(src), str(out)]
    return ["-q", *argv] if quiet else argv


def build_html(nb_dir: Path, course_toml: Path, out: Path, quiet: bool = True) -> Path:
    """The website in `out`: Sphinx on a staged copy, MathJax beside it, the committed notebooks as downloads."""
    from sphinx.cmd.build import build_main

    require_node_modules("mathjax")
    course = course_info(course_toml)
    entries = course_entries(nb_dir, course_toml)
    if not any(e["path"] for e in entries):
        raise BuildError(f"no notebooks in {nb_dir}")
    out = Path(out)
    src = out.parent / ".site_src"
    stage_site(src, entries, course, extra_pages(nb_dir))
    rc = build_main(sphinx_argv(src, out, course.get("title", DEFAULT_TITLE), quiet))
    if rc:
        raise BuildError(f"sphinx-build failed ({rc})")
    copy_mathjax(out / "_static" / "mathjax")  # conf.py: mathjax_path = "mathjax/tex-chtml.js"
    for e in entries:  # the download button gives the committed notebook, not the staged copy
        if e["path"] and (out / "_sources" / e["file"]).is_file():
            shutil.copyfile(e["path"], out / "_sources" / e["file"])
    (out / ".nojekyll").touch()
    return out
