"""What fit() can do besides training, each a small object passed in: keep the best weights, stop early,
save checkpoints, redraw the curves, log to TensorBoard."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from torch import nn

from .checkpoints import save_checkpoint
from .engine import Callback, History
from .env import in_notebook


class Monitor(Callback):
    """Watch one number of the history (as fastai's TrackerCallback): its best value, and whether this epoch beat it.

    A name ending in "loss" is better lower, any other (an accuracy) better higher. Subclasses call
    `super().on_epoch_end(...)` first, then read `improved`, `best` and `bad_epochs` (epochs since the best).
    """

    def __init__(self, monitor: str = "valid_loss") -> None:
        self.monitor, self.lower_is_better = monitor, monitor.endswith("loss")
        self.best: float | None = None
        self.improved, self.bad_epochs = False, 0

    def better(self, value: float) -> bool:
        """Whether `value` beats the best so far (any value does when there is none yet)."""
        return self.best is None or (value < self.best if self.lower_is_better else value > self.best)

    def on_epoch_end(self, model: nn.Module, history: History) -> bool | None:
        if self.monitor not in history or history[self.monitor][-1] is None:
            raise KeyError(f"cannot monitor {self.monitor!r}: fit() recorded no such value (is there a valid loader?)")
        value = history[self.monitor][-1]
        self.improved = self.better(value)
        self.best, self.bad_epochs = (value, 0) if self.improved else (self.best, self.bad_epochs + 1)
        return None


class KeepBest(Monitor):
    """Remember the weights of the best epoch by `monitor` and put them back when training ends.

    `module` is the part whose weights are kept (by default the whole model fit() trains): the head alone when
    the rest is a frozen backbone, so that a copy of the backbone is not made at every improvement.
    """

    def __init__(self, monitor: str = "valid_acc", module: nn.Module | None = None) -> None:
        super().__init__(monitor)
        self.module, self.best_state = module, None

    def kept(self, model: nn.Module) -> nn.Module:
        """The module whose weights are kept: `module` if one was given, else the model fit() trains."""
        return model if self.module is None else self.module

    def on_epoch_end(self, model: nn.Module, history: History) -> bool | None:
        super().on_epoch_end(model, history)
        if self.improved:
            self.best_state = copy.deepcopy(self.kept(model).state_dict())  # a copy: state_dict() shares live tensors
            history["best_epoch"] = history["epoch"][-1]
        return None

    def on_fit_end(self, model: nn.Module, history: History) -> None:
        if self.best_state is not None:
            self.kept(model).load_state_dict(self.best_state)


class EarlyStopping(KeepBest):
    """KeepBest that also stops training once `patience` epochs in a row bring no improvement of `monitor`."""

    def __init__(
        self, monitor: str = "valid_loss", patience: int = 5, verbose: bool = True, module: nn.Module | None = None
    ) -> None:
        super().__init__(monitor, module)
        self.patience, self.verbose = patience, verbose

    def on_epoch_end(self, model: nn.Module, history: History) -> bool | None:
        super().on_epoch_end(model, history)
        if self.bad_epochs < self.patience:
            return None
        if self.verbose:
            best = f"best {self.best:.4f} at epoch {history['best_epoch']}"
            print(f"early stop: {self.monitor} has not improved for {self.patience} epochs ({best})")
        return True

    def on_fit_end(self, model: nn.Module, history: History) -> None:
        super().on_fit_end(model, history)
        if self.verbose and self.best_state is not None:
            print(f"restored the best weights: epoch {history['best_epoch']}, {self.monitor} {self.best:.4f}")


class Checkpoint(Monitor):
    """Save the model (atomically) whenever `monitor` improves, with the epoch's numbers in the file.

    `save_options` go to save_checkpoint: plain values to store, or backbone= and class_to_idx= (and settings=)
    for a transfer-model checkpoint. The file holds the best epoch's weights; nothing is restored at the end.
    """

    def __init__(self, path: str | Path, monitor: str = "valid_loss", **save_options: Any) -> None:
        super().__init__(monitor)
        self.path, self.save_options = Path(path), save_options

    def on_epoch_end(self, model: nn.Module, history: History) -> bool | None:
        super().on_epoch_end(model, history)
        if self.improved:
            save_checkpoint(self.path, model, **self.save_options, **history.row())
        return None


class LivePlot(Callback):
    """Training curves that redraw in place in Jupyter after every epoch (nothing outside Jupyter)."""

    def __init__(self, title: str = "Training curves") -> None:
        self.title, self.handle = title, None

    def on_epoch_end(self, model: nn.Module, history: History) -> bool | None:
        if not in_notebook():
            return None
        import matplotlib.pyplot as plt
        from IPython.display import display

        from .plots import plot_history

        fig = plot_history(history, self.title)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)
        return None


class TensorBoard(Callback):
    """Log each epoch's loss and accuracy (train and valid) and learning rate to TensorBoard."""

    def __init__(self, writer_or_log_dir: Any) -> None:
        if isinstance(writer_or_log_dir, (str, Path)):
            from torch.utils.tensorboard import SummaryWriter

            writer_or_log_dir = SummaryWriter(str(writer_or_log_dir))
        self.writer = writer_or_log_dir

    def on_epoch_end(self, model: nn.Module, history: History) -> bool | None:
        epoch = history["epoch"][-1]
        for metric in ("loss", "acc"):
            for phase in ("train", "valid"):
                value = history[f"{phase}_{metric}"][-1]
                if value is not None:
                    self.writer.add_scalar(f"{metric}/{phase}", value, epoch)
        self.writer.add_scalar("lr", history["lr"][-1], epoch)
        return None

    def on_fit_end(self, model: nn.Module, history: History) -> None:
        self.writer.flush()
