"""Tests of the instructors' tooling (tools/build.py): website, slides, student edition.

The website and the decks are built once per session into a temporary folder and served on localhost; Playwright
opens every page in Chromium (tests/conftest.py: without a browser these tests skip, unless
COURSE_REQUIRE_BROWSER=1, as in CI). Every page must load without a console error, a failed request or any request
to a host other than localhost; every image must decode; every internal link and anchor must resolve; no page may
have an accessibility violation of any impact (axe-core, from tools/node_modules); and every slide of every
deck must fit a 1280×720 screen with code at 14 px or more (tools/deckcheck.py). Screenshots go to _build/artifacts/.
INSTRUCTOR_NOTEBOOKS and INSTRUCTOR_COURSE_MAP point the tests at other notebooks.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import nbformat
import pytest
from conftest import load_tool

ROOT = Path(__file__).resolve().parent.parent
BUILD_PY = ROOT / "tools" / "build.py"
AXE = ROOT / "tools" / "node_modules" / "axe-core" / "axe.min.js"
NOTEBOOKS = Path(os.environ.get("INSTRUCTOR_NOTEBOOKS", ROOT / "notebooks"))
COURSE_MAP = Path(os.environ.get("INSTRUCTOR_COURSE_MAP", ROOT / "course.toml"))
ARTIFACTS = ROOT / "_build" / "artifacts"
PAGE_TIMEOUT_MS = 30_000


tools = load_tool("build")


def notebook_paths() -> list[Path]:
    paths = tools.find_notebooks(NOTEBOOKS)
    if not paths:
        pytest.fail(f"no notebooks in {NOTEBOOKS}")
    return paths


# ----------------------------------------------------------------------------------------
# Fixtures: builds, server, browser
# ----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def build_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("instructor_build")


@pytest.fixture(scope="session")
def builds(build_dir) -> Path:
    """Build the website, the decks and the student edition, all three at once."""
    procs = {}
    for what in ("html", "slides", "student"):
        cmd = [sys.executable, str(BUILD_PY), "--notebooks", str(NOTEBOOKS), "--course", str(COURSE_MAP),
               "--build", str(build_dir), what]  # fmt: skip
        procs[what] = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    failed = []
    for what, proc in procs.items():
        out, _ = proc.communicate(timeout=300)
        if proc.returncode:
            failed.append(f"`tools/build.py {what}` failed ({proc.returncode}):\n{out}")
    if failed:
        pytest.fail("\n".join(failed))
    return build_dir


@pytest.fixture(scope="session")
def site(builds) -> Path:
    return builds / "html"


@pytest.fixture(scope="session")
def slides(builds) -> Path:
    return builds / "slides"


@pytest.fixture(scope="session")
def student(builds) -> Path:
    return builds / "student"


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


PAGE_SCRIPT = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const imgs = Array.from(document.images);
  imgs.forEach(i => { if (i.loading === 'lazy') i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  return {
    brokenImages: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.currentSrc || i.src),
    images: imgs.length,
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    mathErrors: document.querySelectorAll('mjx-merror').length,
    title: document.title,
  };
}"""

DECK_SCRIPT = """async () => {
  for (let i = 0; i < 200 && !(window.Reveal && Reveal.isReady()); i++) { await new Promise(r => setTimeout(r, 50)); }
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  return {
    revealReady: !!(window.Reveal && Reveal.isReady()),
    sections: document.querySelectorAll('section').length,
    brokenImages: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.currentSrc || i.src),
    mathErrors: document.querySelectorAll('mjx-merror').length,
  };
}"""

# axe-core's check of the whole page, started in every page at once (the browser runs them side by side) and
# collected with AXE_RESULT: any violation fails
AXE_START = """() => { window.__axe = new Promise(r => setTimeout(r, 0)).then(
  () => axe.run(document, {resultTypes: ['violations']})); }"""
AXE_RESULT = """async () => (await window.__axe).violations.map(v => ({
  id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""


def visit(browser, page_watch, url: str, script: str, screenshot: str | None = None, full_height: int = 0) -> dict:
    """Open url in a fresh page, run script (a JS function) and return {'problems', 'result', 'page'}."""
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    watch = page_watch(page)
    page.goto(url, wait_until="load")
    result = page.evaluate(script) or {}
    problems = list(watch.problems)
    problems += [f"image did not load: {src[:120]}" for src in result.get("brokenImages", [])]
    if result.get("mathErrors"):
        problems.append(f"{result['mathErrors']} MathJax errors")
    if screenshot:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        if full_height:
            page.set_viewport_size(
                {"width": 1280, "height": min(full_height, page.evaluate("document.body.scrollHeight"))}
            )
        page.screenshot(path=ARTIFACTS / screenshot)
    return {"problems": problems, "result": result, "page": page, "watch": watch}


class _Ids(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name == "id" or (name == "name" and tag == "a"):
                self.ids.add(value)


@functools.cache
def ids_in(path: Path) -> frozenset:
    parser = _Ids()
    parser.feed(path.read_text(encoding="utf-8"))
    return frozenset(parser.ids)


def broken_internal_links(links: list[str], base_url: str, root: Path) -> list[str]:
    """Links under base_url to a file that is not in root, or to an #anchor not in its page."""
    broken = []
    for link in links:
        if not link.startswith(base_url + "/"):
            continue
        url, fragment = urldefrag(link)
        rel = unquote(urlsplit(url).path[len(urlsplit(base_url).path) + 1 :])
        if rel == "" or rel.endswith("/"):
            rel += "index.html"
        target = root / rel
        if not target.is_file():
            broken.append(f"{link} (no file {rel})")
        elif not rel.endswith(".html"):
            continue  # a download (_sources/NAME.ipynb), an image
        elif fragment and unquote(fragment) not in ids_in(target):
            broken.append(f"{link} (no anchor #{fragment} in {rel})")
    return broken


