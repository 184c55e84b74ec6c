"""The network: the one timeout, a quick probe that a server answers, and downloads.

`download` streams a URL into a temporary file next to its destination (`files.atomic_write`) and renames it only
when the whole body arrived (and, when a sha256 is given, matched): a download cut off, stalled or corrupted never
leaves a file that looks complete. Every connection attempt and every read times out after NETWORK_TIMEOUT seconds.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from .files import atomic_write
from .progress import Progress

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
    with atomic_write(dest) as out:  # renamed to `dest` only if nothing below raises
        try:
            response = urllib.request.urlopen(url, timeout=timeout)
        except urllib.error.HTTPError as exc:
            raise DownloadError(f"{url}: the server answered HTTP {exc.code} {exc.reason}") from exc
        except (OSError, http.client.HTTPException) as exc:  # no network, refused, a garbled answer
            raise DownloadError(f"{url}: could not connect ({exc})") from exc
        with response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with Progress(desc or dest.name, total, unit="B") as shown:
                digest, received = _stream(url, response, out, shown, timeout)
        if total is not None and received != total:
            raise DownloadError(f"{url}: the download broke off after {received:,} of {total:,} bytes")
        found = digest.hexdigest()
        if expected_sha256 and found != expected_sha256:
            raise DownloadError(f"{url}: wrong content: sha256 {found}, expected {expected_sha256}")
    return found


def _stream(url: str, response: IO[bytes], out: IO[bytes], shown: Progress, timeout: float) -> tuple[Any, int]:
    """Copy the body of `response` to `out`; return its sha256 (a hashlib object) and the bytes received."""
    digest, received = hashlib.sha256(), 0
    while True:
        try:
            block = response.read(BLOCK)
        except TimeoutError as exc:
            raise DownloadError(
                f"{url}: the server stopped sending for {timeout:g} s after {received:,} bytes"
            ) from exc
        except (OSError, http.client.HTTPException) as exc:  # a reset, a chunked body cut off
            raise DownloadError(f"{url}: the download broke off after {received:,} bytes ({exc})") from exc
        if not block:
            return digest, received
        out.write(block)
        digest.update(block)
        received += len(block)
        shown.update(len(block))
