"""Tests of the instructors' tooling (tools/build.py): website, slides, student edition.

The website and the decks are built once per session into a temporary folder, served by a
localhost http.server thread and opened in headless Chromium, driven through the Chrome
DevTools Protocol (websocket-client). Every page must load without a console error, a
failed request or any request to a host other than localhost; every image must decode;
every internal link and anchor must resolve. Screenshots go to _build/artifacts/.

Chromium is part of the project setup (apt-get install -y chromium): without it the
browser tests fail, they do not skip. CHROMIUM=/path/to/binary picks another binary.
INSTRUCTOR_NOTEBOOKS and INSTRUCTOR_COURSE_MAP point the tests at other notebooks.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD_PY = ROOT / "tools" / "build.py"
NOTEBOOKS = Path(os.environ.get("INSTRUCTOR_NOTEBOOKS", ROOT / "notebooks"))
COURSE_MAP = Path(os.environ.get("INSTRUCTOR_COURSE_MAP", ROOT / "course.toml"))
ARTIFACTS = ROOT / "_build" / "artifacts"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
PAGE_TIMEOUT = 30  # seconds for one page to load and go quiet


def _load_build_module():
    spec = importlib.util.spec_from_file_location("instructor_build", BUILD_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


tools = _load_build_module()


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


def find_chromium() -> str:
    for candidate in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    pytest.fail(
        "Chromium is needed by the website and slides tests but was not found: "
        "install it with `apt-get install -y chromium` (part of the project setup), "
        "or set CHROMIUM=/path/to/chromium"
    )


class CDP:
    """A minimal Chrome DevTools Protocol client over one browser websocket (flat sessions)."""

    def __init__(self, ws_url: str):
        import websocket  # websocket-client

        self.ws = websocket.create_connection(
            ws_url, timeout=PAGE_TIMEOUT, suppress_origin=True, enable_multithread=True
        )
        self._next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = PAGE_TIMEOUT):
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        self.ws.send(json.dumps(msg))
        deadline = time.monotonic() + timeout
        while True:
            reply = self._recv(deadline - time.monotonic())
            if reply is None:
                raise TimeoutError(f"CDP {method}: no answer in {timeout} s")
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"CDP {method}: {reply['error']}")
                return reply.get("result", {})

    def _recv(self, timeout: float) -> dict | None:
        import websocket

        if timeout <= 0:
            return None
        self.ws.settimeout(timeout)
        try:
            msg = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException:
            return None
        if "method" in msg:
            self.events.append(msg)
        return msg

    def pump(self, seconds: float) -> None:
        """Read events for a while."""
        deadline = time.monotonic() + seconds
        while self._recv(deadline - time.monotonic()) is not None:
            pass

    def close(self):
        self.ws.close()


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    binary = find_chromium()
    profile = tmp_path_factory.mktemp("chromium-profile")
    args = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
        "--disable-dev-shm-usage", "--disable-extensions", "--no-default-browser-check",
        "--hide-scrollbars", "--mute-audio", "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows",
        "--window-size=1280,900", f"--user-data-dir={profile}",
        "--remote-debugging-port=0", "about:blank",
    ]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not (port_file.is_file() and len(port_file.read_text().splitlines()) >= 2):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            err = proc.stderr.read().decode(errors="replace")[-2000:]
            pytest.fail(f"Chromium ({binary}) did not start:\n{err}")
        time.sleep(0.05)
    port, path = port_file.read_text().splitlines()[:2]
    cdp = CDP(f"ws://127.0.0.1:{port}{path}")
    yield cdp
    with contextlib.suppress(Exception):  # the browser may already be gone
        cdp.call("Browser.close", timeout=5)
    cdp.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ----------------------------------------------------------------------------------------
# Loading a page and collecting what went wrong
# ----------------------------------------------------------------------------------------


class PageReport:
    def __init__(self, url: str):
        self.url = url
        self.requests: dict[str, str] = {}  # requestId -> url
        self.pending: set[str] = set()
        self.errors: list[str] = []
        self.external: list[str] = []
        self.result: dict = {}
        self.screenshot: bytes | None = None
        self.loaded = False
        self.quiet_since: float | None = None

    def problems(self) -> list[str]:
        return self.errors + [f"request to a non-localhost host: {u}" for u in self.external]

    def record(self, ev: dict) -> None:
        method, p = ev["method"], ev.get("params", {})
        if method == "Page.loadEventFired":
            self.loaded = True
        elif method == "Network.requestWillBeSent":
            req_url = p["request"]["url"]
            self.requests[p["requestId"]] = req_url
            self.pending.add(p["requestId"])
            if not _is_local(req_url):
                self.external.append(req_url)
        elif method == "Network.loadingFinished":
            self.pending.discard(p["requestId"])
        elif method == "Network.loadingFailed":
            self.pending.discard(p["requestId"])
            self.errors.append(f"failed request {self.requests.get(p['requestId'], '?')}: {p.get('errorText')}")
        elif method == "Network.responseReceived":
            if p["response"]["status"] >= 400:
                self.errors.append(f"HTTP {p['response']['status']} for {p['response']['url']}")
        elif method == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            self.errors.append(f"console.{p['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            self.errors.append(f"uncaught exception: {d.get('exception', {}).get('description', d.get('text'))}")
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            self.errors.append(f"console error: {p['entry'].get('text')} {p['entry'].get('url', '')}")


def _set_size(cdp: CDP, session: str, width: int, height: int) -> None:
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    cdp.call("Emulation.setDeviceMetricsOverride", metrics, session=session)


def _evaluate(cdp: CDP, session: str, expression: str):
    """The value of a JS expression (awaited if it is a promise); RuntimeError if it throws."""
    params = {"expression": expression, "awaitPromise": True, "returnByValue": True}
    res = cdp.call("Runtime.evaluate", params, session=session)
    if "exceptionDetails" in res:
        details = res["exceptionDetails"]
        raise RuntimeError(details.get("exception", {}).get("description", details.get("text")))
    return res["result"].get("value")


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome-error", "devtools"):
        return True
    return parts.hostname in LOCAL_HOSTS or f"[{parts.hostname}]" in LOCAL_HOSTS


def open_pages(cdp: CDP, urls: list[str], script: str, width=1280, height=900, screenshots=None, parallel=4):
    """Open each url in a fresh tab (a few at a time), wait until its network has been quiet
    for 0.3 s after the load event, run script (the body of an async JS function whose
    value lands in report.result) and take the screenshots asked for ({url: max height})."""
    screenshots = screenshots or {}
    reports = []
    for i in range(0, len(urls), parallel):
        reports += _open_batch(cdp, urls[i : i + parallel], script, width, height, screenshots)
    return reports


def _open_batch(cdp, urls, script, width, height, screenshots):
    tabs = {}  # sessionId -> (targetId, report)
    for url in urls:
        # a window of its own, so that the page is visible: rAF and img.decode() run in it
        target = cdp.call("Target.createTarget", {"url": "about:blank", "newWindow": True})["targetId"]
        session = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            cdp.call(f"{domain}.enable", session=session)
        _set_size(cdp, session, width, height)
        tabs[session] = (target, PageReport(url))
    seen = len(cdp.events)
    for session, (_, report) in tabs.items():
        cdp.call("Page.navigate", {"url": report.url}, session=session)

    def dispatch():
        nonlocal seen
        for ev in cdp.events[seen:]:
            if ev.get("sessionId") in tabs:
                tabs[ev["sessionId"]][1].record(ev)
        seen = len(cdp.events)

    deadline = time.monotonic() + PAGE_TIMEOUT
    while time.monotonic() < deadline:
        cdp.pump(0.05)
        dispatch()
        now = time.monotonic()
        for _, report in tabs.values():
            if report.loaded and not report.pending:
                report.quiet_since = report.quiet_since or now
            else:
                report.quiet_since = None
        if all(r.quiet_since and now - r.quiet_since >= 0.3 for _, r in tabs.values()):
            break
    for session, (_, report) in tabs.items():
        if not (report.loaded and not report.pending):
            left = sorted(report.requests[r] for r in report.pending)
            report.errors.append(f"page did not finish loading in {PAGE_TIMEOUT} s (pending: {left})")
        try:
            report.result = _evaluate(cdp, session, f"(async () => {{ {script} }})()") or {}
        except RuntimeError as e:
            report.errors.append(f"test script failed: {e}")
        if report.url in screenshots:
            full = _evaluate(cdp, session, "document.documentElement.scrollHeight")
            _set_size(cdp, session, width, max(height, min(full, screenshots[report.url])))
            cdp.pump(0.2)
            shot = cdp.call("Page.captureScreenshot", {"format": "png"}, session=session)
            report.screenshot = base64.b64decode(shot["data"])
    cdp.pump(0.1)  # anything the scripts triggered (images, fonts)
    dispatch()
    for target, _ in tabs.values():
        cdp.call("Target.closeTarget", {"targetId": target})
    return [report for _, report in tabs.values()]


PAGE_SCRIPT = """
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
"""

DECK_SCRIPT = """
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  for (let i = 0; i < 100 && !(window.Reveal && Reveal.isReady()); i++) { await new Promise(r => setTimeout(r, 50)); }
  const imgs = Array.from(document.images);
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  return {
    revealReady: !!(window.Reveal && Reveal.isReady()),
    sections: document.querySelectorAll('section').length,
    totalSlides: window.Reveal ? Reveal.getTotalSlides() : 0,
    brokenImages: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.currentSrc || i.src),
    mathErrors: document.querySelectorAll('mjx-merror').length,
  };
