"""Opening the course's pages in Chromium for the tests: what goes wrong while they load, their images, math, links
and anchors (tests/test_instructor.py; PageWatch also serves the page_watch fixture of conftest.py), the console
errors of JupyterLab's pages and its REST API (tests/test_lab.py)."""

from __future__ import annotations

import functools
import json
import re
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

from tools.paths import BUILD

ARTIFACTS = BUILD / "artifacts"  # screenshots
PAGE_TIMEOUT_MS = 30_000


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

# Where a deck is (slide and fragment), and whether the slide-number badge covers one of the arrows shown
DECK_POSITION = """() => {
  const i = Reveal.getIndices(), badge = document.querySelector('.reveal .slide-number');
  const b = badge && badge.getBoundingClientRect();
  const covered = b ? [...document.querySelectorAll('.reveal .controls button.enabled')].filter(c => {
    const r = c.getBoundingClientRect();
    return getComputedStyle(c).display !== 'none' && r.width > 0 &&
      r.left < b.right && b.left < r.right && r.top < b.bottom && b.top < r.bottom;
  }).map(c => c.className.split(' ')[0]) : [];
  return {at: [i.h, i.v || 0, i.f === undefined ? -1 : i.f], covered};
}"""


def step_with_right_arrow(page, most: int = 2000) -> dict:
    """From the first slide, press the right arrow until the deck stops moving: the slides seen, reveal's own count
    of them, and the arrows the slide-number badge covered on the way."""
    page.evaluate("() => Reveal.slide(0, 0, -1)")
    seen, covered, last = set(), set(), None
    for _ in range(most):
        where = page.evaluate(DECK_POSITION)
        seen.add(tuple(where["at"][:2]))
        covered.update(where["covered"])
        if where["at"] == last:
            break
        last = where["at"]
        page.keyboard.press("ArrowRight")
    return {"seen": len(seen), "total": page.evaluate("() => Reveal.getTotalSlides()"), "covered": sorted(covered)}


# axe-core's check of the whole page, started in every page at once (the browser runs them side by side) and
# collected with AXE_RESULT: any violation fails
AXE_START = """() => { window.__axe = new Promise(r => setTimeout(r, 0)).then(
  () => axe.run(document, {resultTypes: ['violations']})); }"""
AXE_RESULT = """async () => (await window.__axe).violations.map(v => ({
  id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""


def open_pages(browser, page_watch, urls: list[str]) -> list[tuple]:
    """A fresh page per url, each watched (page_watch) from the start, all loading at once: (page, watch) each."""
    opened = []
    for url in urls:
        page = browser.new_page(viewport={"width": 1280, "height": 720})
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        watch = page_watch(page)
        page.goto(url, wait_until="commit")  # the browser loads the pages side by side
        opened.append((page, watch))
    return opened


def visit(page, watch, script: str, *, screenshot: str | None = None, full_height: int = 0) -> dict:
    """Once the page has loaded, run script (a JS function) and return {'problems', 'result', 'page', 'watch'}."""
    page.wait_for_load_state("load")
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


def console_errors(page, bucket: list[str], known: tuple[str, ...] = ()) -> None:
    """Record the page's console errors and uncaught exceptions, except those matching a known upstream pattern."""
    patterns = [re.compile(p) for p in known]

    def add(text: str) -> None:
        if not any(p.search(text) for p in patterns):
            bucket.append(text[:300])

    page.on("console", lambda m: m.type == "error" and add(f"console.error: {m.text}"))
    page.on("pageerror", lambda e: add(f"uncaught exception: {e}"))


def api(url: str, token: str, path: str, method: str = "GET") -> object:
    """JupyterLab's REST API: the JSON answer to METHOD /api/PATH (None when it is empty)."""
    req = urllib.request.Request(f"{url}/api/{path}", method=method, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read()
    return json.loads(body) if body else None
