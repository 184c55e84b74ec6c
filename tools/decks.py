"""The reveal.js decks: one per notebook from its slide metadata (nbconvert), reveal.js and MathJax beside them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from course_utils.course import course_info
from course_utils.files import write_text

from .assets import copy_deck_assets, require_node_modules
from .errors import BuildError
from .notebooks import course_entries, find_notebooks, without_markers
from .paths import TOOLS
from .templates import render
from .website import DEFAULT_TITLE

if TYPE_CHECKING:
    from nbconvert import SlidesExporter

LONG_CODE_LINES = 16  # rise.css gives the same cells (`:has(.cm-line:nth-child(16))`) the same smaller figures
FIGURE_TAG = "slides-figure"  # a figure on a slide of its own, up to the slide's height (the template's CSS)
SHOWN = {"slide", "subslide", "fragment", "-"}  # slide types a deck shows (not "skip", not "notes")


def slides_exporter() -> SlidesExporter:
    """nbconvert's SlidesExporter with the course's template: a 1280×720 frame, local reveal.js and MathJax."""
    from nbconvert import SlidesExporter  # imported only when decks are built

    exporter = SlidesExporter(
        template_name="course_reveal",
        extra_template_basedirs=[str(TOOLS / "slides")],
        reveal_url_prefix="reveal.js",
        reveal_theme="white",
        reveal_transition="none",
        reveal_number="c/t",
        reveal_scroll=True,  # a safety net only: `python -m tools.deckcheck` fails any slide that does not fit
        reveal_width="1280",  # a 16:9 frame, the shape of today's screens and projectors
        reveal_height="720",
        mathjax_url="mathjax/tex-chtml.js",
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.jquery_url = exporter.require_js_url = ""  # not used by our template
    return exporter


def deck_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook as the decks show it: no test or solution markers nor hidden tests, no code of a cell collapsed
    in the notebook (`jupyter.source_hidden`), and code cells of
    LONG_CODE_LINES lines or more tagged ``slides-long-code`` (their figures are drawn smaller, so that listing and
    figure fit one slide)."""
    nb = without_markers(nb)
    cells = []
    for cell in nb.cells:
        if cell.metadata.get("jupyter", {}).get("source_hidden"):  # collapsed in the notebook: no code on the slide
            cell.metadata["transient"] = {"remove_source": True}
        if cell.cell_type == "code" and len(cell.source.splitlines()) >= LONG_CODE_LINES:
            cell.metadata["tags"] = [*cell.metadata.get("tags", []), "slides-long-code"]
        cells += [cell, *figure_slide(cell)]
    nb.cells = cells
    return nb


def figure_slide(cell: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """A shown code cell's figures moved to a slide of their own that follows it (a cell without its code, tagged
    FIGURE_TAG): there a figure is drawn as tall as the slide allows, not beside its code at 300 px."""
    slide_type = cell.metadata.get("slideshow", {}).get("slide_type", "-")
    if cell.cell_type != "code" or slide_type not in SHOWN:
        return []
    figures = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
    if not figures:
        return []
    cell.outputs = [o for o in cell.outputs if o not in figures]
    figure = nbformat.v4.new_code_cell("", outputs=figures)
    figure.metadata = {"slideshow": {"slide_type": "subslide"}, "tags": [FIGURE_TAG]}
    figure.metadata["transient"] = {"remove_source": True}  # nbconvert's templates then draw no input box
    return [figure]


def build_slides(nb_dir: Path, out: Path) -> list[Path]:
    """out/NN_name.slides.html for every notebook of the course, and out/index.html listing them."""
    require_node_modules("reveal.js", "mathjax")
    notebooks = find_notebooks(nb_dir)
    if not notebooks:
        raise BuildError(f"no notebooks in {nb_dir}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    copy_deck_assets(out)
    exporter = slides_exporter()
    decks = []
    for path in notebooks:
        nb = deck_notebook(nbformat.read(path, as_version=4))
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        deck = out / f"{path.stem}.slides.html"
        write_text(deck, body)
        decks.append(deck)
    write_text(out / "index.html", deck_index(nb_dir))
    return decks


def deck_index(nb_dir: Path) -> str:
    """index.html: a card per deck, in course order, with the notebook's title and what it teaches."""
    cards = [
        {"href": f"{e['path'].stem}.slides.html", "title": e["title"], "teaches": e["teaches"]}
        for e in course_entries(nb_dir)
        if e["path"]
    ]
    return render("slides_index.html.j2", decks=cards, title=course_info().get("title", DEFAULT_TITLE))
