"""The grader's own record of a notebook's run: each cell's execute status as the kernel replied and errors as they
arrived, check cells run with fresh helpers (tools.integrity), and the kernel's state checked around the notebook.

What the notebook holds afterwards is what the kernel's hooks left in it (a hook can clear a cell's outputs, or mark
a failed run as a success in the reply); this record is taken by the grader while messages arrive and is written
into the graded notebook's metadata (outcomes.GRADER_META), which no kernel can reach.
"""

from __future__ import annotations

from jupyter_core.utils import run_sync
from nbformat import NotebookNode

from .integrity import fresh_checks_line, integrity_problems, new_nonce, parse_report, probe_code, uses_checks


def is_check(cell: NotebookNode) -> bool:
    """Whether a cell is an autograded check cell (graded, not a solution)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and bool(meta.get("grade")) and not meta.get("solution")


class VerifiedRun:
    """A mixin for nbclient's NotebookClient (before it in the bases) that keeps the grader's record of the run."""

    def start_record(self) -> None:
        """A new record, before the notebook runs (again)."""
        self.statuses: dict[int, str] = {}
        self.errors: dict[int, list[str]] = {}
        self.before: dict | None = None
        self.after: dict | None = None
        self.nonce = new_nonce()

    def record(self, nb: NotebookNode) -> dict:
        """The record, by check cell's grade_id, and what the integrity check found."""
        checks = {}
        for index, cell in enumerate(nb.cells):
            if is_check(cell):
                checks[cell.metadata.nbgrader["grade_id"]] = {
                    "status": self.statuses.get(index, "did not run"),
                    "errors": self.errors.get(index, []),
                }
        return {"checks": checks, "integrity": integrity_problems(self.before, self.after)}

    def note_output(self, msg: dict, cell_index: int) -> None:
        """An error or stderr output of cell `cell_index`, as it arrives."""
        content, kind = msg.get("content", {}), msg.get("msg_type") or msg.get("header", {}).get("msg_type")
        if kind == "error":
            self.errors.setdefault(cell_index, []).append(f"{content.get('ename')}: {content.get('evalue')}"[:300])
        elif kind == "stream" and content.get("name") == "stderr":
            text = str(content.get("text", "")).strip()[:200]
            self.errors.setdefault(cell_index, []).append(f"the check wrote to stderr: {text}")

    def on_cell_executed(self, **kwargs: object) -> None:
        """nbgrader's handling of a cell's reply, and its status as the kernel sent it."""
        super().on_cell_executed(**kwargs)
        self.statuses[kwargs["cell_index"]] = kwargs["execute_reply"]["content"].get("status", "")

    async def report(self) -> dict | None:
        """The kernel's report of its state (tools.in_kernel), run silently, or None when it did not come."""
        out: list[str] = []

        def keep(msg: dict) -> None:
            if msg["header"]["msg_type"] == "stream" and msg["content"].get("name") == "stdout":
                out.append(msg["content"]["text"])

        try:
            reply = await self.kc.execute_interactive(
                probe_code(self.nonce), silent=True, store_history=False, output_hook=keep, timeout=self.timeout
            )
        except Exception:  # a kernel that died, hung or was stopped reports nothing
            return None
        return parse_report("".join(out), self.nonce) if reply["content"]["status"] == "ok" else None

    def preprocess_cell(self, cell: NotebookNode, resources: dict, index: int) -> tuple[NotebookNode, dict]:
        """nbconvert's run of one cell; the state reported before the first, a check cell run with fresh helpers,
        the state reported again after the last."""
        if index == 0:
            self.before = run_sync(self.report)()
        source = cell.source
        if is_check(cell) and uses_checks(source):
            cell.source = fresh_checks_line() + source  # what runs; the notebook keeps the cell as released
        try:
            done = super().preprocess_cell(cell, resources, index)
        finally:
            cell.source = source
        if index == len(self.nb.cells) - 1:
            self.after = run_sync(self.report)()
        return done
