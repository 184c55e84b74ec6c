"""The package's layers: a module of course_utils imports only the modules before it in CONTRIBUTING.md's order."""

from __future__ import annotations

import ast
import re

from course_utils import MODULES
from course_utils.env import REPO_ROOT as REPO

PACKAGE = REPO / "course_utils"
ORDER = MODULES  # the one list of the order, lowest first; CONTRIBUTING.md ("Where code goes") must state the same


def package_imports(source: str) -> set[str]:
    """The course_utils modules a module's source imports, at its top or inside functions, relatively or not."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.level == 1 or (node.module or "").startswith("course_utils")):
            module = (node.module or "").removeprefix("course_utils").lstrip(".")
            found |= {module.split(".")[0]} if module else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("course_utils.")}
    return found


def layering_errors(sources: dict[str, str], order: tuple[str, ...]) -> list[str]:
    """What breaks the rule: a module missing from the order, or an import of a module not before the importer."""
    errors = [
        f"{name}.py is not in the order: give it its place in ORDER and CONTRIBUTING.md"
        for name in sources
        if name not in order
    ]
    for name, source in sources.items():
        later = sorted(
            m for m in package_imports(source) if m in order and name in order and order.index(m) >= order.index(name)
        )
        errors += [f"{name} imports {module}, which comes after it (or is itself)" for module in later]
    return errors


def test_every_module_imports_only_those_before_it():
    sources = {path.stem: path.read_text() for path in sorted(PACKAGE.glob("*.py")) if path.stem != "__init__"}
    assert layering_errors(sources, ORDER) == []
    assert set(ORDER) <= set(sources), f"ORDER names modules that do not exist: {set(ORDER) - set(sources)}"


def test_the_check_sees_every_kind_of_import():
    sources = {
        "env": "import os\n",
        "metrics": "from .env import x\n",
        "engine": "def f():\n    from . import plots\n",  # lazy, and `from . import`
        "plots": "import course_utils.callbacks\nfrom course_utils.engine import fit\n",
        "extra": "",
    }
    assert layering_errors(sources, ("env", "metrics", "engine", "plots", "callbacks")) == [
        "extra.py is not in the order: give it its place in ORDER and CONTRIBUTING.md",
        "engine imports plots, which comes after it (or is itself)",
        "plots imports callbacks, which comes after it (or is itself)",
    ]


def test_contributing_states_the_same_order():
    text = (REPO / "CONTRIBUTING.md").read_text()
    sentence = re.search(r"one module per concern:(.*?)A module imports only those before it", text, re.S).group(1)
    stated = re.findall(r"`(\w+)`", re.sub(r"\([^)]*\)", "", sentence))  # the names, not what is in parentheses
    assert tuple(stated) == ORDER
