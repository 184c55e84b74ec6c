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

    def row(self, epoch: int | None = None) -> dict[str, Any]:
        """The numbers of one epoch (the last by default), one per key of HISTORY_KEYS."""
        index = -1 if epoch is None else self["epoch"].index(epoch)
        return {key: self[key][index] for key in HISTORY_KEYS}


class Callback:
    """Something fit() calls at the end of each epoch and of training; on_epoch_end returning True stops training."""

    def on_epoch_end(self, model: nn.Module, history: History) -> bool | None:
        """Called after each epoch, once its numbers are in `history`."""

    def on_fit_end(self, model: nn.Module, history: History) -> None:
        """Called once when training ends (all epochs done, or stopped)."""


Reduce = Callable[[torch.Tensor], torch.Tensor]


def run_pass(
    model: nn.Module,
    loader: Iterable,
    loss_fn: Callable,
    device: torch.device,
    *,
    step: Callable[[torch.Tensor], None] | None = None,
    track: Callable[[Iterable], Iterable] = iter,
) -> torch.Tensor:
    """One pass over `loader` (calling `step(loss)` after each batch, if given); the totals [loss sum, correct, seen].

    The totals stay on `device` until the end (in totals_dtype): no sync per batch, and a `reduce` hook (such as
    torch.distributed.all_reduce) can add up those of several processes before the means are taken.
    """
    totals = torch.zeros(3, dtype=totals_dtype(torch.device(device)), device=device)
    for x, y in track(loader):
        x, y = x.to(device), y.to(device)
        out = model(x)
        loss = loss_fn(out, y)
        if step is not None:
            step(loss)
        totals[0] += loss.detach().to(totals.dtype) * len(y)
        totals[1] += (predictions(out.detach()) == y.long().reshape(-1)).sum()
        totals[2] += len(y)
    return totals


def totals_dtype(device: torch.device) -> torch.dtype:
    """The dtype run_pass adds up in: float64, but float32 on Apple's MPS, which has no float64."""
    return torch.float32 if device.type == "mps" else torch.float64


def means(totals: torch.Tensor, reduce: Reduce | None = None) -> tuple[float, float]:
    """Mean loss and accuracy from the totals of run_pass (added up over processes by `reduce` first, if given)."""
    loss_sum, correct, seen = (reduce(totals) if reduce else totals).tolist()
    return loss_sum / seen, correct / seen


def train_epoch(
    model: nn.Module,
    loader: Iterable,
    loss_fn: Callable,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    *,
    scheduler: Any = None,
    track: Callable[[Iterable], Iterable] = iter,
    reduce: Reduce | None = None,
) -> tuple[float, float]:
    """One pass of training (a scheduler given here steps after every batch); mean loss and accuracy."""

    def step(loss: torch.Tensor) -> None:
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()

    model.train()
    return means(run_pass(model, loader, loss_fn, device, step=step, track=track), reduce)


def eval_epoch(
    model: nn.Module,
    loader: Iterable,
    loss_fn: Callable,
    device: torch.device,
    *,
    track: Callable[[Iterable], Iterable] = iter,
    reduce: Reduce | None = None,
) -> tuple[float, float]:
    """One pass in eval mode without gradients; mean loss and accuracy."""
    model.eval()
    with torch.inference_mode():
        return means(run_pass(model, loader, loss_fn, device, track=track), reduce)


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
    reduce: Reduce | None = None,
) -> History:
    """Train for `epochs` (a train phase, then a valid phase when a valid loader is given); return the history.

    The scheduler steps after the optimizer: once per epoch, or after every batch with step_scheduler="batch".
    Callbacks (KeepBest, EarlyStopping, Checkpoint, LivePlot, TensorBoard) add the rest. `reduce` adds up the
    totals of several processes (course_utils.scripts.train_caltech101 passes torch.distributed.all_reduce).
    """
    if step_scheduler not in SCHEDULER_STEPS:
        raise ValueError(f"step_scheduler must be one of {SCHEDULER_STEPS}, got {step_scheduler!r}")
    device = torch.device(device) if device else get_device()
    model.to(device)
    history = History()
    line = ProgressLine() if verbose and in_notebook() and not batch_run() else None  # one line for the whole run
    per_batch = scheduler if step_scheduler == "batch" else None
    for epoch in range(1, epochs + 1):
        start, lr = time.perf_counter(), optimizer.param_groups[0]["lr"]
        track = _tracker(verbose, line, f"epoch {epoch}/{epochs} train")
        train_loss, train_acc = train_epoch(
            model, train_loader, loss_fn, optimizer, device, scheduler=per_batch, track=track, reduce=reduce
        )
        valid_loss = valid_acc = None
        if valid_loader is not None:
            track = _tracker(verbose, line, f"epoch {epoch}/{epochs} valid")
            valid_loss, valid_acc = eval_epoch(model, valid_loader, loss_fn, device, track=track, reduce=reduce)
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
            print(_epoch_line(history.row()), flush=True)
        if _end_of_epoch(callbacks, model, history):
            break
    if line:
        line.show(f"trained {len(history['epoch'])} epoch(s) in {sum(history['seconds']):.1f} s", force=True)
    for callback in callbacks:
        callback.on_fit_end(model, history)
    return history


def _end_of_epoch(callbacks: Sequence[Callback], model: nn.Module, history: History) -> bool:
    """Run every callback's on_epoch_end (all of them, even after one asks to stop); True, noted, if one did."""
    stop = any([callback.on_epoch_end(model, history) for callback in callbacks])  # a list: no short circuit
    history["stopped_early"] = history["stopped_early"] or stop
    return stop


def _tracker(verbose: bool, line: ProgressLine | None, desc: str) -> Callable[[Iterable], Iterable]:
    """How a phase shows progress: on the run's line in Jupyter, with progress() elsewhere, not at all when quiet."""
    if not verbose:
        return iter
    return (lambda loader: line.track(loader, desc)) if line else (lambda loader: progress(loader, desc))


def _epoch_line(h: dict[str, Any]) -> str:
    """The printed summary of one epoch's row of the history."""
    valid = f"  valid loss {h['valid_loss']:.4f} acc {h['valid_acc']:.4f}" if h["valid_loss"] is not None else ""
    return (
        f"epoch {h['epoch']:3d}  train loss {h['train_loss']:.4f} acc {h['train_acc']:.4f}{valid}  "
        f"lr {h['lr']:.2e}  {h['seconds']:.1f}s"
    )
