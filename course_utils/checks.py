"""The checks after each exercise: ✔ and why, or one sentence on what is wrong (never the answer itself).

A check cell calls `check(condition, right, wrong)`. When the condition fails the cell stops with
`CheckFailed`, which Jupyter shows as one red line (no traceback) and nbgrader scores as 0 points.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import torch


class CheckFailed(AssertionError):
    """An answer that does not hold yet; the message says what is wrong in one sentence."""


def check(ok: object, right: str | None, wrong: str) -> None:
    """Print ``✔ right`` when `ok` holds (nothing when `right` is None); otherwise stop the cell with ``✘ wrong``."""
    if not bool(ok):
        raise CheckFailed(wrong)
    if right is not None:
        print(f"✔ {right}")


def defined(namespace: Mapping[str, object], *names: str, expected: type | tuple[type, ...] | None = None) -> None:
    """Stop with one line naming the first of `names` not defined yet, or (given `expected`) not of that type."""
    for name in names:
        if name not in namespace:
            raise CheckFailed(f"`{name}` is not defined yet: write it in the answer cell above, then run that cell")
        if expected is not None and not isinstance(namespace[name], expected):
            raise CheckFailed(
                f"`{name}` should be {_kind(expected)}, but yours is {_kind(type(namespace[name]))}: "
                "check what the answer cell above assigns to it, then run that cell again"
            )


def _kind(types: type | tuple[type, ...]) -> str:
    """A type or types as a student reads them: "a dict", "a float or an int"."""
    names = [t.__name__ for t in (types if isinstance(types, tuple) else (types,))]
    return " or ".join(f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}" for name in names)


def max_error(a: object, b: object) -> float:
    """The largest absolute difference between two numbers or tensors (inf when their shapes differ)."""
    a, b = (torch.as_tensor(x).detach().to(torch.float64) for x in (a, b))
    if a.shape != b.shape:
        return float("inf")
    return float((a - b).abs().max()) if a.numel() else 0.0


@contextmanager
def forbidden(advice: str, *targets: tuple[object, str]) -> Iterator[None]:
    """Within the block, calling any target (an owner and an attribute's name) stops the check with `advice`."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise CheckFailed(advice)

    originals = [(owner, name, getattr(owner, name)) for owner, name in targets]
    try:
        for owner, name, _ in originals:
            setattr(owner, name, refuse)
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def missing_labels(ax: object) -> list[str]:
    """What a matplotlib Axes still lacks of a title, an x label and a y label (empty when it has all three)."""
    parts = {"a title": ax.get_title, "an x-axis label": ax.get_xlabel, "a y-axis label": ax.get_ylabel}
    return [name for name, get in parts.items() if not get().strip()]


def _one_line(shell, etype, value, tb, tb_offset=None) -> list[str]:
    """IPython's display of a CheckFailed: a red ✘ and the message, no traceback."""
    stb = [f"\x1b[0;31m✘\x1b[0m {value}"]
    shell._showtraceback(etype, value, stb)  # sends the error output (IPython leaves that to the handler)
    return stb


def _register() -> None:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with Jupyter
        return
    shell = get_ipython()
    if shell is not None:
        shell.set_custom_exc((CheckFailed,), _one_line)


_register()