"""


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


def page_problems(report) -> list[str]:
    """Console errors, failed requests, images that did not load and MathJax errors of one opened page."""
    problems = report.problems()
    problems += [f"image did not load: {src[:120]}" for src in report.result.get("brokenImages", [])]
    if report.result.get("mathErrors"):
        problems.append(f"{report.result['mathErrors']} MathJax errors")
    return problems


def test_site_pages_load_offline_in_chromium(site, server, browser):
    base = f"{server}/html"
    pages = sorted(p.name for p in site.glob("*.html"))
    shot_page = _pick([site / f"{nb.stem}.html" for nb in notebook_paths()], "03").name
    shots = {f"{base}/index.html": 2400, f"{base}/{shot_page}": 6000}
    failures = {}
    for report in open_pages(browser, [f"{base}/{p}" for p in pages], PAGE_SCRIPT, screenshots=shots):
        problems = page_problems(report) + broken_internal_links(report.result.get("links", []), base, site)
        if problems:
            failures[report.url] = problems
        if report.screenshot:
            _save_artifact(f"site_{Path(urlsplit(report.url).path).stem}.png", report.screenshot)
    assert not failures, "pages with problems:\n" + json.dumps(failures, indent=1)
    assert len(pages) >= len(notebook_paths()) + 1


def test_site_pages_have_navigation(site):
    """Previous/next links follow the course order; each page has a table of its ## sections."""
    entries = [e for e in tools.course_entries(NOTEBOOKS, COURSE_MAP) if e["path"]]
    order = ["index"] + [e["path"].stem for e in entries]
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
        if name != "index":
            assert sections, f"{name}: no ## section (the notebook needs '## ' headings)"


