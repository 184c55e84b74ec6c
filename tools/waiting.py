"""One way to wait for something to happen: poll a condition until it holds or time runs out."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    condition: Callable[[], T], timeout_s: float, every_s: float = 0.1, sleep: Callable[[float], object] = time.sleep
) -> T | None:
    """The first true value `condition()` returns within `timeout_s` seconds (polled every `every_s`), else None."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value or None
        sleep(every_s)
