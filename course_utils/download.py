"""The network: the one timeout, a quick probe that a server answers, and downloads."""

from __future__ import annotations

import urllib.error
import urllib.request

NETWORK_TIMEOUT = 4.0  # seconds for one connection attempt or one read: no network must fail fast


def reachable(url: str, timeout: float = NETWORK_TIMEOUT) -> bool:
    """Whether the server of `url` answers within `timeout` seconds (so no network fails fast)."""
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
    except urllib.error.HTTPError:
        return True  # the server answered, if only with an error: let the real download report it
    except OSError:
        return False
    return True