# ----------------------------------------------------------------------------------------
# Slides
# ----------------------------------------------------------------------------------------


def test_a_deck_per_notebook_loads_offline_with_several_slides(slides, server, browser):
    paths = notebook_paths()
    missing = [nb.name for nb in paths if not (slides / f"{nb.stem}.slides.html").is_file()]
    assert not missing, f"no deck for {missing}"
    urls = [f"{server}/slides/{nb.stem}.slides.html" for nb in paths]
    shots = {f"{server}/slides/{_pick(paths, '03').stem}.slides.html": 800}
    failures = {}
    for report in open_pages(browser, urls, DECK_SCRIPT, width=1280, height=800, screenshots=shots):
        problems = page_problems(report)
        res = report.result
        if not res.get("revealReady"):
            problems.append("reveal.js did not start")
        if res.get("sections", 0) <= 1:
            problems.append(f"only {res.get('sections', 0)} <section> (slide metadata missing?)")
        if problems:
            failures[report.url] = problems
        if report.screenshot:
            _save_artifact(f"slides_{Path(urlsplit(report.url).path).name.split('.')[0]}.png", report.screenshot)
    assert not failures, "decks with problems:\n" + json.dumps(failures, indent=1)


def test_decks_reference_no_cdn(slides):
    for deck in slides.glob("*.slides.html"):
        html = deck.read_text(encoding="utf-8")
        refs = re.findall(r"""(?:src|href)\s*=\s*["']((?:https?:)?//[^"']+)""", html)
        imports = re.findall(r"""import\s[^;]*?from\s+["']((?:https?:)?//[^"']+)""", html)
        assert not refs + imports, f"{deck.name} loads from the internet: {refs + imports}"


