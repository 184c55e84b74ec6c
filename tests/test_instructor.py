"""Tests of the instructors' website and decks (python -m tools.build html, slides).

The website and the decks are built once per session into a temporary folder (the `instructor_builds` fixture of
tests/conftest.py, started at the session's first test; tests/test_student_edition.py reads the same build) and
served on localhost; Playwright opens every page in Chromium (tests/conftest.py: without a browser these tests skip,
unless COURSE_REQUIRE_BROWSER=1, as in CI). Every page must load without a console error, a failed request or any
request to a host other than localhost; every image must decode; every internal link and anchor must resolve; no page
may have an accessibility violation of any impact (axe-core, from tools/node_modules); and every slide of every deck
must fit a 1280×720 screen with code at 14 px or more (tools.slidefit). Screenshots go to _build/artifacts/.
INSTRUCTOR_NOTEBOOKS and INSTRUCTOR_COURSE_MAP point the tests at other notebooks.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import re
import threading
from pathlib import Path

import nbformat
import pytest
from conftest import INSTRUCTOR_COURSE_MAP as COURSE_MAP
from conftest import INSTRUCTOR_NOTEBOOKS as NOTEBOOKS
from nbformat import v4
from pages import (
    AXE_RESULT,
    AXE_START,
    DECK_SCRIPT,
    PAGE_SCRIPT,
    broken_internal_links,
    open_pages,
    step_with_right_arrow,
    visit,
)

from tools.decks import FIGURE_TAG, deck_notebook
from tools.figures import IMAGES_JS, figures_by_sha, image_sha, unreadable
from tools.notebooks import HIDDEN_TESTS, course_entries, find_notebooks, without_markers
from tools.paths import NODE_MODULES
from tools.slidefit import check_deck
from tools.website import extra_pages

AXE = NODE_MODULES / "axe-core" / "axe.min.js"


def notebook_paths() -> list[Path]:
    """The instructor notebooks the builds were made from, in course order."""
    paths = find_notebooks(NOTEBOOKS)
    if not paths:
        pytest.fail(f"no notebooks in {NOTEBOOKS}")
    return paths


# ----------------------------------------------------------------------------------------
# Fixtures: builds, server, browser
# ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def build_dir(instructor_builds) -> Path:
    """The session's build folder: html/ and slides/ (and student/, nbgrader/)."""
    return instructor_builds.folder


@pytest.fixture(scope="session")
def site(build_dir) -> Path:
    """The website, built once per session."""
    return build_dir / "html"


