"""What the grader runs inside a graded kernel (sent as code, never imported there): the state student code could bend.

tools.integrity sends this file's text and one call of `_course_grader_state`, once before the first cell and once
after the last; the grader compares the two answers itself, so what the kernel holds cannot rewrite the first one.
Every name is prefixed, and deleted after the call, so that the student's namespace is left as it was.
"""

from __future__ import annotations

import builtins
import json
import sys

_COURSE_GRADER_WATCHED = {  # attributes whose replacement changes what a cell's run reports, by owner
    "shell": (
        "showtraceback",
        "_showtraceback",
        "showsyntaxerror",
        "showindentationerror",
        "run_cell",
        "run_cell_async",
        "run_ast_nodes",
        "run_code",
        "_run_cell",
        "transform_cell",
        "transform_ast",
        "displayhook",
        "display_pub",
        "events",
        "InteractiveTB",
        "SyntaxTB",
        "input_transformer_manager",
    ),
    "kernel": ("do_execute", "send_response", "session"),
    "session": ("send",),
    "displayhook": ("__call__", "write_output_prompt", "compute_format_data", "write_format_data"),
    "display_pub": ("publish", "clear_output"),
    "tb": ("structured_traceback",),
    "sys": ("displayhook", "excepthook", "stdout", "stderr"),
}
_COURSE_GRADER_LISTS = ("input_transformers_post", "ast_transformers")
_COURSE_GRADER_HELPERS = ("check", "defined", "max_error", "missing_labels", "_one_line", "_register")
_COURSE_GRADER_TORCH = ("as_tensor", "Tensor.abs", "Tensor.max", "Tensor.to", "Tensor.detach", "Tensor.__sub__")


def _course_grader_identity(obj: object) -> int:
    """The id of `obj`, or of the function under a bound method (a new object at each access)."""
    return id(getattr(obj, "__func__", obj))


def _course_grader_owners(shell: object) -> dict[str, object]:
    """The objects whose attributes are watched, by the names _COURSE_GRADER_WATCHED uses."""
    kernel = getattr(shell, "kernel", None)
    return {
        "shell": shell,
        "kernel": kernel,
        "session": getattr(kernel, "session", None),
        "displayhook": getattr(shell, "displayhook", None),
        "display_pub": getattr(shell, "display_pub", None),
        "tb": getattr(shell, "InteractiveTB", None),
        "sys": sys,
    }


def _course_grader_allowed() -> set[int]:
    """Event callbacks the course's own libraries register, by identity: matplotlib's inline backend, and pyplot's
    redraw after each cell (registered when pyplot is imported in IPython)."""
    inline = sys.modules.get("matplotlib_inline.backend_inline")
    pyplot = sys.modules.get("matplotlib.pyplot")
    known = [(inline, "flush_figures"), (inline, "configure_once"), (pyplot, "_draw_all_if_interactive")]
    return {_course_grader_identity(getattr(module, name)) for module, name in known if hasattr(module, name)}


def _course_grader_helpers_patched(shell: object, checks_file: str) -> list[str]:
    """The check helpers, in any copy of course_utils.checks the kernel holds, not defined in checks_file."""
    package = sys.modules.get("course_utils")
    seen = [sys.modules.get("course_utils.checks"), getattr(package, "checks", None)]
    seen += [v for v in list(shell.user_ns.values()) if type(v) is type(sys)]
    found, copies = [], []
    while seen:
        module = seen.pop()
        if type(module) is not type(sys) or module.__name__ != "course_utils.checks" or module in copies:
            continue
        copies.append(module)
        seen.append(module.__dict__.get("_graded_replaced"))
        for name in _COURSE_GRADER_HELPERS:
            code = getattr(module.__dict__.get(name), "__code__", None)
            if getattr(code, "co_filename", None) != checks_file:
                found.append(f"course_utils.checks.{name} replaced")
    return sorted(set(found))


def _course_grader_torch_patched() -> list[str]:
    """torch functions the helpers call, replaced by Python code from outside torch."""
    torch = sys.modules.get("torch")
    if torch is None:
        return []
    found = []
    for path in _COURSE_GRADER_TORCH:
        obj = torch
        for part in path.split("."):
            obj = getattr(obj, part, None)
        file = getattr(getattr(obj, "__code__", None), "co_filename", None)
        if obj is None or (file is not None and not file.startswith(torch.__path__[0])):
            found.append(f"torch.{path} replaced")
    return found


def _course_grader_state(checks_file: str) -> dict[str, object]:
    """The identities of the watched attributes, builtins, event callbacks and transformers; what is wrong outright."""
    from IPython import get_ipython

    shell = get_ipython()
    state: dict[str, object] = {}
    for owner_name, owner in _course_grader_owners(shell).items():
        for name in _COURSE_GRADER_WATCHED[owner_name]:
            state[f"{owner_name}.{name}"] = _course_grader_identity(getattr(owner, name, None))
    for name, value in vars(builtins).items():
        state[f"builtins.{name}"] = _course_grader_identity(value)
    allowed = _course_grader_allowed()
    for event, callbacks in shell.events.callbacks.items():
        state[f"event {event}"] = [i for i in map(_course_grader_identity, callbacks) if i not in allowed]
    for name in _COURSE_GRADER_LISTS:
        state[name] = [_course_grader_identity(t) for t in getattr(shell, name, [])]
    manager = shell.input_transformer_manager
    for name in ("cleanup_transforms", "line_transforms", "token_transformers"):
        state[name] = [_course_grader_identity(t) for t in getattr(manager, name, [])]
    state["sys.gettrace"], state["sys.getprofile"] = id(sys.gettrace()), id(sys.getprofile())
    problems = _course_grader_helpers_patched(shell, checks_file) + _course_grader_torch_patched()
    handled = [e for e in shell.custom_exceptions if getattr(e, "__module__", "") != "course_utils.checks"]
    problems += [f"a custom handler of {getattr(e, '__name__', e)!s} exceptions" for e in handled]
    return {"state": state, "problems": problems}


def _course_grader_report(nonce: str, checks_file: str) -> None:
    """Print the state as one line that starts with `nonce`, for the grader to find among the kernel's output."""
    print(nonce + json.dumps(_course_grader_state(checks_file)))
