"""The front-end files the pages load, copied from tools/node_modules (npm, pinned) next to them: no CDN."""

from __future__ import annotations

import shutil
from pathlib import Path

from .errors import BuildError
from .paths import NODE_MODULES, TOOLS

MATHJAX_PARTS = ["tex-chtml.js", "input", "output", "ui", "a11y", "sre", "adaptors"]
REVEAL_FILES = ["dist/reveal.js", "dist/reveal.css", "dist/theme/white.css", "dist/plugin/notes.js"]


def require_node_modules(*packages: str) -> None:
    """BuildError, saying to run `npm ci --prefix tools`, when one of the npm `packages` is not installed."""
    missing = [p for p in packages if not (NODE_MODULES / p / "package.json").is_file()]
    if missing:
        raise BuildError(
            f"{', '.join(missing)} not found in {NODE_MODULES}: "
            "run `npm ci --prefix tools` (it installs the versions pinned in tools/package-lock.json)"
        )


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


def copy_deck_assets(out: Path) -> None:
    """reveal.js, MathJax and the favicon next to the decks, so they open from a server or from disk."""
    reveal = out / "reveal.js"
    for rel in REVEAL_FILES:
        (reveal / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(NODE_MODULES / "reveal.js" / rel, reveal / rel)
    shutil.copy2(NODE_MODULES / "reveal.js" / "LICENSE", reveal / "LICENSE")
    shutil.copy2(TOOLS / "site" / "_static" / "favicon.svg", out / "favicon.svg")
    copy_mathjax(out / "mathjax")
