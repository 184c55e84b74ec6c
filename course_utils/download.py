"""The network: the one timeout, a quick probe that a server answers, and downloads.

`download` streams a URL into a temporary file next to its destination and renames it only when the whole body
arrived (and, when a sha256 is given, matched): a download cut off, stalled or corrupted never leaves a file that
looks complete. Every connection attempt and every read times out after NETWORK_TIMEOUT seconds.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .env import batch_run, in_notebook

NETWORK_TIMEOUT = 4.0  # seconds for one connection attempt or one read: no network must fail fast
BLOCK = 1 << 16


class DownloadError(OSError):
    """A download failed: the server refused it, stopped sending, sent too little, or sent other bytes."""


def reachable(url: str, timeout: float | None = None) -> bool:
    """Whether the server of `url` answers within `timeout` seconds (so no network fails fast)."""
    timeout = NETWORK_TIMEOUT if timeout is None else timeout
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
    except urllib.error.HTTPError:
        return True  # the server answered, if only with an error: let the real download report it
    except OSError:
        return False
    return True


class _Progress:
    """Bytes received: a tqdm bar with sizes in a terminal, one text line in Jupyter, nothing in batch runs."""

    def __init__(self, desc: str, total: int | None) -> None:
        self.desc, self.total, self.done, self.bar, self.line = desc, total, 0, None, None
        if batch_run():
            return
        if in_notebook():
            from .progress import ProgressLine

            self.line, self.start = ProgressLine(), time.perf_counter()
        else:
            from tqdm import tqdm

            sizes = "{n_fmt}B/{total_fmt}B" if total else "{n_fmt}B"  # e.g. 12.3MB/137MB, then the rate
            self.bar = tqdm(
                desc=desc,
                total=total,
                unit="B",
                unit_scale=True,
                file=sys.stderr,
                ncols=90,
                bar_format="{l_bar}{bar}| " + sizes + " [{elapsed}<{remaining}, {rate_fmt}]",
            )

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.line is not None:
            total = f"/{self.total / 1e6:.1f}" if self.total else ""
            self.line.show(f"{self.desc}: {self.done / 1e6:.1f}{total} MB ({time.perf_counter() - self.start:.0f} s)")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.line is not None:
            self.line.show(f"{self.desc}: {self.done / 1e6:.1f} MB", force=True)


def download(
    url: str,
    dest: str | os.PathLike,
    expected_sha256: str | None = None,
    desc: str | None = None,
    timeout: float | None = None,
) -> str:
    """Download `url` to `dest` atomically; return the sha256 of what was written.

    The body goes to a temporary file in dest's folder, renamed to `dest` only when it is complete (as long as the
    server's Content-Length says) and, if `expected_sha256` is given, has that sha256. Otherwise DownloadError says
    what happened (with both sums for a wrong one) and nothing is left behind. `timeout` (NETWORK_TIMEOUT by
    default) bounds the connection and every read, so a server that stops sending fails instead of hanging.
    """
    dest = Path(dest)
    timeout = NETWORK_TIMEOUT if timeout is None else timeout
    desc = desc or dest.name
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, part = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = urllib.request.urlopen(url, timeout=timeout)
            except urllib.error.HTTPError as exc:
                raise DownloadError(f"{url}: the server answered HTTP {exc.code} {exc.reason}") from exc
            except (OSError, http.client.HTTPException) as exc:  # no network, refused, a garbled answer
                raise DownloadError(f"{url}: could not connect ({exc})") from exc
            with response:
                length = response.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                digest, received, bar = hashlib.sha256(), 0, _Progress(desc, total)
                try:
                    while True:
                        try:
                            block = response.read(BLOCK)
                        except TimeoutError as exc:
                            raise DownloadError(
                                f"{url}: the server stopped sending for {timeout:g} s after {received:,} bytes"
                            ) from exc
                        except (OSError, http.client.HTTPException) as exc:  # a reset, a chunked body cut off
                            raise DownloadError(
                                f"{url}: the download broke off after {received:,} bytes ({exc})"
                            ) from exc
                        if not block:
                            break
                        out.write(block)
                        digest.update(block)
                        received += len(block)
                        bar.update(len(block))
                finally:
                    bar.close()
        if total is not None and received != total:
            raise DownloadError(f"{url}: the download broke off after {received:,} of {total:,} bytes")
        found = digest.hexdigest()
        if expected_sha256 and found != expected_sha256:
            raise DownloadError(f"{url}: wrong content: sha256 {found}, expected {expected_sha256}")
        os.replace(part, dest)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise
    return found
