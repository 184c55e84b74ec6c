"""The Chromium the tools and the tests drive through Playwright: $CHROMIUM, Playwright's own, or one on PATH."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

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
ON_PATH = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


class NoBrowser(RuntimeError):
    """No Chromium to drive (the message says how to get one)."""


def chromium_executable(playwright: Playwright | None = None) -> str | None:
    """$CHROMIUM, else Playwright's own Chromium when installed, else one on PATH.

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
    return next((shutil.which(name) for name in ON_PATH if shutil.which(name)), None)


def launch_options(playwright: Playwright | None = None) -> dict:
    """Keyword arguments for ``playwright.chromium.launch``; NoBrowser when there is no browser."""
    path = chromium_executable(playwright)
    if path is None:
        raise NoBrowser(NO_BROWSER)
    options = {"args": LAUNCH_ARGS, "chromium_sandbox": False}
    if path:
        options["executable_path"] = path
    return options


def launch(playwright: Playwright, options: dict | None = None) -> Browser:
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
