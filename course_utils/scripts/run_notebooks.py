"""Execute course notebooks in place (the full profile unless COURSE_QUICK=1), so committed outputs come from a real run.

Usage: python scripts/run_notebooks.py [notebooks/NN_name.ipynb ...]   (all of notebooks/ by default)

The full profile runs with an empty feature cache ($COURSE_CACHE set to a fresh temporary folder), so the committed
outputs show feature extraction as it was measured, never a cache left by an earlier run.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert.preprocessors import CoalesceStreamsPreprocessor

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def run(path: Path) -> float:
    """Execute one notebook in its own folder, write it back, and return the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=3600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})
    tmp = path.with_suffix(".ipynb.tmp")
    nbformat.write(nb, tmp)
    os.replace(tmp, path)
    return seconds


def main(argv: list[str]) -> int:
    """Run each named notebook (all by default) and print its wall time."""
    os.environ["COURSE_BATCH"] = "1"
    paths = [Path(a).resolve() for a in argv] or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    profile = "quick" if os.environ.get("COURSE_QUICK") == "1" else "full"
    with tempfile.TemporaryDirectory(prefix="course-cache-") as cache:
        if profile == "full":
            os.environ["COURSE_CACHE"] = cache
        for path in paths:
            print(f"running {path.name} ({profile} profile) ...", flush=True)
            print(f"  {path.name}: {run(path):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
