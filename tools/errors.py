"""The errors a tool stops on with a message (its command line prints it and exits with status 1)."""

from __future__ import annotations


class ToolError(RuntimeError):
    """A build or a grading run that cannot go on: what is missing or failed, and what to do."""


class BuildError(ToolError):
    """The website or the decks cannot be built (a missing npm package, no notebooks, Sphinx failed)."""


class GradingError(ToolError):
    """nbgrader could not build the course folder, or there is nothing to grade."""
