"""Sliders on a lesson's function in a live Jupyter front end, with a static form for every other place."""

from __future__ import annotations

from collections.abc import Callable

from .env import batch_run, in_notebook


def slider(value: float, low: float, high: float, label: str, step: float | None = None) -> object:
    """An ipywidgets slider: integer when value, low and high are ints (and no step is given), else float."""
    import ipywidgets as widgets

    if step is None and all(isinstance(v, int) for v in (value, low, high)):
        return widgets.IntSlider(value, low, high, description=label)
    return widgets.FloatSlider(value=value, min=low, max=high, step=step or 0.1, description=label)


def sliders(function: Callable[..., object], **ranges: tuple) -> None:
    """`function` with a slider per argument, `name=(value, low, high, label[, step])`, in a live front end.

    Its output at the starting values is what a front end without widgets (RISE, a static page) shows instead,
    and all that a batch run (nbval, `make course`) or a plain Python session shows.
    """
    start = {name: spec[0] for name, spec in ranges.items()}
    if not (in_notebook() and not batch_run()):
        function(**start)
        return
    import ipywidgets as widgets
    from IPython.display import display
    from IPython.utils.capture import capture_output

    live = widgets.interactive(function, **{name: slider(*spec) for name, spec in ranges.items()})
    with capture_output() as static:  # what a front end without widgets shows: the text or figure at the start
        function(**start)
    fallback = {"text/plain": static.stdout} if static.stdout else {}
    for output in static.outputs:
        fallback.update(output.data)
    display({**live._repr_mimebundle_(), **fallback}, raw=True)
