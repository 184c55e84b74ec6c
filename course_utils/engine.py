"""The training loop every lesson shares: fit() with history, progress, early stopping, checkpoints; evaluate()."""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import torch
from torch import nn

from .env import get_device, in_notebook, progress, save_atomically
from .plots import LivePlot


def _predictions(outputs: torch.Tensor) -> torch.Tensor:
    """Class predictions from logits or log-probabilities; for one-logit outputs, logit > 0."""
    if outputs.dim() == 1 or outputs.size(1) == 1:
        return (outputs.reshape(-1) > 0).long()
    return outputs.argmax(1)


def _run_epoch(model: nn.Module, loader: Iterable, loss_fn: Callable, device: torch.device,
               optimizer: torch.optim.Optimizer | None = None, scheduler: Any = None,
               desc: str = "") -> tuple[float, float]:
    """One pass over a loader (training when an optimizer is given); mean loss and accuracy."""
    training = optimizer is not None
    model.train(training)
    total_loss, correct, seen = 0.0, 0, 0
    with torch.set_grad_enabled(training):
        for x, y in progress(loader, desc=desc, total=len(loader), leave=False):
            x, y = x.to(device), y.to(device)
            out = model(x)
            loss = loss_fn(out, y)
            if training:
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
            total_loss += loss.item() * len(y)
            correct += (_predictions(out.detach()) == y.long().reshape(-1)).sum().item()
            seen += len(y)
    return total_loss / seen, correct / seen


