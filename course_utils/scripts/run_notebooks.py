"""Execute course notebooks in place, in the full profile unless COURSE_QUICK says quick: committed outputs are real.

Usage: python -m course_utils.scripts.run_notebooks [notebooks/NN_name.ipynb ...]   (every course notebook by default)

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

from ..course import notebook_paths
from ..env import quick_from_env
from ..files import atomic_write

KERNEL = "python3"  # ipykernel's kernel, the one setup installs into the course's environment


def installed_kernelspec(name: str = KERNEL) -> dict:
    """The notebook metadata of the installed kernel `name`, as JupyterLab writes it when it opens a notebook: with it
    committed, an untouched notebook opens unmodified."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(name)
    return {"display_name": spec.display_name, "language": spec.language, "name": name}


def run(path: Path) -> float:
    """Execute one notebook in its own folder, write it back atomically, and return the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=3600, kernel_name=KERNEL, resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    seconds = time.perf_counter() - start
    nb, _ = CoalesceStreamsPreprocessor().preprocess(nb, {})
    nb.metadata["kernelspec"] = installed_kernelspec()
    with atomic_write(path, "w", encoding="utf-8") as file:
        nbformat.write(nb, file)
    return seconds


def main(argv: list[str]) -> int:
    """Run each named notebook (every course notebook by default) and print its wall time."""
    os.environ["COURSE_BATCH"] = "1"  # no transient progress in committed outputs
    paths = [Path(a).resolve() for a in argv] or notebook_paths()
    profile = "quick" if quick_from_env() else "full"
    with tempfile.TemporaryDirectory(prefix="course-cache-") as cache:
        if profile == "full":
            os.environ["COURSE_CACHE"] = cache
        for path in paths:
            print(f"running {path.name} ({profile} profile) ...", flush=True)
            print(f"  {path.name}: {run(path):.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
