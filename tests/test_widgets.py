"""course_utils.widgets: sliders in a live front end, the function's own output everywhere else."""

from __future__ import annotations

import pytest

from course_utils import widgets


def size(n=28, k=5):
    print(f"output {n - k + 1}")


def test_outside_a_live_front_end_the_function_runs_once_at_the_starting_values(capsys):
    widgets.sliders(size, n=(30, 1, 64, "input n"), k=(3, 1, 11, "kernel k"))
    assert capsys.readouterr().out == "output 28\n"


def test_a_live_front_end_gets_the_widget_and_the_static_text_as_its_fallback(monkeypatch):
    pytest.importorskip("ipywidgets")
    shown = []
    monkeypatch.setattr(widgets, "in_notebook", lambda: True)
    monkeypatch.setattr(widgets, "batch_run", lambda: False)
    monkeypatch.setattr("IPython.display.display", lambda bundle, raw: shown.append(bundle))
    widgets.sliders(size, n=(30, 1, 64, "input n"), k=(3, 1, 11, "kernel k"))
    (bundle,) = shown
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == "output 28\n"


def test_a_slider_is_integer_for_whole_numbers_and_float_otherwise():
    pytest.importorskip("ipywidgets")
    assert type(widgets.slider(5, 1, 11, "k")).__name__ == "IntSlider"
    float_slider = widgets.slider(0.2, 0, 1, "slope", step=0.01)
    assert type(float_slider).__name__ == "FloatSlider"
    assert float_slider.step == 0.01
