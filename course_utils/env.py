"""Where the course runs: the profile (full or quick), the data and cache folders, the device, the seeds."""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent


ON = frozenset({"1", "true", "yes", "on"})


def flag(name: str, environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the on/off variable `name` is on: 1, true, yes or on (any case, spaces ignored); anything else is off."""
    return environ.get(name, "").strip().lower() in ON


def quick_from_env(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether COURSE_QUICK asks for the quick profile (`flag`'s spellings); anything else is full."""
    return flag("COURSE_QUICK", environ)


QUICK: bool = quick_from_env()
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


def in_notebook() -> bool:
    """True inside a Jupyter kernel (where figures and progress display inline)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config


def batch_run() -> bool:
    """True in a batch run (COURSE_BATCH=1, or any of `flag`'s spellings: `make course`, nbval): nothing transient."""
    return flag("COURSE_BATCH")


def cpu_cores() -> int:
    """The CPU cores this process may run on (its affinity where the OS has one, else the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
