"""Measuring a classifier: predictions, top-k and per-class accuracy, confusion counts, and evaluate() on a loader.

Every function that compares takes the true classes first, as scikit-learn does: (targets, preds) or (targets, outputs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch import nn


def predictions(outputs: torch.Tensor) -> torch.Tensor:
    """Class predictions from logits or log-probabilities; for one-logit outputs, logit > 0."""
    if outputs.dim() == 1 or outputs.size(1) == 1:
        return (outputs.reshape(-1) > 0).long()
    return outputs.argmax(1)


def topk_accuracy(targets: torch.Tensor, outputs: torch.Tensor, ks: Iterable[int] = (1, 5)) -> dict[int, float]:
    """Fraction of rows whose target is among the k highest outputs, for each k up to the number of classes."""
    if targets.dim() != 1 or outputs.dim() != 2:
        raise ValueError(
            f"topk_accuracy(targets, outputs): targets of shape (N,) and outputs of shape (N, classes), "
            f"got {tuple(targets.shape)} and {tuple(outputs.shape)}"
        )
    ks = [k for k in ks if k <= outputs.size(1)]
    hits = outputs.topk(max(ks), dim=1).indices == targets.view(-1, 1)
    return {k: hits[:, :k].any(1).float().mean().item() for k in ks}


def per_class_accuracy(targets: torch.Tensor, preds: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Accuracy within each true class (nan for a class with no example)."""
    correct = torch.bincount(targets[preds == targets], minlength=num_classes).float()
    total = torch.bincount(targets, minlength=num_classes).float()
    return correct / total


def confusion_matrix(targets: torch.Tensor, preds: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts of (true class, predicted class) pairs as a num_classes x num_classes tensor."""
    index = targets.long() * num_classes + preds.long()
    return torch.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


@dataclass
class Evaluation:
    """What evaluate() measures on one loader; `acc` is top-1 accuracy, `topk[k]` top-k."""

    loss: float | None
    acc: float
    topk: dict[int, float]
    per_class: torch.Tensor  # accuracy of each class (nan where a class has no example)
    preds: torch.Tensor
    targets: torch.Tensor
    outputs: torch.Tensor  # the model's raw outputs (logits or log-probabilities)


@torch.inference_mode()
def evaluate(
    model: nn.Module,
    loader: Iterable,
    loss_fn: Callable | None = None,
    *,
    ks: Iterable[int] = (1, 5),
    num_classes: int | None = None,
    device: torch.device | str | None = None,
) -> Evaluation:
    """Loss, top-1 and top-k accuracy, per-class accuracy and predictions of a model on a loader, in eval mode."""
    device = torch.device(device) if device else next(model.parameters()).device
    model.to(device).eval()
    outputs, targets = [], []
    for x, y in loader:
        outputs.append(model(x.to(device)).float().cpu())
        targets.append(y.cpu())
    out, y = torch.cat(outputs), torch.cat(targets)
    loss = loss_fn(out, y).item() if loss_fn is not None else None
    preds, y = predictions(out), y.long().reshape(-1)
    multi = out.dim() > 1 and out.size(1) > 1
    num_classes = num_classes or (out.size(1) if multi else 2)
    acc = (preds == y).float().mean().item()
    topk = topk_accuracy(y, out, ks) if multi else {1: acc}
    return Evaluation(loss, acc, topk, per_class_accuracy(y, preds, num_classes), preds, y, out)
