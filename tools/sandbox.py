"""Running a submitted notebook: nbgrader's autograde, its kernel in a sandbox (tools.bubblewrap) and a scratch folder.

The kernel starts in an empty scratch folder, which is also its HOME and TMPDIR; under bubblewrap it sees nothing else
it can write, and talks to the grader over IPC sockets in that folder (its network namespace has a loopback of its
own, which the grader cannot reach). The course's secrets (the gradebook, the source notebooks, the notebook being
graded, which holds the hidden tests now) are off the disk while it runs as well. Without bubblewrap (--no-sandbox)
student code runs with the grader's rights: see README, "Grading a class".
"""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

import zmq
from jupyter_client.manager import AsyncKernelManager
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Any, Dict, Integer, List, Unicode

from .bubblewrap import Bubblewrap
from .course_folder import nbgrader_api
from .feedback import OneLineErrors
from .outcomes import GRADER_META
from .verified import VerifiedRun

KERNEL_FOLDER = ".kernel"  # in the scratch folder: the connection file and the kernel's IPC sockets
PASSED_ON = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ")  # what a sandboxed kernel gets of the grader's environment


class SandboxedKernelManager(AsyncKernelManager):
    """jupyter_client's kernel manager with the kernel's command line wrapped in bubblewrap (`jail`)."""

    jail = Any(None)  # a Bubblewrap
    scratch = Unicode("")
    max_message = Integer(0)  # bytes: a larger message from the kernel is dropped by zmq, never read into memory

    def client(self, **kwargs: object) -> object:
        """A client whose sockets drop any message from the kernel over `max_message` bytes."""
        kc = super().client(**kwargs)
        if self.max_message:
            kc.context.setsockopt(zmq.MAXMSGSIZE, self.max_message)
        return kc

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        """The kernel's command line inside the sandbox; interrupts go as messages (signals stop at its session)."""
        argv = super().format_kernel_cmd(extra_arguments)
        if self.jail is None:
            return argv
        self.kernel_spec.interrupt_mode = "message"
        return self.jail.command(argv, Path(self.scratch))

    def write_connection_file(self, **kwargs: object) -> None:
        """Write the connection file, then hand the scratch folder with it to the user the kernel runs as."""
        super().write_connection_file(**kwargs)
        if self.jail is not None:
            self.jail.prepare(Path(self.scratch))


class SandboxedExecute(VerifiedRun, Execute):
    """nbgrader's Execute that runs the kernel in `sandbox`, with HOME, TMPDIR and caches inside it, and keeps the
    grader's own record of the run (tools.verified)."""

    sandbox = Unicode("").tag(config=True)
    kernel_env = Dict({}).tag(config=True)
    secrets = List(Unicode()).tag(config=True)  # files and folders kept off the disk while student code runs
    jail = Any(None, allow_none=True).tag(config=True)  # a Bubblewrap, or None for no sandbox (--no-sandbox)
    max_output = Integer(4 * 2**20).tag(config=True)  # bytes of output kept of one notebook; the rest is dropped
    output_bytes = Integer(0)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**{**kwargs, "kernel_manager_class": SandboxedKernelManager})  # nbgrader's sets its own

    def create_kernel_manager(self) -> AsyncKernelManager:
        """nbclient's kernel manager; in a sandbox, on IPC sockets in the scratch folder."""
        km = super().create_kernel_manager()
        if self.jail is not None:
            folder = Path(self.sandbox) / KERNEL_FOLDER
            folder.mkdir(exist_ok=True)
            km.jail, km.scratch, km.transport = self.jail, self.sandbox, "ipc"
            km.connection_file, km.ip = str(folder / "kernel.json"), str(folder / "ipc")
        km.max_message = self.max_output
        return km

    def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> NotebookNode | None:
        """nbclient's handling of one output, counted in bytes; past `max_output` it is dropped."""
        self.output_bytes += len(str(msg.get("content", "")))
        self.note_output(msg, cell_index)
        if self.output_bytes > self.max_output:
            return None
        return super().output(outs, msg, display_id, cell_index)

    def preprocess(
        self, nb: NotebookNode, resources: dict | None = None, km: object = None
    ) -> tuple[NotebookNode, dict]:
        """Execute the notebook with the secrets, and the notebook's own file, off the disk."""
        meta = (resources or {}).get("metadata", {})
        this = Path(meta.get("path", ".")) / f"{meta.get('name', '')}.ipynb"  # holds the hidden tests now
        kept = off_disk([*map(Path, self.secrets), this])
        self.output_bytes = 0
        self.start_record()
        try:
            nb, resources = super().preprocess(nb, resources, km)
        finally:
            back_on_disk(kept)
        nb.metadata[GRADER_META] = {"output_bytes": self.output_bytes, "max_output": self.max_output, **self.record(nb)}
        return nb, resources

    def _sandboxed(self, kwargs: dict) -> dict:
        """The kernel's start arguments with the sandbox as its folder and its environment."""
        if self.jail is None:
            return {**kwargs, "cwd": self.sandbox, "env": {**os.environ, **self.kernel_env}}
        base = {k: v for k, v in os.environ.items() if k in PASSED_ON}
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}  # what it writes to fd 1 and 2 is lost
        return {**kwargs, **quiet, "cwd": self.sandbox, "env": {**base, **self.kernel_env}}

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
    """The kernel's environment: home, temporary files and caches in the sandbox; the data and weights as they are."""
    import course_utils
    from course_utils.env import data_root

    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    torch_home = os.environ.get("TORCH_HOME") or Path(cache) / "torch"  # where torch.hub looks, without importing torch
    tmp = sandbox / ".tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        "HOME": str(sandbox),
        "TMPDIR": str(tmp),
        "XDG_CACHE_HOME": str(sandbox / ".cache"),
        "COURSE_CACHE": str(sandbox / ".cache" / "course"),  # the datasets' folder is read-only in the sandbox
        "COURSE_DATA": str(data_root()),
        "PYTHONPATH": str(Path(course_utils.__file__).resolve().parent.parent),
        "XDG_CONFIG_HOME": str(sandbox / ".config"),
        "MPLCONFIGDIR": str(sandbox / ".matplotlib"),
        "IPYTHONDIR": str(sandbox / ".ipython"),
        "TORCH_HOME": str(torch_home),  # pretrained weights stay where they are
        "COURSE_QUICK": "1" if quick else "0",
        "COURSE_BATCH": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def autograde(
    course: Path, aid: str, sid: str, sandbox: Path, *, cell_timeout: int, quick: bool, jail: Bubblewrap | None
) -> tuple[bool, str]:
    """nbgrader autograde of one submitted notebook, then its HTML feedback: (whether it was graded, nbgrader's log)."""
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import ClearHiddenTests, GetGrades

    default = Autograde.class_traits()["autograde_preprocessors"].default()
    api = nbgrader_api(
        course,
        **{
            "Autograde.autograde_preprocessors": [SandboxedExecute if pp is Execute else pp for pp in default],
            "Execute.timeout": cell_timeout,
            "SandboxedExecute.sandbox": str(sandbox),
            "SandboxedExecute.kernel_env": kernel_env(sandbox, quick),
            "SandboxedExecute.jail": jail,
            # the feedback: no hidden test (nbgrader keeps them on purpose, jupyter/nbgrader#917), HTML sanitised
            "GenerateFeedback.preprocessors": [GetGrades, ClearHiddenTests, OneLineErrors, CSSHTMLHeaderPreprocessor],
            "HTMLExporter.sanitize_html": True,
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