# ----------------------------------------------------------------------------------------
# Student edition
# ----------------------------------------------------------------------------------------


def test_student_edition(student):
    for src in notebook_paths():
        path = student / src.name
        assert path.is_file(), f"no student edition of {src.name}"
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        original = nbformat.read(src, as_version=4)
        assert len(nb.cells) == len(original.cells), f"{src.name}: cells were added or removed"
        for cell, orig in zip(nb.cells, original.cells, strict=True):
            assert "solution" not in cell.metadata.get("tags", []), f"{src.name}: a solution cell survived"
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{src.name}: outputs left in a code cell"
            if "solution" in orig.metadata.get("tags", []):
                expected = tools.CODE_PLACEHOLDER if orig.cell_type == "code" else tools.MARKDOWN_PLACEHOLDER
                assert cell.cell_type == orig.cell_type and cell.source == expected
            else:
                assert cell.source == orig.source, f"{src.name}: a non-solution cell changed"
            if "hint" in orig.metadata.get("tags", []):
                assert "hint" in cell.metadata.get("tags", [])


def test_student_preprocessor_on_a_small_notebook():
    v4 = nbformat.v4
    nb = v4.new_notebook(cells=[
        v4.new_markdown_cell("## Exercise", metadata={"slideshow": {"slide_type": "slide"}}),
        v4.new_markdown_cell("Use `x.sum()`.", metadata={"tags": ["hint"]}),
        v4.new_code_cell("x = 1\nx", execution_count=3,
                         metadata={"tags": ["solution"], "slideshow": {"slide_type": "fragment"}},
                         outputs=[v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=3)]),
        v4.new_markdown_cell("Because $x=1$.", metadata={"tags": ["solution"]}),
        v4.new_code_cell("print(2)", execution_count=4, outputs=[v4.new_output("stream", text="2\n")]),
    ])  # fmt: skip
    out = tools.student_notebook(nb)
    nbformat.validate(out)
    assert [c.source for c in out.cells] == [
        "## Exercise",
        "Use `x.sum()`.",
        "# your answer here\n",
        "*Your answer here.*",
        "print(2)",
    ]
    assert out.cells[2].metadata == {"tags": ["answer"], "slideshow": {"slide_type": "fragment"}}
    assert out.cells[2].cell_type == "code" and out.cells[3].cell_type == "markdown"
    assert all(c.outputs == [] and c.execution_count is None for c in out.cells if c.cell_type == "code")
    assert nb.cells[2].outputs, "the source notebook must not be modified"


def test_course_map_formatting():
    assert [tools.format_minutes(m) for m in (0.3, 1, 2.5, 12, 60, 75, None)] == \
        ["18 s", "1 min", "2.5 min", "12 min", "1 h", "1 h 15 min", "–"]  # fmt: skip
