"""The HTML pages the tools write themselves, rendered from Jinja2 templates in tools/templates/ with autoescaping."""

from __future__ import annotations

from functools import cache

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from .paths import TEMPLATES


@cache
def environment() -> Environment:
    """The templates' environment: every value HTML-escaped, and a missing one an error."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(name: str, **context: object) -> str:
    """The template `name` (e.g. "feedback_index.html.j2") filled with `context`."""
    return environment().get_template(name).render(**context)
