"""Figures the lessons share: training curves, image grids, confusion matrices (PNG, labelled)."""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from .env import in_notebook

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def use_png() -> None:
    """Draw inline figures as PNG again (d2l switches them to SVG)."""
    if in_notebook():
        from matplotlib_inline.backend_inline import set_matplotlib_formats
        set_matplotlib_formats("png")


def plot_history(history: dict, title: str = "Training curves") -> plt.Figure:
    """Loss and accuracy per epoch, train against valid, side by side."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    epochs = history["epoch"]
    for ax, metric, label in zip(axes, ("loss", "acc"), ("loss", "accuracy")):
        for phase, style in (("train", "-o"), ("valid", "-s")):
            values = history.get(f"{phase}_{metric}") or []
            if any(v is not None for v in values):
                ax.plot(epochs[:len(values)], values, style, label=phase, markersize=4)
        ax.set(xlabel="epoch", ylabel=label, title=label)
        ax.grid(alpha=0.3)
        ax.legend()
    if history.get("best_epoch"):
        for ax in axes:
            ax.axvline(history["best_epoch"], color="grey", linestyle=":", label="best")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def denormalize(images: torch.Tensor, mean: Sequence[float] = IMAGENET_MEAN,
                std: Sequence[float] = IMAGENET_STD) -> torch.Tensor:
    """Undo Normalize(mean, std) so a batch of tensors shows as images in [0, 1]."""
    shape = (1, -1, 1, 1) if images.dim() == 4 else (-1, 1, 1)
    mean_t = torch.as_tensor(mean, dtype=images.dtype).view(shape)
    std_t = torch.as_tensor(std, dtype=images.dtype).view(shape)
    return (images * std_t + mean_t).clamp(0, 1)


def show_images(images: torch.Tensor, titles: Sequence[str] | None = None, mean: Sequence[float] | None = None,
                std: Sequence[float] | None = None, ncols: int = 8, title: str = "",
                title_colors: Sequence[str] | None = None) -> plt.Figure:
    """A grid of images from a (N, C, H, W) tensor, denormalised when mean/std are given."""
    images = images.detach().cpu().float()
    if mean is not None and std is not None:
        images = denormalize(images, mean, std)
    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.8 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = images[i].permute(1, 2, 0).numpy()
        ax.imshow(img.squeeze(-1) if img.shape[-1] == 1 else img, cmap="gray" if img.shape[-1] == 1 else None)
        if titles is not None:
            ax.set_title(titles[i], fontsize=8, color=title_colors[i] if title_colors else "black")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(targets: torch.Tensor, preds: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts of (true class, predicted class) pairs as a num_classes x num_classes tensor."""
    index = targets.long() * num_classes + preds.long()
    return torch.bincount(index, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def plot_confusion_matrix(targets: torch.Tensor, preds: torch.Tensor, class_names: Sequence[str],
                          title: str = "Confusion matrix") -> plt.Figure:
    """A labelled confusion matrix: rows are true classes, columns predicted, counts written in."""
    k = len(class_names)
    cm = confusion_matrix(targets, preds, k).numpy()
    size = max(4.0, 0.45 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    im = ax.imshow(cm, cmap="Blues")
    ax.set(xticks=range(k), yticks=range(k), xlabel="predicted class", ylabel="true class", title=title)
    ax.set_xticklabels(class_names, rotation=45, ha="right")
    ax.set_yticklabels(class_names)
    if k <= 20:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, cm[i, j], ha="center", va="center", fontsize=8,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="images")
    fig.tight_layout()
    return fig


class LivePlot:
    """Training curves that redraw in place in Jupyter after every epoch."""

    def __init__(self, title: str = "Training curves"):
        self.title, self.handle = title, None

    def update(self, history: dict) -> None:
        """Redraw the curves with the epochs so far."""
        from IPython.display import display
        fig = plot_history(history, self.title)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)


def bar_chart(values: Sequence[float], labels: Sequence[str], xlabel: str, title: str,
              ax: plt.Axes | None = None) -> plt.Axes:
    """A horizontal bar chart, largest bar on top."""
    ax = ax or plt.subplots(figsize=(5, 0.3 * len(values) + 1))[1]
    order = np.argsort(values)
    ax.barh([labels[i] for i in order], [values[i] for i in order], color="tab:blue")
    ax.set(xlabel=xlabel, title=title)
    return ax
