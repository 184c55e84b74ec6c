"""Points only for work done: check helpers the student cannot patch, and the kernel's state checked before and after.

A check cell of the course imports its helpers with `from course_utils.checks import ...`, which reads the module
object in `sys.modules`: the student's code can replace `check` or `max_error` there. The grader runs each such cell
with a first line that puts a fresh copy of the module in its place, made from the text of checks.py that the
grader read itself (no file the kernel could change, and none of the import machinery the kernel could patch: only
`compile` and `exec`, which the state below watches). Around the whole notebook, tools.in_kernel reports the
identities of what decides how a cell's run is reported (tracebacks, display, event callbacks, transformers,
builtins); the grader compares the report after the last cell with the one before the first, and any difference
is a notebook that needs review.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import course_utils.checks

CHECKS_FILE = str(Path(course_utils.checks.__file__).resolve())
IN_KERNEL = Path(__file__).with_name("in_kernel.py")


def fresh_checks_line() -> str:
    """One line of code that puts a fresh course_utils.checks, made from the grader's copy, into sys.modules."""
    text = Path(CHECKS_FILE).read_text(encoding="utf-8")
    return (
        "import sys as _cg_sys; _cg_m = type(_cg_sys)('course_utils.checks'); "
        f"_cg_m.__file__ = {CHECKS_FILE!r}; _cg_m._graded_replaced = _cg_sys.modules.get('course_utils.checks'); "
        f"exec(compile({text!r}, {CHECKS_FILE!r}, 'exec', dont_inherit=True), _cg_m.__dict__); "
        "_cg_sys.modules['course_utils.checks'] = _cg_m; del _cg_sys, _cg_m\n"
    )


def uses_checks(source: str) -> bool:
    """Whether a check cell's code imports the course's check helpers."""
    return "course_utils" in source


def new_nonce() -> str:
    """A marker the kernel's own output cannot know before the grader sends it."""
    return f"course-grader-{secrets.token_hex(16)}:"


def probe_code(nonce: str) -> str:
    """The code that prints the kernel's state after `nonce` (tools.in_kernel), then removes its own names."""
    lines = [line for line in IN_KERNEL.read_text(encoding="utf-8").splitlines() if not line.startswith("from __f")]
    defined = sorted(
        {line.split()[1].split("(")[0] for line in lines if line.startswith(("def _course_grader", "import "))}
        | {line.split()[0] for line in lines if line.startswith("_COURSE_GRADER_")}
    )
    call = f"_course_grader_report({nonce!r}, {CHECKS_FILE!r})"
    return "\n".join([*lines, call, f"del {', '.join(defined)}", ""])


def parse_report(stdout: str | None, nonce: str) -> dict | None:
    """The kernel's one report in its output, or None when there is none, or more than one."""
    found = [line[len(nonce) :] for line in (stdout or "").splitlines() if line.startswith(nonce)]
    if len(found) != 1:
        return None
    try:
        report = json.loads(found[0])
    except ValueError:
        return None
    return report if isinstance(report, dict) and isinstance(report.get("state"), dict) else None


def integrity_problems(before: dict | None, after: dict | None) -> list[str]:
    """What the kernel's report after the last cell shows changed since the one before the first cell."""
    if before is None or after is None:
        return ["the grader's integrity check could not run in the kernel"]
    start, end = before["state"], after["state"]
    changed = [key for key in start if end.get(key) != start[key]]
    problems = [str(p) for p in after.get("problems", [])]
    problems += [f"{key} added" if key.startswith("event ") else f"{key} replaced" for key in changed]
    return problems
