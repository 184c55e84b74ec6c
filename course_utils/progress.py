"""Progress on anything slow: a text line updated in place in Jupyter, a tqdm bar in a terminal, nothing in batch runs.

No widget is used in Jupyter, so a saved notebook never holds a progress bar whose model is gone when it reopens.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from .env import batch_run, in_notebook

T = TypeVar("T")


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


def progress(iterable: Iterable[T], desc: str = "", total: int | None = None) -> Iterator[T]:
    """Progress over `iterable`: text in Jupyter (ending on `desc: n done in s`), tqdm in a terminal, none in batch."""
    if batch_run():
        yield from iterable
    elif in_notebook():
        line, start, done = ProgressLine(), time.perf_counter(), 0
        for item in line.track(iterable, desc, total):
            done += 1
            yield item
        line.show(f"{desc}: {done} done in {time.perf_counter() - start:.1f} s", force=True)
    else:
        from tqdm import tqdm

        yield from tqdm(iterable, desc=desc, total=total, leave=False, file=sys.stderr, ncols=90)