@pytest.fixture(scope="session")
def slides(build_dir) -> Path:
    """The reveal.js decks, built once per session."""
    return build_dir / "slides"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def server(build_dir):
    """http://127.0.0.1:PORT serving the build folder (html/ and slides/)."""
    handler = functools.partial(_QuietHandler, directory=str(build_dir))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _pick(paths: list[Path], prefix: str) -> Path:
    """The page whose name starts with prefix, else the middle notebook page."""
    for p in paths:
        if p.name.startswith(prefix):
            return p
    return paths[len(paths) // 2]


# ----------------------------------------------------------------------------------------
# What the site and the decks show of a cell
# ----------------------------------------------------------------------------------------

MARKERS = re.compile(r"(?:BEGIN|END) (?:SOLUTION|HIDDEN TESTS)|NBVAL_[A-Z_]+")
# a marker as a line of code (00's prose may name `# NBVAL_CHECK_OUTPUT` inside a sentence)
MARKER_LINES = re.compile(
    r"^[ \t]*#{1,3} ?((?:BEGIN|END) (?:SOLUTION|HIDDEN TESTS)|NBVAL_[A-Z_]+)[ \t]*$", re.MULTILINE
)


def test_display_drops_nbval_and_solution_markers_and_hidden_tests():
    """The site's and the decks' form of a code cell: no test or solution marker lines, no hidden-test region."""
    source = (
        "# NBVAL_CHECK_OUTPUT\n### BEGIN SOLUTION\nanswer = 42\n### END SOLUTION\nprint(answer)\n"
        "### BEGIN HIDDEN TESTS\nassert answer == 42\n### END HIDDEN TESTS\nshown = 1\n### BEGIN HIDDEN TESTS\nx = 0"
    )
    nb = without_markers(v4.new_notebook(cells=[v4.new_code_cell(source), v4.new_markdown_cell("### BEGIN here")]))
    assert nb.cells[0].source == "answer = 42\nprint(answer)\nshown = 1"
    assert nb.cells[1].source == "### BEGIN here"


def page_text(path: Path) -> str:
    """A built page's text, without its tags (highlighted code is split into spans)."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def test_no_page_or_deck_shows_a_marker_or_a_hidden_test(site, slides):
    """Solution, hidden-test and nbval marker lines, and the hidden tests' code, appear on no page and no deck."""
    pages = [*sorted(site.glob("*.html")), *sorted(slides.glob("*.slides.html"))]
    found = {p.name: sorted(set(MARKER_LINES.findall(page_text(p)))) for p in pages}
    assert not {k: v for k, v in found.items() if v}, f"markers shown: {found}"
    sources = [cell.source for nb in notebook_paths() for cell in nbformat.read(nb, as_version=4).cells]
    lesson = "\n".join(HIDDEN_TESTS.sub("", source) for source in sources)
    hidden = [
        line.strip()
        for source in sources
        for region in HIDDEN_TESTS.findall(source)
        for line in region.splitlines()[1:-1]
        if len(line.strip()) > 20 and line.strip() not in lesson  # a line the lesson shows too proves nothing
    ]
    assert hidden, "no hidden-test line to look for"
    shown = {p.name: [h for h in hidden if h in page_text(p)] for p in pages}
    assert not {k: v for k, v in shown.items() if v}, f"hidden tests shown: {shown}"


# ----------------------------------------------------------------------------------------
# Website
# ----------------------------------------------------------------------------------------


def test_site_has_a_page_per_notebook_and_the_course_map(site):
    for nb in notebook_paths():
        page = site / f"{nb.stem}.html"
        assert page.is_file(), f"no page for {nb.name}"
    home = (site / "index.html").read_text(encoding="utf-8")
    for entry in course_entries(NOTEBOOKS, COURSE_MAP):
        if entry["path"]:
            assert f'href="{entry["path"].stem}.html"' in home, f"{entry['file']} is not linked from the home page"
    # the site shows the notebooks as committed: no re-execution, outputs kept
    for nb_path in notebook_paths():
        nb = nbformat.read(nb_path, as_version=4)
        n_png = sum(
            1
            for c in nb.cells
            if c.cell_type == "code"
            for o in c.get("outputs", [])
            if "image/png" in o.get("data", {})
        )
        page = (site / f"{nb_path.stem}.html").read_text(encoding="utf-8")
        assert page.count("<img") >= n_png, f"{nb_path.name}: {n_png} figures in the notebook, fewer <img> on its page"


@pytest.fixture(scope="session")
def site_visits(site, server, browser, page_watch) -> dict:
    """Every page of the website opened once: what went wrong while loading, and axe-core's findings."""
    base = f"{server}/html"
    shot_page = _pick([site / f"{nb.stem}.html" for nb in notebook_paths()], "03").name
    shots = {"index.html": 2400, shot_page: 6000}
    visits = {}
    names = sorted(p.name for p in site.glob("*.html"))
    for name, (page, watch) in zip(names, open_pages(browser, page_watch, [f"{base}/{n}" for n in names]), strict=True):
        shot = shots.get(name) and f"site_{Path(name).stem}.png"
        v = visit(page, watch, PAGE_SCRIPT, screenshot=shot, full_height=shots.get(name, 0))
        v["problems"] += broken_internal_links(v["result"].get("links", []), base, site)
        v["page"].set_viewport_size({"width": 1280, "height": 720})
        v["images"] = v["page"].evaluate(IMAGES_JS, "div.cell_output img")
        v["page"].add_script_tag(path=str(AXE))
        v["page"].evaluate(AXE_START)
        visits[name] = v
    for v in visits.values():
        v["axe"] = v["page"].evaluate(AXE_RESULT)
        v["page"].close()
    return visits


def test_site_pages_load_offline_in_chromium(site_visits):
    failures = {name: v["problems"] for name, v in site_visits.items() if v["problems"]}
    assert not failures, "pages with problems:\n" + json.dumps(failures, indent=1)
    assert len(site_visits) >= len(notebook_paths()) + 1


def test_site_has_no_accessibility_violation(site_visits):
    """axe-core on every page: no violation at all, of any impact (minor to critical)."""
    found = {name: v["axe"] for name, v in site_visits.items() if v["axe"]}
    assert not found, "accessibility violations (axe-core):\n" + json.dumps(found, indent=1)


def test_every_figure_on_the_site_is_readable_at_1280_px(site, site_visits):
    """Each notebook page at 1280x720: every committed figure is shown, none with text below 11 px (tools.figures)."""
    known = figures_by_sha(notebook_paths())
    shown = []
    for visit_ in site_visits.values():
        for image in visit_["images"]:
            path = site / image["src"].split("/html/", 1)[-1].split("?")[0]
            shown.append({**image, "src": path.as_uri()})
    seen = {image_sha(image["src"]) for image in shown}
    missing = [f"{f.notebook} cell {f.cell}" for f in known.values() if f.sha not in seen]
    assert not missing, f"figures of the notebooks the site does not show: {missing}"
    small = unreadable(known, shown, "the site at 1280 px")
    assert not small, f"{len(small)} of {len(known)} figures too small to read on the site:\n" + "\n".join(small)


PHONE = {"width": 400, "height": 800}
THEME_TEXT = ("Light Dark", "Download this page", "Contents", ".ipynb .pdf")


def on_a_phone(page, url: str) -> list[str]:
    """What is wrong with the page at `url` on a 400 px screen: wider than the screen, or a search button that does
    not bring up a search field."""
    page.goto(url)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    wrong = [f"{width} px wide on a {PHONE['width']} px screen"] if width > PHONE["width"] else []
    page.click(".search-button__button")
    if not page.is_visible("#pst-search-dialog input[name=q]"):
        wrong.append("the search button shows no search field")
    return wrong


def test_every_site_page_fits_a_phone_and_its_search_button_opens_search(site, server, browser):
    """At 400 px: no page is wider than the screen (code and tables scroll or wrap inside their box), the header's
    search button opens a search field, and search snippets quote the page, not the theme's buttons."""
    page = browser.new_page(viewport=PHONE)
    problems = {name: on_a_phone(page, f"{server}/html/{name}") for name in sorted(p.name for p in site.glob("*.html"))}
    page.goto(f"{server}/html/search.html?q=tensor")
    page.wait_for_selector("#search-results li p.context")
    snippets = page.locator("#search-results li p.context").all_inner_texts()
    page.close()
    assert not {k: v for k, v in problems.items() if v}, f"pages that fail on a phone: {problems}"
    assert not [s for s in snippets if any(t in s for t in THEME_TEXT)], f"snippets with the theme's text: {snippets}"


def test_site_pages_have_navigation(site):
    """Previous/next links follow the course order (then the glossary); each notebook's page has a table of its
    ## sections."""
    entries = [e for e in course_entries(NOTEBOOKS, COURSE_MAP) if e["path"]]
    notebooks = [e["path"].stem for e in entries]
    order = ["index", *notebooks] + [p.stem for p in extra_pages(NOTEBOOKS)]
    for i, name in enumerate(order):
        html = (site / f"{name}.html").read_text(encoding="utf-8")
        prev = re.search(r'<a class="left-prev"\s+href="([^"]+)"', html)
        nxt = re.search(r'<a class="right-next"\s+href="([^"]+)"', html)
        assert (prev.group(1) if prev else None) == (f"{order[i - 1]}.html" if i else None), f"{name}: previous link"
        assert (nxt.group(1) if nxt else None) == (f"{order[i + 1]}.html" if i + 1 < len(order) else None), (
            f"{name}: next link"
        )
        sections = re.findall(r'<section id="([^"]+)">\s*<h2>', html)
        toc = set(re.findall(r'<a class="reference internal nav-link" href="#([^"]+)"', html))
        missing = [s for s in sections if s not in toc]
        assert not missing, f"{name}: sections missing from the page's table of contents: {missing}"
        if name in notebooks:
            assert sections, f"{name}: no ## section (the notebook needs '## ' headings)"


# ----------------------------------------------------------------------------------------
# Slides
# ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def deck_visits(slides, server, browser, page_watch) -> dict:
    """Every deck opened once at 1280×720: what went wrong while loading, every slide measured, and the deck stepped
    through with the right arrow."""
    shot = _pick(notebook_paths(), "03").stem
    visits = {}
    stems = [nb.stem for nb in notebook_paths() if (slides / f"{nb.stem}.slides.html").is_file()]
    urls = [f"{server}/slides/{stem}.slides.html" for stem in stems]
    for stem, url, (page, watch) in zip(stems, urls, open_pages(browser, page_watch, urls), strict=True):
        v = visit(page, watch, DECK_SCRIPT, screenshot=f"slides_{stem}.png" if stem == shot else None)
        v["fits"] = check_deck(v["page"], url, load=False)
        v["steps"] = step_with_right_arrow(v["page"])
        v["page"].close()
        visits[stem] = v
    return visits


def test_a_deck_per_notebook_loads_offline_with_several_slides(deck_visits):
    missing = [nb.name for nb in notebook_paths() if nb.stem not in deck_visits]
    assert not missing, f"no deck for {missing}"
    failures = {}
    for name, v in deck_visits.items():
        problems, res = v["problems"], v["result"]
        if not res.get("revealReady"):
            problems.append("reveal.js did not start")
        if res.get("sections", 0) <= 1:
            problems.append(f"only {res.get('sections', 0)} <section> (slide metadata missing?)")
        if problems:
            failures[name] = problems
    assert not failures, "decks with problems:\n" + json.dumps(failures, indent=1)


def test_every_slide_fits_a_1280x720_screen(deck_visits):
    """Each slide of each deck, with all its fragments shown, fits the slide frame (no scrolling) at 1280×720,
    with code at 14 px or more: tools.slidefit, the same check as `make deck-check`."""
    fits = [f for v in deck_visits.values() for f in v["fits"]]
    bad = [f.describe() for f in fits if f.faulty]
    assert not bad, f"{len(bad)} of {len(fits)} slides do not fit 1280×720:\n" + "\n".join(bad)


def test_a_deck_gives_each_shown_figure_a_slide_of_its_own():
    """tools.decks.deck_notebook: a shown code cell keeps its code and text; its figure follows on a subslide
    without code, tagged for the tall figure; a cell in the speaker notes is left as it is."""
    png = {
        "output_type": "display_data",
        "data": {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure>"},
        "metadata": {},
    }
    text = {"output_type": "stream", "name": "stdout", "text": "done\n"}
    shown = v4.new_code_cell("plot()", outputs=[text, png], metadata={"slideshow": {"slide_type": "-"}})
    notes = v4.new_code_cell("plot()", outputs=[png], metadata={"slideshow": {"slide_type": "notes"}})
    cells = deck_notebook(v4.new_notebook(cells=[shown, notes])).cells
    assert [c.source for c in cells] == ["plot()", "", "plot()"]
    assert [c.outputs for c in cells] == [[text], [png], [png]]
    assert cells[1].metadata["slideshow"]["slide_type"] == "subslide"
    assert FIGURE_TAG in cells[1].metadata["tags"]
    assert cells[1].metadata["transient"]["remove_source"]


def test_every_figure_in_the_decks_is_readable(deck_visits):
    """Each figure a deck shows, measured on its slide at 1280x720: no text below 11 px (tools.figures)."""
    known = figures_by_sha(notebook_paths())
    shown = [image for v in deck_visits.values() for f in v["fits"] for image in f.images]
    assert {image_sha(image["src"]) for image in shown} & set(known), "the decks show none of the notebooks' figures"
    small = unreadable(known, shown, "a deck at 1280x720")
    assert not small, f"{len(small)} figures too small to read in the decks:\n" + "\n".join(small)


def test_the_right_arrow_alone_reaches_every_slide_of_every_deck(deck_visits):
    """A clicker sends right/left only: stepping each deck with the right arrow visits every slide reveal.js counts
    (the down ones too), and the slide-number badge covers none of the arrows on the way."""
    short = {n: f"{v['steps']['seen']} of {v['steps']['total']}" for n, v in deck_visits.items()
             if v["steps"]["seen"] != v["steps"]["total"]}  # fmt: skip
    assert not short, f"slides the right arrow reaches, of reveal's total: {short}"
    covered = {n: v["steps"]["covered"] for n, v in deck_visits.items() if v["steps"]["covered"]}
    assert not covered, f"arrows under the slide-number badge: {covered}"


def test_the_deck_index_lists_every_deck_in_course_order(slides):
    """index.html: a styled card per deck, in course order, each linked to its deck with the notebook's title."""
    index = (slides / "index.html").read_text(encoding="utf-8")
    hrefs = re.findall(r"<a href='([^']+\.slides\.html)'><span class='deck-title'>", index)
    assert hrefs == [f"{nb.stem}.slides.html" for nb in notebook_paths()]
    assert "<style>" in index


def test_decks_reference_no_cdn(slides):
    for deck in slides.glob("*.slides.html"):
        html = deck.read_text(encoding="utf-8")
        refs = re.findall(r"""(?:src|href)\s*=\s*["']((?:https?:)?//(?!localhost|127\.0\.0\.1)[^"']+)""", html)
        imports = re.findall(r"""import\s[^;]*?from\s+["']((?:https?:)?//[^"']+)""", html)
        assert not refs + imports, f"{deck.name} loads from the internet: {refs + imports}"
