"""Does every slide fit the screen? Each slide shown with all its fragments and its content measured against the
slide's frame, in an exported reveal.js deck or in RISE; code must be at least MIN_CODE_PX on the screen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page

SIZE = (1280, 720)
MIN_CODE_PX = 14
MIN_RIGHT_MARGIN = 12  # px of the slide's own frame between the rightmost text or box and the frame's edge


@dataclass
class SlideFit:
    """One slide measured: its content's size against its frame, its code's size on the screen."""

    deck: str
    slide: str  # "h-v", reveal's indices
    title: str
    height: int  # content height, in the slide's own pixels
    width: int  # widest content
    frame: tuple[int, int]  # the slide's width and height
    code_px: float | None  # code font size on the screen
    wide: int  # elements that scroll sideways (code lines, tables, outputs too wide)
    right: int = 0  # where the rightmost content ends, in the slide's own pixels
    markers: int = 0  # lines of test plumbing shown (nbval's `# NBVAL_...` comments)
    images: tuple = ()  # its images: {src, natural, shown} (shown: width in the slide's own pixels), tools.figures

    @property
    def too_tall(self) -> bool:
        """Whether the content is taller than the frame."""
        return self.height > self.frame[1]

    @property
    def overflows(self) -> bool:
        """Whether the slide would scroll or be cut off: too tall, too wide, or with content scrolling sideways."""
        return self.too_tall or self.width > self.frame[0] or self.wide > 0

    @property
    def touches_edge(self) -> bool:
        """Whether text or a box comes within MIN_RIGHT_MARGIN of the frame's right edge."""
        return self.right > self.frame[0] - MIN_RIGHT_MARGIN

    @property
    def small_code(self) -> bool:
        """Whether its code is smaller than MIN_CODE_PX on the screen."""
        return self.code_px is not None and self.code_px < MIN_CODE_PX - 0.05

    @property
    def faulty(self) -> bool:
        """Whether the slide overflows or shows small code (content near the right edge and nbval's markers are
        counted by `report`, not faults)."""
        return self.overflows or self.small_code

    def describe(self) -> str:
        """One line: the deck, the slide, its title and what does not fit."""
        what = []
        if self.too_tall:
            what.append(f"{self.height} px tall (frame {self.frame[1]})")
        if self.width > self.frame[0]:
            what.append(f"{self.width} px wide (frame {self.frame[0]})")
        if self.wide:
            what.append(f"{self.wide} element(s) scroll sideways")
        if self.touches_edge:
            what.append(f"content reaches {self.right} px (frame {self.frame[0]}, margin {MIN_RIGHT_MARGIN})")
        if self.markers:
            what.append(f"{self.markers} nbval marker(s) shown")
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
    right: Math.ceil(right / scale),
    markers: (s.innerText.match(/NBVAL_[A-Z_]+/g) || []).length,
    images: [...s.querySelectorAll('img')].filter(i => i.naturalWidth > 0 && !i.closest('aside.notes')).map(i => ({
      src: i.currentSrc || i.src, natural: i.naturalWidth, shown: i.getBoundingClientRect().width / scale})),
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
    """SlideFit of each slide measured by the page's script."""
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
            right=r["right"],
            markers=r["markers"],
            images=tuple(r["images"]),
        )
        for r in rows
    ]


def check_deck(page: Page, url: str, load: bool = True) -> list[SlideFit]:
    """Every slide of the exported deck at `url`, measured in `page` (where it is open already unless `load`)."""
    if load:
        page.goto(url)
    return _fits(Path(url).name.split(".")[0], page.evaluate(DECK_JS))


def rise_url(lab_url: str, token: str, notebook: str) -> str:
    """The address of `notebook` (relative to the server's root) presented with RISE."""
    return f"{lab_url}/rise/{notebook}?token={token}"


def open_rise(
    page: Page, lab_url: str, token: str, notebook: str, *, timeout_ms: int = 60_000, load: bool = True
) -> None:
    """Open `notebook` in RISE (unless `load` is False: it is loading in `page` already) and wait for its slides and
    figures."""
    if load:
        page.goto(rise_url(lab_url, token, notebook))
    page.wait_for_selector(".reveal.ready .slides section", state="attached", timeout=timeout_ms)
    page.wait_for_load_state("networkidle", timeout=timeout_ms)


def check_rise(page: Page, lab_url: str, token: str, notebook: str, load: bool = True) -> list[SlideFit]:
    """Every slide of `notebook` presented with RISE, measured in `page` (where it is loading already unless
    `load`)."""
    open_rise(page, lab_url, token, notebook, load=load)
    return _fits(Path(notebook).stem, page.evaluate(RISE_JS))


def report(fits: list[SlideFit]) -> int:
    """Print one line per deck and one per faulty slide (SlideFit.faulty); the number of faulty slides."""
    bad = 0
    for deck in dict.fromkeys(f.deck for f in fits):
        mine = [f for f in fits if f.deck == deck]
        faulty = [f for f in mine if f.faulty]
        bad += len(faulty)
        tallest = max(mine, key=lambda f: f.height)
        print(
            f"{deck}: {len(faulty)} of {len(mine)} slides faulty (tallest {tallest.height} px, slide {tallest.slide})"
        )
        for f in faulty:
            print("   ", f.describe())
    print(f"total: {bad} of {len(fits)} slides faulty (overflowing, small code)")
    near = sum(f.touches_edge for f in fits)
    if near:
        print(f"{near} slides have content within {MIN_RIGHT_MARGIN} px of the right edge")
    shown = sum(f.markers > 0 for f in fits)
    if shown:
        print(f"{shown} slides show nbval's `# NBVAL_...` lines (RISE shows a cell's own code; the decks strip them)")
    return bad
