"""Running a submitted notebook: nbgrader's autograde with its kernel in a sandbox folder and environment.

The kernel starts in an empty folder, which is also its HOME and TMPDIR; the course's secrets (the gradebook, the
source notebooks, the notebook being graded, which holds the hidden tests now) are off the disk while it runs.
Student code still runs with the grader's rights: see README, "Grading".
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Dict, List, Unicode

from .course_folder import nbgrader_api


class SandboxedExecute(Execute):
    """nbgrader's Execute that runs the kernel in `sandbox`, with HOME, TMPDIR and caches inside it."""

    sandbox = Unicode("").tag(config=True)
    kernel_env = Dict({}).tag(config=True)
    secrets = List(Unicode()).tag(config=True)  # files and folders kept off the disk while student code runs

    def preprocess(
        self, nb: NotebookNode, resources: dict | None = None, km: object = None
    ) -> tuple[NotebookNode, dict]:
        """Execute the notebook with the secrets, and the notebook's own file, off the disk."""
        meta = (resources or {}).get("metadata", {})
        this = Path(meta.get("path", ".")) / f"{meta.get('name', '')}.ipynb"  # holds the hidden tests now
        kept = off_disk([*map(Path, self.secrets), this])
        try:
            return super().preprocess(nb, resources, km)
        finally:
            back_on_disk(kept)

    def _sandboxed(self, kwargs: dict) -> dict:
        """The kernel's start arguments with the sandbox as its folder and its environment."""
        return {**kwargs, "cwd": self.sandbox, "env": {**os.environ, **self.kernel_env}}

    def start_new_kernel(self, **kwargs: object) -> object:  # nbclient binds the sync one to its async one
        """Start the kernel in the sandbox."""
        return super().start_new_kernel(**self._sandboxed(kwargs))

    async def async_start_new_kernel(self, **kwargs: object) -> object:
        """Start the kernel in the sandbox (nbclient's async path)."""
        return await super().async_start_new_kernel(**self._sandboxed(kwargs))


def off_disk(paths: list[Path]) -> dict[Path, bytes]:
    """Read the files at (or under) `paths` into memory and delete them; back_on_disk() writes them again."""
    kept = {}
    for path in paths:
        for p in [path] if path.is_file() else sorted(path.rglob("*")) if path.is_dir() else []:
            if p.is_file():
                kept[p] = p.read_bytes()
                p.unlink()
    return kept


def back_on_disk(kept: dict[Path, bytes]) -> None:
    """Write the files off_disk() kept back where they were."""
    for p, data in kept.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def kernel_env(sandbox: Path, quick: bool) -> dict[str, str]:
    """The kernel's environment: home and temporary files in the sandbox; the course's data and weights as they are."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    torch_home = os.environ.get("TORCH_HOME") or Path(cache) / "torch"  # where torch.hub looks, without importing torch
    tmp = sandbox / ".tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(sandbox),
        "TMPDIR": str(tmp),
        "XDG_CACHE_HOME": str(sandbox / ".cache"),
        "XDG_CONFIG_HOME": str(sandbox / ".config"),
        "MPLCONFIGDIR": str(sandbox / ".matplotlib"),
        "IPYTHONDIR": str(sandbox / ".ipython"),
        "TORCH_HOME": str(torch_home),  # pretrained weights stay where they are
        "COURSE_QUICK": "1" if quick else "0",
        "COURSE_BATCH": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def autograde(course: Path, aid: str, sid: str, sandbox: Path, *, cell_timeout: int, quick: bool) -> tuple[bool, str]:
    """nbgrader autograde of one submitted notebook, then its HTML feedback: (whether it was graded, nbgrader's log)."""
    from nbgrader.converters import Autograde

    default = Autograde.class_traits()["autograde_preprocessors"].default()
    api = nbgrader_api(
        course,
        **{
            "Autograde.autograde_preprocessors": [SandboxedExecute if pp is Execute else pp for pp in default],
            "Execute.timeout": cell_timeout,
            "SandboxedExecute.sandbox": str(sandbox),
            "SandboxedExecute.kernel_env": kernel_env(sandbox, quick),
            "SandboxedExecute.secrets": [str(course / "gradebook.db"), str(course / "source")],
        },
    )
    with warnings.catch_warnings():
        # nbgrader's own noise, which says nothing to the instructor: SQLAlchemy's "not in session" when nbgrader
        # removes a submission it failed to grade, and nbformat's "missing an id" when it validates a notebook
        # between its preprocessors
        warnings.filterwarnings("ignore", r"Object of type <Submitted\w+> not in session", module="nbgrader")
        warnings.filterwarnings("ignore", "Cell is missing an id field", module="nbformat")
        result = api.autograde(aid, sid, force=True, create=True)
        log = result.get("log", "") + result.get("error", "")
        if result["success"]:
            feedback = api.generate_feedback(aid, sid, force=True)
            log += feedback.get("log", "") + feedback.get("error", "")
    return result["success"], log
