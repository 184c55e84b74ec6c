#!/usr/bin/env python3
"""Does every slide fit the screen? The course's decks measured in Chromium, driven by Playwright.

    python tools/deckcheck.py decks [FOLDER]       # the exported reveal.js decks (`make slides` writes _build/slides)
    python tools/deckcheck.py rise [NOTEBOOKS]     # every notebook presented with RISE, in a JupyterLab on a copy

Each slide is shown at 1280×720 (``--size``) with all its fragments, and its content is measured against the
slide's frame: a slide overflows when its content is taller or wider than the frame (it would scroll, or be cut
off in RISE). Code must be at least 14 px on the screen. The exit status is 1 when a slide overflows.

The browser is Playwright's Chromium (``python -m playwright install chromium``), or a Chromium/Chrome found on
PATH or named by $CHROMIUM; tests/ uses the same finder (``chromium_executable``) and the JupyterLab launcher
(``jupyter_lab``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIZE = (1280, 720)
MIN_CODE_PX = 14
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
NO_BROWSER = (
    "no Chromium for the browser tests: run `make browser` (Playwright's own Chromium, no root needed), "
    "or install Chromium or Chrome, or set CHROMIUM=/path/to/chromium"
)


class NoBrowser(RuntimeError):
    """No Chromium to drive (the message says how to get one)."""


def chromium_executable(playwright=None) -> str | None:
    """$CHROMIUM, else Playwright's own Chromium when installed (None: let Playwright launch it), else one on PATH.

    Returns the path to launch with, "" for Playwright's own browser, or None when there is none.
    """
    if os.environ.get("CHROMIUM"):
        found = shutil.which(os.environ["CHROMIUM"])
        if not found:
            raise NoBrowser(f"CHROMIUM={os.environ['CHROMIUM']} is not an executable")
        return found
    if playwright is not None:
        with contextlib.suppress(Exception):
            if Path(playwright.chromium.executable_path).is_file():
                return ""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def launch_options(playwright=None) -> dict:
    """Keyword arguments for ``playwright.chromium.launch``; NoBrowser when there is no browser."""
    path = chromium_executable(playwright)
    if path is None:
        raise NoBrowser(NO_BROWSER)
    options = {"args": LAUNCH_ARGS, "chromium_sandbox": False}
    if path:
        options["executable_path"] = path
    return options


def launch(playwright, options: dict | None = None):
    """Chromium started with `options` (default: launch_options()); NoBrowser when there is none, or when it is
    there but does not start."""
    options = launch_options(playwright) if options is None else options
    try:
        return playwright.chromium.launch(**options)
    except Exception as error:  # Playwright's Error: e.g. its own build without the system libraries it needs
        text = str(error).strip()
        first = text.splitlines()[0][:200] if text else type(error).__name__
        where = options.get("executable_path") or "Playwright's Chromium"
        raise NoBrowser(
            f"{where} did not start ({first}): its system libraries may be missing (`sudo .venv/bin/python -m "
            "playwright install-deps chromium` adds them), or install Chromium or Chrome, or set CHROMIUM=/path"
        ) from error


# ----------------------------------------------------------------------------------------
# Measuring slides
# ----------------------------------------------------------------------------------------


@dataclass
class SlideFit:
    deck: str
    slide: str  # "h-v", reveal's indices
    title: str
    height: int  # content height, in the slide's own pixels
    width: int  # widest content
    frame: tuple[int, int]  # the slide's width and height
    code_px: float | None  # code font size on the screen
    wide: int  # elements that scroll sideways (code lines, tables, outputs too wide)

    @property
    def too_tall(self) -> bool:
        return self.height > self.frame[1]

    @property
    def overflows(self) -> bool:
        return self.too_tall or self.width > self.frame[0] or self.wide > 0

    @property
    def small_code(self) -> bool:
        return self.code_px is not None and self.code_px < MIN_CODE_PX - 0.05

    def describe(self) -> str:
        what = []
        if self.too_tall:
            what.append(f"{self.height} px tall (frame {self.frame[1]})")
        if self.width > self.frame[0]:
            what.append(f"{self.width} px wide (frame {self.frame[0]})")
        if self.wide:
            what.append(f"{self.wide} element(s) scroll sideways")
        if self.small_code:
            what.append(f"code at {self.code_px:.1f} px")
        return f"{self.deck} slide {self.slide} {self.title!r}: " + ", ".join(what)


# One slide's content box, in the slide's own (unscaled) pixels. `s` is a leaf <section>, `scale` the screen scale.
MEASURE_JS = """
function measure(s, scale) {
  const box = s.getBoundingClientRect();
  let bottom = 0, right = 0;
  for (const e of s.querySelectorAll('*')) {
    if (e.closest('aside.notes')) continue;
    const st = getComputedStyle(e);
    if (st.display === 'none' || st.position === 'fixed') continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    bottom = Math.max(bottom, r.bottom - box.top);
    right = Math.max(right, r.right - box.left);
  }
  const scrollers = [...s.querySelectorAll('pre, table, img, .jp-OutputArea-output, .cm-scroller, mjx-container')]
    .filter(e => e.scrollWidth > e.clientWidth + 2 && getComputedStyle(e).overflowX !== 'visible');
  const heading = s.querySelector('h1, h2, h3, h4');
  const code = s.querySelector('.jp-InputArea-editor pre, .cm-content, .highlight pre');
  return {
    title: ((heading || s).textContent || '').replace(/[¶#]/g, '').trim().split('\\n')[0].slice(0, 70),
    height: Math.ceil(Math.max(s.scrollHeight, bottom / scale)),
    width: Math.ceil(Math.max(s.scrollWidth, right / scale)),
    codePx: code ? parseFloat(getComputedStyle(code).fontSize) * scale : null,
    wide: scrollers.length,
  };
}
"""

# Every slide of an exported deck, visited through reveal.js's API with all its fragments shown.
DECK_JS = (
    "async () => {"
    + MEASURE_JS
    + """
  const frames = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  for (let i = 0; i < 300 && !(window.Reveal && Reveal.isReady()); i++) await new Promise(r => setTimeout(r, 50));
  if (!(window.Reveal && Reveal.isReady())) throw new Error('reveal.js did not start');
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) await MathJax.startup.promise;
  await Promise.all([...document.images].map(i => i.decode().catch(() => null)));
  const cfg = Reveal.getConfig();
  const out = [];
  for (const s of Reveal.getSlides()) {
    const {h, v} = Reveal.getIndices(s);
    Reveal.slide(h, v, Number.MAX_SAFE_INTEGER);
    await frames();
    out.push(Object.assign({slide: `${h}-${v || 0}`, frame: [cfg.width, cfg.height]}, measure(s, Reveal.getScale())));
  }
  Reveal.slide(0, 0);
  return out;
}"""
)

# Every slide of a RISE slideshow. RISE keeps reveal.js to itself, so each slide is laid out in turn (shown as
# reveal shows the current slide) and measured against the .slides frame; the notebook's slides are all in the DOM.
RISE_JS = (
    "async () => {"
    + MEASURE_JS
    + """
  const frames = () => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
  const slides = document.querySelector('.reveal .slides');
  const leaves = [...slides.querySelectorAll('section')].filter(s => !s.querySelector('section'));
  const scale = slides.getBoundingClientRect().height / slides.offsetHeight;
  const frame = [slides.offsetWidth, slides.offsetHeight];
  await Promise.all([...document.images].map(i => i.decode().catch(() => null)));
  const out = [];
  const tops = [...slides.children];
  for (const s of leaves) {
    const stack = s.parentElement.closest('section');
    const h = tops.indexOf(stack || s), v = stack ? [...stack.children].indexOf(s) : 0;
    const saved = [s, stack].filter(Boolean).map(e => [e, e.getAttribute('style'), e.getAttribute('hidden')]);
    for (const [e] of saved) { e.style.display = 'block'; e.removeAttribute('hidden'); }
    s.querySelectorAll('.fragment').forEach(f => f.classList.add('visible'));
    await frames();
    out.push(Object.assign({slide: `${h}-${v}`, frame}, measure(s, scale)));
    s.querySelectorAll('.fragment').forEach(f => f.classList.remove('visible'));
    for (const [e, style, hidden] of saved) {
      style === null ? e.removeAttribute('style') : e.setAttribute('style', style);
      if (hidden !== null) e.setAttribute('hidden', hidden);
    }
  }
  return out;
}"""
)


def _fits(deck: str, rows: list[dict]) -> list[SlideFit]:
    return [
        SlideFit(
            deck=deck,
            slide=r["slide"],
            title=r["title"],
            height=r["height"],
            width=r["width"],
            frame=tuple(r["frame"]),
            code_px=r["codePx"],
            wide=r["wide"],
        )
        for r in rows
    ]


def check_deck(page, url: str, load: bool = True) -> list[SlideFit]:
    """Every slide of the exported deck at `url`, measured in `page` (where it is open already unless `load`)."""
    if load:
        page.goto(url)
    return _fits(Path(url).name.split(".")[0], page.evaluate(DECK_JS))


def open_rise(page, lab_url: str, token: str, notebook: str, timeout_ms: int = 60_000) -> None:
    """Open `notebook` (relative to the server's root) in RISE and wait for its slides and figures."""
    page.goto(f"{lab_url}/rise/{notebook}?token={token}")
    page.wait_for_selector(".reveal.ready .slides section", state="attached", timeout=timeout_ms)
    page.wait_for_load_state("networkidle", timeout=timeout_ms)


def check_rise(page, lab_url: str, token: str, notebook: str) -> list[SlideFit]:
    """Every slide of `notebook` presented with RISE, measured in `page`."""
    open_rise(page, lab_url, token, notebook)
    return _fits(Path(notebook).stem, page.evaluate(RISE_JS))


# ----------------------------------------------------------------------------------------
# A JupyterLab for the browser: on a folder, with a token, its own settings, on a free port
# ----------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyter_lab(root_dir: Path, env: dict | None = None, timeout: float = 90) -> Iterator[tuple[str, str]]:
    """A JupyterLab server on `root_dir`: yields (url, token); stopped on exit.

    User settings, workspaces and runtime files go to a temporary folder, so a run neither reads nor
    changes the user's own; `env` is added to the server's (and its kernels') environment (None removes a name).
    """
    token = os.urandom(12).hex()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="course-lab-") as home:
        run_env = dict(os.environ)
        run_env.update(
            JUPYTERLAB_SETTINGS_DIR=f"{home}/settings",
            JUPYTERLAB_WORKSPACES_DIR=f"{home}/workspaces",
            JUPYTER_RUNTIME_DIR=f"{home}/runtime",
        )
        for name, value in (env or {}).items():
            run_env.pop(name, None) if value is None else run_env.__setitem__(name, value)
        cmd = [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
            "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root_dir}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None",
        ]  # fmt: skip
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        log = open(Path(home) / "lab.log", "w+")  # noqa: SIM115 (closed below)
        proc = subprocess.Popen(cmd, env=run_env, stdout=log, stderr=subprocess.STDOUT, cwd=root_dir)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                with contextlib.suppress(OSError):
                    urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).close()
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(f"JupyterLab did not start:\n{log.read()[-3000:]}")
                time.sleep(0.3)
            yield url, token
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


