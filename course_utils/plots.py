"""Figures the lessons share: training curves, image grids, confusion matrices (PNG, titled, axes labelled), sliders."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
from matplotlib.ticker import MaxNLocator

from .env import batch_run, in_notebook
from .metrics import confusion_matrix

MAX_WIDTH_IN = 10.0  # the widest figure the course draws: 1000 px at 100 dpi, readable in JupyterLab, the site, a deck


def use_png() -> None:
    """Draw inline figures as PNG again (d2l switches them to SVG)."""
    if in_notebook():
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        set_matplotlib_formats("png")


def plot_history(history: dict, title: str = "Training curves") -> plt.Figure:
    """Loss and accuracy per epoch, train against valid, side by side, with the best epoch marked if known."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    epochs = history["epoch"]
    for ax, metric, label in zip(axes, ("loss", "acc"), ("loss", "accuracy"), strict=True):
        for phase, style in (("train", "-o"), ("valid", "-s")):
            values = history.get(f"{phase}_{metric}") or []
            if any(v is not None for v in values):
                ax.plot(epochs[: len(values)], values, style, label=phase, markersize=4)
        if history.get("best_epoch"):
            ax.axvline(history["best_epoch"], color="grey", linestyle=":", label="best epoch")
        ax.set(xlabel="epoch", ylabel=label, title=label)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def denormalize(images: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Undo Normalize(mean, std) so a batch of tensors shows as images in [0, 1]."""
    shape = (1, -1, 1, 1) if images.dim() == 4 else (-1, 1, 1)
    mean_t = torch.as_tensor(mean, dtype=images.dtype).view(shape)
    std_t = torch.as_tensor(std, dtype=images.dtype).view(shape)
    return (images * std_t + mean_t).clamp(0, 1)


def show_images(
    images: torch.Tensor,
    titles: Sequence[str] | None = None,
    *,
    mean: Sequence[float] | None = None,
    std: Sequence[float] | None = None,
    ncols: int = 8,
    title: str = "",
    title_colors: Sequence[str] | None = None,
) -> plt.Figure:
    """A grid of images from a (N, C, H, W) tensor, denormalised when mean/std are given."""
    images = images.detach().cpu().float()
    if mean is not None and std is not None:
        images = denormalize(images, mean, std)
    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    side = min(1.6, MAX_WIDTH_IN / ncols)  # each image's width in inches: the grid never wider than MAX_WIDTH_IN
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(side * ncols, (side + 0.3) * nrows), squeeze=False, layout="constrained"
    )
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i].permute(1, 2, 0).numpy()
        gray = img.shape[-1] == 1
        ax.imshow(img.squeeze(-1) if gray else img, cmap="gray" if gray else None)
        if titles is not None:
            ax.set_title(titles[i], fontsize=10, color=title_colors[i] if title_colors else "black")
    if title:
        fig.suptitle(title)
    return fig


def plot_confusion_matrix(
    targets: torch.Tensor, preds: torch.Tensor, class_names: Sequence[str], title: str = "Confusion matrix"
) -> plt.Figure:
    """A labelled confusion matrix: rows are true classes, columns predicted, counts written in (up to 20 classes)."""
    k = len(class_names)
    cm = confusion_matrix(targets, preds, k).numpy()
    size = min(MAX_WIDTH_IN, max(4.0, 0.45 * k + 2))
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    im = ax.imshow(cm, cmap="Blues")
    ax.set(xticks=range(k), yticks=range(k), xlabel="predicted class", ylabel="true class", title=title)
    ax.set_xticklabels(class_names, rotation=45, ha="right")
    ax.set_yticklabels(class_names)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                color = "white" if cm[i, j] > cm.max() / 2 else "black"
                ax.text(j, i, cm[i, j], ha="center", va="center", fontsize=10, color=color)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="images")
    fig.tight_layout()
    return fig


@dataclass(frozen=True)
class Slider:
    """One slider of `explore`: its start value, range, step and label (whole numbers give an integer slider)."""

    value: float
    low: float
    high: float
    step: float = 1
    label: str = ""


def explore(draw: Callable[..., object], **sliders: Slider) -> None:
    """Sliders that rerun `draw` in a live Jupyter front end; elsewhere (tests, site, RISE) `draw` at its defaults."""
    defaults = {name: s.value for name, s in sliders.items()}
    if not in_notebook() or batch_run():
        draw(**defaults)
        return
    import ipywidgets
    from IPython.display import display
    from IPython.utils.capture import capture_output

    def widget(s: Slider, name: str) -> ipywidgets.Widget:
        whole = all(float(v).is_integer() for v in (s.value, s.low, s.high, s.step))
        kind = ipywidgets.IntSlider if whole else ipywidgets.FloatSlider
        number = int if whole else float
        args = {k: number(getattr(s, k)) for k in ("value", "step")} | {"min": number(s.low), "max": number(s.high)}
        return kind(description=s.label or name, **args)

    live = ipywidgets.interactive(draw, **{name: widget(s, name) for name, s in sliders.items()})
    with capture_output() as static:  # what a front end without widgets shows instead (RISE, a reopened notebook)
        draw(**defaults)
    display(static_and_live(static.outputs, static.stdout, live._repr_mimebundle_()), raw=True)


def static_and_live(outputs: Sequence[object], stdout: str, live: dict) -> dict:
    """One display bundle: the widget's view for a live front end, the static figure or text for any other."""
    bundle = dict(outputs[0].data) if outputs else {}
    bundle.update(live)
    if not outputs and stdout:
        bundle["text/plain"] = stdout
    return bundle