def _save_artifact(name: str, data: bytes) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    path.write_bytes(data)
    return path


def _pick(paths: list[Path], prefix: str) -> Path:
    """The page whose name starts with prefix, else the middle notebook page."""
    for p in paths:
        if p.name.startswith(prefix):
            return p
    return paths[len(paths) // 2]


# ----------------------------------------------------------------------------------------
# Website
# ----------------------------------------------------------------------------------------


def test_site_has_a_page_per_notebook_and_the_course_map(site):
    for nb in notebook_paths():
        page = site / f"{nb.stem}.html"
        assert page.is_file(), f"no page for {nb.name}"
    home = (site / "index.html").read_text(encoding="utf-8")
    for entry in tools.course_entries(NOTEBOOKS, COURSE_MAP):
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
    for name in sorted(p.name for p in site.glob("*.html")):
        v = visit(browser, page_watch, f"{base}/{name}", PAGE_SCRIPT, shots.get(name) and f"site_{Path(name).stem}.png",
                  shots.get(name, 0))  # fmt: skip
        v["problems"] += broken_internal_links(v["result"].get("links", []), base, site)
        v["page"].set_viewport_size({"width": 1280, "height": 720})
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


def test_site_pages_have_navigation(site):
    """Previous/next links follow the course order (then the glossary); each notebook's page has a table of its
    ## sections."""
    entries = [e for e in tools.course_entries(NOTEBOOKS, COURSE_MAP) if e["path"]]
    notebooks = [e["path"].stem for e in entries]
    order = ["index", *notebooks] + [p.stem for p in tools.extra_pages(NOTEBOOKS)]
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
def deck_visits(slides, server, browser, page_watch, deckcheck) -> dict:
    """Every deck opened once at 1280×720: what went wrong while loading, and every slide measured."""
    shot = _pick(notebook_paths(), "03").stem
    visits = {}
    for nb in notebook_paths():
        url = f"{server}/slides/{nb.stem}.slides.html"
        if not (slides / f"{nb.stem}.slides.html").is_file():
            continue
        v = visit(browser, page_watch, url, DECK_SCRIPT, f"slides_{nb.stem}.png" if nb.stem == shot else None)
        v["fits"] = deckcheck.check_deck(v["page"], url, load=False)
        v["page"].close()
        visits[nb.stem] = v
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
    with code at 14 px or more: tools/deckcheck.py, the same check as `make deck-check`."""
    fits = [f for v in deck_visits.values() for f in v["fits"]]
    bad = [f.describe() for f in fits if f.overflows or f.small_code]
    assert not bad, f"{len(bad)} of {len(fits)} slides do not fit 1280×720:\n" + "\n".join(bad)


def test_decks_reference_no_cdn(slides):
    for deck in slides.glob("*.slides.html"):
        html = deck.read_text(encoding="utf-8")
        refs = re.findall(r"""(?:src|href)\s*=\s*["']((?:https?:)?//(?!localhost|127\.0\.0\.1)[^"']+)""", html)
        imports = re.findall(r"""import\s[^;]*?from\s+["']((?:https?:)?//[^"']+)""", html)
        assert not refs + imports, f"{deck.name} loads from the internet: {refs + imports}"


# ----------------------------------------------------------------------------------------
# Student edition
# ----------------------------------------------------------------------------------------


def test_student_edition(student):
    """`make student` writes nbgrader's student edition of every notebook, without solutions or hidden tests
    (tests/test_grading.py checks the edition cell by cell)."""
    grading = tools.grading_module()
    for src in notebook_paths():
        path = student / src.name
        assert path.is_file(), f"no student edition of {src.name}"
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert grading.leaks(nbformat.read(src, as_version=4), nb) == [], src.name
        assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code"), f"{src.name}: outputs left"


def test_course_map_formatting():
    assert [tools.format_minutes(m) for m in (0.3, 1, 2.5, 12, 60, 75, None)] == \
        ["18 s", "1 min", "2.5 min", "12 min", "1 h", "1 h 15 min", "–"]  # fmt: skip


def test_a_browser_that_cannot_start_is_reported_as_no_browser(playwright, deckcheck, monkeypatch):
    """A Chromium that is there but does not start (say, without its system libraries) skips like a missing one."""
    monkeypatch.setenv("CHROMIUM", "false")
    with pytest.raises(deckcheck.NoBrowser, match=r"/false did not start \(.*install-deps chromium"):
        deckcheck.launch(playwright)