# ----------------------------------------------------------------------------------------


def report(fits: list[SlideFit]) -> int:
    """Print one line per deck and one per slide that does not fit; the number of slides that overflow."""
    bad = 0
    for deck in dict.fromkeys(f.deck for f in fits):
        mine = [f for f in fits if f.deck == deck]
        over = [f for f in mine if f.overflows]
        bad += len(over)
        tallest = max(mine, key=lambda f: f.height)
        print(
            f"{deck}: {len(over)} of {len(mine)} slides overflow (tallest {tallest.height} px, slide {tallest.slide})"
        )
        for f in mine:
            if f.overflows or f.small_code:
                print("   ", f.describe())
    print(f"total: {bad} of {len(fits)} slides overflow")
    return bad


def main(argv=None) -> int:
    from playwright.sync_api import sync_playwright

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["decks", "rise"])
    ap.add_argument("folder", nargs="?", type=Path, help="decks: _build/slides; rise: notebooks/")
    ap.add_argument("--size", default=f"{SIZE[0]}x{SIZE[1]}", help="the screen, WIDTHxHEIGHT (1280x720)")
    args = ap.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    with sync_playwright() as p:
        try:
            browser = launch(p)
        except NoBrowser as e:
            print(e, file=sys.stderr)
            return 2
        page = browser.new_page(viewport={"width": width, "height": height})
        fits = []
        if args.what == "decks":
            folder = (args.folder or ROOT / "_build" / "slides").resolve()
            decks = sorted(folder.glob("*.slides.html"))
            if not decks:
                print(f"no decks in {folder}: run `make slides`", file=sys.stderr)
                return 2
            for deck in decks:
                fits += check_deck(page, deck.as_uri())
        else:
            sys.path.insert(0, str(ROOT))
            from course_utils.course import notebook_paths

            folder = (args.folder or ROOT / "notebooks").resolve()
            with tempfile.TemporaryDirectory(prefix="course-rise-") as tmp:
                for path in notebook_paths(folder):  # a copy: RISE's kernel session must not touch the course
                    shutil.copy2(path, tmp)
                for extra in folder.glob("*.css"):
                    shutil.copy2(extra, tmp)
                with jupyter_lab(Path(tmp), {"COURSE_QUICK": "1"}) as (url, token):
                    for path in notebook_paths(folder):
                        fits += check_rise(page, url, token, path.name)
        browser.close()
    return 1 if report(fits) else 0


if __name__ == "__main__":
    sys.exit(main())
