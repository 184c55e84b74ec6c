"""Where the course runs: profile, data folder, device, seeds."""
from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterable, TypeVar

import numpy as np
import torch

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent
QUICK: bool = os.environ.get("COURSE_QUICK", "0").lower() in {"1", "true", "yes"}
PROFILE: str = "quick" if QUICK else "full"


def by_profile(full: T, quick: T) -> T:
    """The value for the profile in use: `quick` under COURSE_QUICK=1, else `full`."""
    return quick if QUICK else full


def data_root() -> Path:
    """The folder datasets live in: $COURSE_DATA, or data/ in the repository."""
    return Path(os.environ.get("COURSE_DATA") or REPO_ROOT / "data").expanduser().resolve()


def cache_dir() -> Path:
    """The folder cached features live in: $COURSE_CACHE, or cache/ in the data folder."""
    return Path(os.environ.get("COURSE_CACHE") or data_root() / "cache").expanduser().resolve()


def save_atomically(obj: object, path: str | Path) -> Path:
    """torch.save to a temporary file next to `path`, then rename it: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(obj, file)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return path


def get_device(prefer: str | None = None) -> torch.device:
    """The best device here (cuda, then mps, then cpu), or the one named by `prefer` / $COURSE_DEVICE."""
    name = prefer or os.environ.get("COURSE_DEVICE")
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def set_seed(seed: int = 0) -> None:
    """Seed python, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def lesson_code(notebook: str) -> dict:
    """Run the code cells tagged `export` of a notebook in notebooks/ and return what they define."""
    path = REPO_ROOT / "notebooks" / notebook
    cells = json.loads(path.read_text())["cells"]
    namespace: dict = {"__name__": f"lesson_{path.stem}"}
    for cell in cells:
        if cell["cell_type"] == "code" and "export" in cell.get("metadata", {}).get("tags", []):
            exec(compile("".join(cell["source"]), f"{path.name}[export]", "exec"), namespace)
    return namespace


def course_map() -> list[dict]:
    """The notebooks of the course in order, from course.toml (file, title, teaches, minutes per profile)."""
    import tomllib
    return tomllib.loads((REPO_ROOT / "course.toml").read_text())["notebook"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where figures display inline)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config


def progress(iterable: Iterable, desc: str = "", total: int | None = None, leave: bool = True):
    """A progress bar: a widget in Jupyter, plain text in a terminal or a batch run (COURSE_BATCH=1)."""
    batch = os.environ.get("COURSE_BATCH") == "1"
    if batch or not in_notebook():
        from tqdm.std import tqdm  # batch runs keep only the bars that stay (leave=True), as plain text
        return tqdm(iterable, desc=desc, total=total, leave=leave, file=sys.stderr, mininterval=5, ncols=90,
                    disable=batch and not leave)
    from tqdm.auto import tqdm
    return tqdm(iterable, desc=desc, total=total, leave=leave)


def reachable(url: str, timeout: float = 3.0) -> bool:
    """Whether the server of `url` answers within `timeout` seconds (so no network fails fast)."""
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
    except urllib.error.HTTPError:
        return True  # the server answered, if only with an error: let the real download report it
    except OSError:
        return False
    return True
