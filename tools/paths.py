"""Where the tools find the course and write what they build, from the repository's one root (course_utils.env)."""

from __future__ import annotations

from course_utils.course import COURSE_TOML, NOTEBOOKS
from course_utils.env import REPO_ROOT

ROOT = REPO_ROOT
TOOLS = ROOT / "tools"
NODE_MODULES = TOOLS / "node_modules"
TEMPLATES = TOOLS / "templates"
NBGRADER_CONFIG = TOOLS / "nbgrader_config.py"
BUILD = ROOT / "_build"

__all__ = ["BUILD", "COURSE_TOML", "NBGRADER_CONFIG", "NODE_MODULES", "NOTEBOOKS", "ROOT", "TEMPLATES", "TOOLS"]
