"""Is every figure's text readable where it is shown? The committed figures, their smallest text, and its size on
the screen in JupyterLab, on the website and in the decks (the browser tests measure how large each is shown).

A figure's text is `pt * dpi / 72` pixels in its PNG; shown at `scale` (shown width / PNG width), it is that times
`scale` on the screen, and must be at least MIN_TEXT_PX. The smallest text of a figure is matplotlib's default size
(10 pt, which the course never changes) unless its cell asks for a smaller one (`fontsize=8`, `size="small"`, ...);
course_utils' own plots draw nothing smaller (tests/test_plots.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

MIN_TEXT_PX = 11.0
DEFAULT_PT = 10.0  # matplotlib's font.size, left alone by the course
NAMED_PT = {"xx-small": 5.79, "x-small": 6.94, "small": 8.33, "medium": 10.0}  # matplotlib's scalings of 10 pt
SIZE_ARG = re.compile(r"\b(?:fontsize|labelsize|size|titlesize)\s*=\s*(?:(\d+(?:\.\d+)?)|[\"']([\w-]+)[\"'])")


@dataclass(frozen=True)
class Figure:
    """One PNG a committed notebook shows: where it is, its size in pixels and dpi, its smallest text in points."""

    notebook: str
    cell: int  # index in nb["cells"]
    width: int
    height: int
    dpi: float
    smallest_pt: float
    sha: str  # sha256 of the PNG's bytes: how a page's image is known

    def text_px(self, shown_width: float) -> float:
        """The smallest text's height on the screen when the figure is shown `shown_width` pixels wide."""
        return self.smallest_pt * self.dpi / 72 * min(1.0, shown_width / self.width)


def smallest_pt(source: str) -> float:
    """The smallest font size a cell's code asks for, in points (DEFAULT_PT when it asks for none smaller)."""
    sizes = [DEFAULT_PT]
    for number, name in SIZE_ARG.findall(source):
        sizes.append(float(number) if number else NAMED_PT.get(name, DEFAULT_PT))
    return min(sizes)


def notebook_figures(path: Path) -> list[Figure]:
    """Every PNG output of a notebook, in order."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    figures = []
    for index, cell in enumerate(cells):
        for output in cell.get("outputs", []) if cell["cell_type"] == "code" else []:
            png = output.get("data", {}).get("image/png")
            if png:
                figures.append(_figure(path.name, index, "".join(cell["source"]), base64.b64decode(png)))
    return figures


def _figure(notebook: str, cell: int, source: str, png: bytes) -> Figure:
    """A Figure from a PNG's bytes and the source of the cell that drew it."""
    from io import BytesIO

    image = Image.open(BytesIO(png))
    dpi = float(image.info.get("dpi", (100.0, 100.0))[0])
    sha = hashlib.sha256(png).hexdigest()
    return Figure(notebook, cell, image.width, image.height, round(dpi, 1), smallest_pt(source), sha)


def too_small(figure: Figure, shown_width: float, where: str) -> str | None:
    """A line naming a figure whose smallest text is below MIN_TEXT_PX where it is shown; None when it is readable."""
    px = figure.text_px(shown_width)
    if px >= MIN_TEXT_PX - 0.05:
        return None
    return (
        f"{figure.notebook} cell {figure.cell} in {where}: {figure.width} px figure shown {shown_width:.0f} px wide, "
        f"its {figure.smallest_pt:g} pt text {px:.1f} px (at least {MIN_TEXT_PX:g})"
    )


# The images a page shows under a CSS selector, loaded (not lazily) and decoded: natural and shown widths, address.
IMAGES_JS = """async (selector) => {
  const images = [...document.querySelectorAll(selector)];
  images.forEach(i => { i.loading = 'eager'; });
  await Promise.all(images.map(i => i.decode().catch(() => null)));
  const box = i => i.getBoundingClientRect();
  return images.map(i => ({src: i.currentSrc || i.src, natural: i.naturalWidth, shown: box(i).width}));
}"""


def image_sha(src: str, folder: Path | None = None) -> str | None:
    """sha256 of an image a page shows: a data: URI's bytes, or a file:// address's file (under `folder`, if given)."""
    if src.startswith("data:image/png;base64,"):
        return hashlib.sha256(base64.b64decode(src.split(",", 1)[1])).hexdigest()
    if src.startswith("file://"):
        path = Path(src.removeprefix("file://").split("?")[0])
        return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    if folder is not None and (folder / src).is_file():
        return hashlib.sha256((folder / src).read_bytes()).hexdigest()
    return None


def figures_by_sha(paths: list[Path]) -> dict[str, Figure]:
    """Every committed figure of these notebooks, by the sha256 of its PNG."""
    return {figure.sha: figure for path in paths for figure in notebook_figures(path)}


def unreadable(known: dict[str, Figure], shown: list[dict], where: str, folder: Path | None = None) -> list[str]:
    """A line for each of the course's figures among `shown` (IMAGES_JS's rows) whose text is too small there."""
    lines = []
    for image in shown:
        figure = known.get(image_sha(image["src"], folder) or "")
        line = figure and too_small(figure, image["shown"], where)
        if line:
            lines.append(line)
    return lines


# The figures of JupyterLab's current notebook, by cell: the cell's index, natural and shown widths.
LAB_IMAGES_JS = """() => {
  const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
  return [...panel.querySelectorAll('.jp-Notebook .jp-Cell')].flatMap((cell, index) =>
    [...cell.querySelectorAll('.jp-OutputArea-output img')].filter(i => i.naturalWidth > 0)
      .map(i => ({cell: index, natural: i.naturalWidth, shown: i.getBoundingClientRect().width})));
}"""


def lab_unreadable(path: Path, shown: list[dict], where: str, dpi: float = 100.0) -> list[str]:
    """A line for each figure JupyterLab shows (LAB_IMAGES_JS's rows, drawn just now at matplotlib's `dpi`) whose
    text is too small there."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    lines = []
    for image in shown:
        source = "".join(cells[image["cell"]]["source"])
        figure = Figure(path.name, image["cell"], image["natural"], 0, dpi, smallest_pt(source), "")
        line = too_small(figure, image["shown"], where)
        if line:
            lines.append(line)
    return lines
