"""The training loop notebook 03 writes out by hand, packaged: train_epoch, eval_epoch and fit() with callbacks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from .env import batch_run, get_device, in_notebook
from .metrics import predictions
from .progress import ProgressLine, progress

HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "valid_loss", "valid_acc", "lr", "seconds")
SCHEDULER_STEPS = ("epoch", "batch")


class History(dict):
    """Per-epoch lists under HISTORY_KEYS, plus best_epoch (set by KeepBest) and stopped_early."""

    def __init__(self) -> None:
        super().__init__({key: [] for key in HISTORY_KEYS}, best_epoch=None, stopped_early=False)

    def append(self, **values: Any) -> None:
        """Add one epoch's values, one per key of HISTORY_KEYS."""
        for key in HISTORY_KEYS:
            self[key].append(values[key])


class Callback:
    """Something fit() calls at the end of each epoch and of training; on_epoch_end returning True stops training."""

    def on_epoch_end(self, model: nn.Module, history: History) -> bool | None:
        """Called after each epoch, once its numbers are in `history`."""

    def on_fit_end(self, model: nn.Module, history: History) -> None:
        """Called once when training ends (all epochs done, or stopped)."""


def train_epoch(
    model: nn.Module,
    loader: Iterable,
    loss_fn: Callable,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    scheduler: Any = None,
    track: Callable[[Iterable], Iterable] = iter,
) -> tuple[float, float]:
    """One pass of training (a scheduler given here steps after every batch); mean loss and accuracy."""
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    for x, y in track(loader):
        x, y = x.to(device), y.to(device)
        out = model(x)
        loss = loss_fn(out, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total_loss += loss.item() * len(y)
        correct += (predictions(out.detach()) == y.long().reshape(-1)).sum().item()
        seen += len(y)
    return total_loss / seen, correct / seen


def eval_epoch(
    model: nn.Module,
    loader: Iterable,
    loss_fn: Callable,
    device: torch.device,
    track: Callable[[Iterable], Iterable] = iter,
) -> tuple[float, float]:
    """One pass in eval mode without gradients; mean loss and accuracy."""
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with torch.inference_mode():
        for x, y in track(loader):
            x, y = x.to(device), y.to(device)
            out = model(x)
            total_loss += loss_fn(out, y).item() * len(y)
            correct += (predictions(out) == y.long().reshape(-1)).sum().item()
            seen += len(y)
    return total_loss / seen, correct / seen


def fit(
    model: nn.Module,
    train_loader: Iterable,
    valid_loader: Iterable | None = None,
    *,
    loss_fn: Callable,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    scheduler: Any = None,
    step_scheduler: str = "epoch",
    callbacks: Sequence[Callback] = (),
    device: torch.device | str | None = None,
    verbose: bool = True,
) -> History:
    """Train for `epochs` (a train phase, then a valid phase when a valid loader is given); return the history.

    The scheduler steps after the optimizer: once per epoch, or after every batch with step_scheduler="batch".
    Callbacks (KeepBest, EarlyStopping, Checkpoint, LivePlot, TensorBoard) add the rest.
    """
    if step_scheduler not in SCHEDULER_STEPS:
        raise ValueError(f"step_scheduler must be one of {SCHEDULER_STEPS}, got {step_scheduler!r}")
    device = torch.device(device) if device else get_device()
    model.to(device)
    history = History()
    line = ProgressLine() if verbose and in_notebook() and not batch_run() else None  # one line for the whole run
    for epoch in range(1, epochs + 1):
        start, lr = time.perf_counter(), optimizer.param_groups[0]["lr"]
        per_batch = scheduler if step_scheduler == "batch" else None
        track = _tracker(verbose, line, f"epoch {epoch}/{epochs} train")
        train_loss, train_acc = train_epoch(model, train_loader, loss_fn, optimizer, device, per_batch, track)
        valid_loss = valid_acc = None
        if valid_loader is not None:
            track = _tracker(verbose, line, f"epoch {epoch}/{epochs} valid")
            valid_loss, valid_acc = eval_epoch(model, valid_loader, loss_fn, device, track)
        if scheduler is not None and per_batch is None:
            scheduler.step()
        seconds = time.perf_counter() - start
        history.append(
            epoch=epoch,
            train_loss=train_loss,
            train_acc=train_acc,
            valid_loss=valid_loss,
            valid_acc=valid_acc,
            lr=lr,
            seconds=seconds,
        )
        if verbose:
            print(_epoch_line(history), flush=True)
        if any([callback.on_epoch_end(model, history) for callback in callbacks]):
            history["stopped_early"] = True
            break
    if line:
        line.show(f"trained {len(history['epoch'])} epoch(s) in {sum(history['seconds']):.1f} s", force=True)
    for callback in callbacks:
        callback.on_fit_end(model, history)
    return history


def _tracker(verbose: bool, line: ProgressLine | None, desc: str) -> Callable[[Iterable], Iterable]:
    """How a phase shows progress: on the run's line in Jupyter, with progress() elsewhere, not at all when quiet."""
    if not verbose:
        return iter
    return (lambda loader: line.track(loader, desc)) if line else (lambda loader: progress(loader, desc))


def _epoch_line(history: History) -> str:
    """The printed summary of the last epoch in `history`."""
    h = {key: values[-1] for key, values in history.items() if isinstance(values, list)}
    valid = f"  valid loss {h['valid_loss']:.4f} acc {h['valid_acc']:.4f}" if h["valid_loss"] is not None else ""
    return (
        f"epoch {h['epoch']:3d}  train loss {h['train_loss']:.4f} acc {h['train_acc']:.4f}{valid}  "
        f"lr {h['lr']:.2e}  {h['seconds']:.1f}s"
    )