class History(dict):
    """Per-epoch lists (epoch, train_loss, train_acc, valid_loss, valid_acc, lr, seconds) plus best_epoch."""

    def __init__(self) -> None:
        super().__init__({key: [] for key in ("epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "lr", "seconds")},
                         best_epoch=None, stopped_early=False)


@dataclass
class EarlyStopping:
    """Tracks the monitored metric; says when it has not improved for `patience` epochs."""

    monitor: str = "valid_loss"
    patience: int | None = None
    best: float | None = None
    best_epoch: int | None = None
    bad_epochs: int = 0
    best_state: dict = field(default_factory=dict)

    def improved(self, value: float) -> bool:
        """Record a new value; True when it is the best so far."""
        better = self.best is None or (value < self.best if self.monitor.endswith("loss") else value > self.best)
        if better:
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        return better

    @property
    def should_stop(self) -> bool:
        """True once `patience` epochs in a row brought no improvement."""
        return self.patience is not None and self.bad_epochs >= self.patience


def fit(
    model: nn.Module, train_loader: Iterable, valid_loader: Iterable | None = None, *,
    loss_fn: Callable, optimizer: torch.optim.Optimizer, epochs: int,
    scheduler: Any = None, scheduler_per: str = "epoch", device: torch.device | str | None = None,
    monitor: str = "valid_loss", patience: int | None = None, restore_best: bool = True,
    checkpoint: str | Path | None = None, checkpoint_extra: Mapping[str, Any] | None = None,
    plot: bool = True, title: str = "Training curves", verbose: bool = True,
) -> History:
    """Train for `epochs` with a train and an optional valid phase per epoch; return the history.

    The scheduler steps after the optimizer, once per epoch (or per batch with scheduler_per="batch").
    The best weights by `monitor` are restored at the end (and saved to `checkpoint` with
    `checkpoint_extra`); with `patience`, training stops after that many epochs without improvement.
    """
    device = torch.device(device) if device else get_device()
    model.to(device)
    if valid_loader is None and monitor.startswith("valid"):
        monitor = "train" + monitor[len("valid"):]
    history, stopper = History(), EarlyStopping(monitor, patience)
    live = LivePlot(title) if plot and in_notebook() else None
    per_batch = scheduler if scheduler_per == "batch" else None
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        train_loss, train_acc = _run_epoch(model, train_loader, loss_fn, device, optimizer, per_batch,
                                           desc=f"epoch {epoch}/{epochs} train")
        valid_loss = valid_acc = None
        if valid_loader is not None:
            valid_loss, valid_acc = _run_epoch(model, valid_loader, loss_fn, device, desc=f"epoch {epoch}/{epochs} valid")
        if scheduler is not None and per_batch is None:
            scheduler.step()
        seconds = time.perf_counter() - start
        for key, value in zip(("epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "lr", "seconds"),
                              (epoch, train_loss, train_acc, valid_loss, valid_acc, lr, seconds)):
            history[key].append(value)
        if stopper.improved(history[monitor][-1]):
            history["best_epoch"] = epoch
            stopper.best_state = copy.deepcopy(model.state_dict())
            if checkpoint:
                save_checkpoint(checkpoint, model, {**(checkpoint_extra or {}), "epoch": epoch, monitor: stopper.best})
        if live:
            live.update(history)
        if verbose:
            valid = f"  valid loss {valid_loss:.4f} acc {valid_acc:.4f}" if valid_loader is not None else ""
            print(f"epoch {epoch:3d}  train loss {train_loss:.4f} acc {train_acc:.4f}{valid}  "
                  f"lr {lr:.2e}  {seconds:.1f}s", flush=True)
        if stopper.should_stop:
            history["stopped_early"] = True
            if verbose:
                print(f"early stop: {monitor} has not improved for {patience} epochs "
                      f"(best {stopper.best:.4f} at epoch {history['best_epoch']})")
            break
    if restore_best and stopper.best_state:
        model.load_state_dict(stopper.best_state)
        if verbose:
            print(f"restored the best weights: epoch {history['best_epoch']}, {monitor} {stopper.best:.4f}")
    return history


def save_checkpoint(path: str | Path, model: nn.Module, extra: Mapping[str, Any] | None = None) -> Path:
    """Write the model's state_dict and `extra` to `path` atomically."""
    return save_atomically({"state_dict": model.state_dict(), **(extra or {})}, path)


@dataclass
class Evaluation:
    """What evaluate() measures on one loader."""

    loss: float | None
    accuracy: float
    topk: dict[int, float]
    per_class: torch.Tensor  # accuracy of each class (nan where a class has no example)
    preds: torch.Tensor
    targets: torch.Tensor
    outputs: torch.Tensor  # the model's raw outputs (logits or log-probabilities)


def topk_accuracy(outputs: torch.Tensor, targets: torch.Tensor, ks: Iterable[int] = (1, 5)) -> dict[int, float]:
    """Fraction of rows whose target is among the k highest outputs, for each k."""
    ks = [k for k in ks if k <= outputs.size(1)]
    top = outputs.topk(max(ks), dim=1).indices
    hits = top == targets.view(-1, 1)
    return {k: hits[:, :k].any(1).float().mean().item() for k in ks}


def per_class_accuracy(preds: torch.Tensor, targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Accuracy within each true class (nan for a class with no example)."""
    correct = torch.bincount(targets[preds == targets], minlength=num_classes).float()
    total = torch.bincount(targets, minlength=num_classes).float()
    return correct / total


@torch.inference_mode()
def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable | None = None, ks: Iterable[int] = (1, 5),
             num_classes: int | None = None, device: torch.device | str | None = None) -> Evaluation:
    """Loss, top-1 and top-k accuracy, per-class accuracy and predictions of a model on a loader."""
    device = torch.device(device) if device else next(model.parameters()).device
    model.to(device).eval()
    outputs, targets = [], []
    for x, y in loader:
        outputs.append(model(x.to(device)).float().cpu())
        targets.append(y.cpu())
    out, y = torch.cat(outputs), torch.cat(targets)
    loss = loss_fn(out, y).item() if loss_fn is not None else None
    preds = _predictions(out)
    y = y.long().reshape(-1)
    num_classes = num_classes or (out.size(1) if out.dim() > 1 and out.size(1) > 1 else 2)
    topk = topk_accuracy(out, y, ks) if out.dim() > 1 and out.size(1) > 1 else {1: (preds == y).float().mean().item()}
    return Evaluation(loss, (preds == y).float().mean().item(), topk, per_class_accuracy(preds, y, num_classes),
                      preds, y, out)
