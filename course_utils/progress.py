"""Progress on anything slow: a text line updated in place in Jupyter, a tqdm bar in a terminal, nothing in batch runs.

`progress_style` makes that choice, once, for every kind of progress: `Progress` counts items or bytes by hand
(downloads), `progress` wraps an iterable. No widget is used in Jupyter, so a saved notebook never holds a progress
bar whose model is gone when it reopens.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Literal, TypeVar

from .env import batch_run, in_notebook

T = TypeVar("T")
Style = Literal["none", "line", "bar"]


def progress_style() -> Style:
    """How progress shows here: "none" in a batch run, "line" (plain text) in Jupyter, "bar" (tqdm) in a terminal."""
    if batch_run():
        return "none"
    return "line" if in_notebook() else "bar"


class ProgressLine:
    """One line of text in a notebook's output, rewritten in place at most every `interval` seconds."""

    def __init__(self, interval: float = 0.25) -> None:
        self.handle, self.interval, self.last = None, interval, 0.0

    def show(self, text: str, force: bool = False) -> None:
        """Display `text` on the line (skipped when the last update was under `interval` ago, unless forced)."""
        now = time.perf_counter()
        if not force and now - self.last < self.interval:
            return
        from IPython.display import display

        self.last = now
        if self.handle is None:
            self.handle = display({"text/plain": text}, raw=True, display_id=True)
        else:
            self.handle.update({"text/plain": text}, raw=True)

    def track(self, iterable: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
        """Yield the items of `iterable`, showing `desc: done/total` as they pass."""
        total = total if total is not None else _length(iterable)
        start = time.perf_counter()
        for done, item in enumerate(iterable, 1):
            yield item
            elapsed = time.perf_counter() - start
            self.show(f"{desc}: {done}/{total if total is not None else '?'} ({elapsed:.1f} s)")


def _length(iterable: Iterable) -> int | None:
    try:
        return len(iterable)  # type: ignore[arg-type]
    except TypeError:
        return None


class Progress:
    """Progress of one task counted by hand in items (unit "it") or bytes (unit "B"), shown as `progress_style` says."""

    def __init__(self, desc: str, total: int | None = None, *, unit: str = "it") -> None:
        self.desc, self.total, self.unit, self.done = desc, total, unit, 0
        self.style, self.start = progress_style(), time.perf_counter()
        self.line = ProgressLine() if self.style == "line" else None
        self.bar = _tqdm_bar(desc, total, unit) if self.style == "bar" else None

    def update(self, n: int = 1) -> None:
        """Count `n` more items (or bytes) done."""
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.line is not None:
            self.line.show(self._text(final=False))

    def close(self) -> None:
        """End the task: a terminal's bar is closed, a notebook's line says what was done."""
        if self.bar is not None:
            self.bar.close()
        elif self.line is not None:
            self.line.show(self._text(final=True), force=True)

    def _text(self, final: bool) -> str:
        seconds = time.perf_counter() - self.start
        if self.unit == "B":
            total = f"/{self.total / 1e6:.1f}" if self.total and not final else ""
            return f"{self.desc}: {self.done / 1e6:.1f}{total} MB" + ("" if final else f" ({seconds:.0f} s)")
        if final:
            return f"{self.desc}: {self.done} done in {seconds:.1f} s"
        return f"{self.desc}: {self.done}/{self.total if self.total is not None else '?'} ({seconds:.1f} s)"

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _tqdm_bar(desc: str, total: int | None, unit: str):
    """A tqdm bar on stderr: sizes and a rate for bytes (e.g. 12.3MB/137MB), a transient bar for items."""
    from tqdm import tqdm

    if unit != "B":
        return tqdm(desc=desc, total=total, leave=False, file=sys.stderr, ncols=90)
    sizes = "{n_fmt}B/{total_fmt}B" if total else "{n_fmt}B"
    bar_format = "{l_bar}{bar}| " + sizes + " [{elapsed}<{remaining}, {rate_fmt}]"
    return tqdm(desc=desc, total=total, unit="B", unit_scale=True, file=sys.stderr, ncols=90, bar_format=bar_format)


def progress(iterable: Iterable[T], desc: str = "", total: int | None = None) -> Iterator[T]:
    """Progress over `iterable`: text in Jupyter (ending on `desc: n done in s`), tqdm in a terminal, none in batch."""
    with Progress(desc, total if total is not None else _length(iterable)) as shown:
        for item in iterable:
            yield item
            shown.update()
