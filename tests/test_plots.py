"""Figures: titled, axes labelled, whole-number epochs, images denormalised, confusion counts written in."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
import torch

from course_utils import plots


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_history_has_labelled_axes_and_whole_number_epochs():
    history = {
        "epoch": [1, 2, 3],
        "train_loss": [1.0, 0.5, 0.4],
        "valid_loss": [1.1, 0.7, 0.8],
        "train_acc": [0.5, 0.8, 0.9],
        "valid_acc": [0.4, 0.7, 0.6],
        "best_epoch": 2,
    }
    fig = plots.plot_history(history, "curves")
    assert fig._suptitle.get_text() == "curves"
    for ax, label in zip(fig.axes, ("loss", "accuracy"), strict=True):
        assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("epoch", label, label)
        fig.canvas.draw()
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks
        assert all(float(t).is_integer() for t in ticks)
        assert [line.get_label() for line in ax.get_lines()] == ["train", "valid", "best epoch"]


def test_history_without_valid_draws_train_only():
    fig = plots.plot_history(
        {"epoch": [1], "train_loss": [1.0], "valid_loss": [None], "train_acc": [0.5], "valid_acc": [None]}
    )
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["train"]


def test_denormalize_undoes_normalize():
    images = torch.rand(2, 3, 4, 4)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.3, 0.4)
    normalised = (images - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    assert torch.allclose(plots.denormalize(normalised, mean, std), images, atol=1e-6)


def test_show_images_titles_each_image_and_hides_axes():
    fig = plots.show_images(torch.rand(3, 1, 8, 8), titles=["a", "b", "c"], ncols=2, title="grid")
    shown = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in shown] == ["a", "b", "c"]
    assert len(fig.axes) == 4  # 2 x 2, one left empty
    assert not any(ax.axison for ax in fig.axes)
    assert fig._suptitle.get_text() == "grid"


def titles_touching_other_images(fig: plt.Figure) -> list[str]:
    """The titles whose drawn box overlaps the image of another axes (matplotlib's renderer, after layout)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    shown = [ax for ax in fig.axes if ax.images]
    touching = []
    for ax in shown:
        box = ax.title.get_window_extent(renderer)
        if any(box.overlaps(other.get_window_extent(renderer)) for other in shown if other is not ax):
            touching.append(ax.get_title())
    return touching


@pytest.mark.parametrize(
    ("shape", "ncols", "label"),
    [((1, 28, 28), 8, "T-shirt/top"), ((1, 28, 28), 8, "Ankle boot\n→ Sneaker"), ((3, 64, 64), 6, "augmented 1"),
     ((3, 64, 64), 4, "golden retriever\n0.93"), ((3, 64, 64), 8, "cat 0.97\n(true: dog)")],
)  # fmt: skip
def test_show_images_keeps_every_title_off_the_other_rows_images(shape, ncols, label):
    """Two-row grids (notebooks 03, 05, 06): no title, of one line or two, touches the image of the row above."""
    fig = plots.show_images(torch.rand(2 * ncols, *shape), [label] * (2 * ncols), ncols=ncols, title="grid")
    assert not titles_touching_other_images(fig)


def test_confusion_matrix_plot_writes_the_counts():
    targets, preds = torch.tensor([0, 0, 1, 2]), torch.tensor([0, 1, 1, 2])
    fig = plots.plot_confusion_matrix(targets, preds, ["cat", "dog", "cup"], title="cm")
    ax = fig.axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("predicted class", "true class", "cm")
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog", "cup"]
    assert sorted(int(t.get_text()) for t in ax.texts) == [0, 0, 0, 0, 0, 1, 1, 1, 1]


def _texts_pt(fig) -> list[float]:
    """The size in points of every visible, non-empty text of a figure."""
    from matplotlib.text import Text

    return [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


@pytest.mark.parametrize("draw", ["history", "grid", "wide grid", "confusion"])
def test_course_figures_fit_the_widest_figure_and_draw_no_text_below_10_pt(draw):
    """The figure convention (tools/figures.py measures it where figures are shown): at most MAX_WIDTH_IN wide, text
    at matplotlib's default 10 pt or larger."""
    images = torch.rand(24, 1, 28, 28)
    fig = {
        "history": lambda: plots.plot_history(
            {"epoch": [1, 2], "train_loss": [1.0, 0.5], "valid_loss": [1.1, 0.7], "train_acc": [0.5, 0.8]}
        ),
        "grid": lambda: plots.show_images(images[:16], [f"class {i}" for i in range(16)]),
        "wide grid": lambda: plots.show_images(images, [f"c{i}" for i in range(24)], ncols=12),
        "confusion": lambda: plots.plot_confusion_matrix(
            torch.arange(30) % 30, torch.arange(30) % 30, [str(i) for i in range(30)]
        ),
    }[draw]()
    assert fig.get_figwidth() <= plots.MAX_WIDTH_IN + 1e-9
    assert min(_texts_pt(fig)) >= 10
    plt.close(fig)


def test_explore_draws_the_defaults_once_where_no_widget_front_end_runs(monkeypatch):
    calls = []
    monkeypatch.setattr(plots, "in_notebook", lambda: False)
    plots.explore(lambda a, b: calls.append((a, b)), a=plots.Slider(2, 0, 5), b=plots.Slider(0.5, 0.0, 1.0, 0.1))
    assert calls == [(2, 0.5)]


def test_explore_shows_live_sliders_with_the_static_output_beside_them(monkeypatch):
    pytest.importorskip("ipywidgets")
    shown = []
    monkeypatch.setattr(plots, "in_notebook", lambda: True)
    monkeypatch.setattr(plots, "batch_run", lambda: False)
    monkeypatch.setattr("IPython.display.display", lambda bundle, raw: shown.append(bundle))
    plots.explore(
        lambda n, s: print(f"n={n} s={s}"), n=plots.Slider(3, 1, 9, label="size"), s=plots.Slider(0.5, 0, 1, 0.1)
    )
    (bundle,) = shown
    assert "application/vnd.jupyter.widget-view+json" in bundle  # the sliders, for a live front end
    assert bundle["text/plain"] == "n=3 s=0.5\n"  # the defaults' output, for any other


def test_static_and_live_keeps_a_figure_beside_the_widget():
    class Figure:
        data = {"image/png": "PNG", "text/plain": "<Figure>"}

    bundle = plots.static_and_live([Figure()], "", {"application/vnd.jupyter.widget-view+json": {}, "text/plain": "w"})
    assert bundle == {"image/png": "PNG", "text/plain": "w", "application/vnd.jupyter.widget-view+json": {}}
