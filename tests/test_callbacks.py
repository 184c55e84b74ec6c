"""fit()'s callbacks: best weights kept and restored, early stopping, checkpoints, TensorBoard, live plot."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_utils import callbacks, engine, set_seed
from course_utils.metrics import evaluate


def _run(mnist_small, *extra: engine.Callback, epochs: int = 20):
    """A linear net on real MNIST whose learning rate becomes absurd after epoch 2: valid loss blows up for good."""
    set_seed(0)
    train, valid = mnist_small()
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1.0 if epoch < 2 else 1e4)
    options = dict(optimizer=opt, scheduler=sched, epochs=epochs, callbacks=extra, verbose=False)
    return model, valid, engine.fit(model, train, valid, loss_fn=nn.CrossEntropyLoss(), **options)


def test_early_stopping_restores_the_best_weights_and_checkpoints(mnist_small, tmp_path, capsys):
    stop = callbacks.EarlyStopping("valid_loss", patience=2)
    save = callbacks.Checkpoint(tmp_path / "best.pt", "valid_loss", extra={"note": "test"})
    model, valid, history = _run(mnist_small, stop, save)
    assert history["stopped_early"] and len(history["epoch"]) == 4 and history["best_epoch"] == 2
    best = history["valid_loss"][1]
    assert evaluate(model, valid, nn.CrossEntropyLoss()).loss == pytest.approx(best, abs=1e-5)
    saved = torch.load(tmp_path / "best.pt", weights_only=True)
    assert saved["epoch"] == 2 and saved["note"] == "test" and saved["valid_loss"] == pytest.approx(best)
    fresh = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    fresh.load_state_dict(saved["state_dict"])
    assert evaluate(fresh, valid, nn.CrossEntropyLoss()).loss == pytest.approx(best, abs=1e-5)
    out = capsys.readouterr().out
    assert "early stop: valid_loss has not improved for 2 epochs" in out and "restored the best weights: epoch 2" in out


def test_keep_best_without_patience_trains_every_epoch_and_restores(mnist_small):
    model, valid, history = _run(mnist_small, callbacks.KeepBest("valid_acc"), epochs=4)
    assert len(history["epoch"]) == 4 and not history["stopped_early"]
    assert history["best_epoch"] == 1 + max(range(4), key=lambda i: history["valid_acc"][i])
    assert evaluate(model, valid).acc == pytest.approx(max(history["valid_acc"]))


def test_monitoring_a_valid_metric_without_a_valid_loader_says_so(mnist_small):
    train, _ = mnist_small()
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    with pytest.raises(KeyError, match="valid_loss"):
        engine.fit(
            model,
            train,
            None,
            loss_fn=nn.CrossEntropyLoss(),
            epochs=1,
            verbose=False,
            optimizer=torch.optim.SGD(model.parameters(), lr=0.05),
            callbacks=[callbacks.KeepBest("valid_loss")],
        )


def test_tensorboard_logs_every_epoch(mnist_small, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _run(mnist_small, callbacks.TensorBoard(tmp_path / "runs"), epochs=3)
    events = EventAccumulator(str(tmp_path / "runs")).Reload()
    assert {"loss/train", "loss/valid", "acc/train", "acc/valid", "lr"} <= set(events.Tags()["scalars"])
    assert [e.step for e in events.Scalars("loss/valid")] == [1, 2, 3]
    assert [e.value for e in events.Scalars("lr")] == pytest.approx([0.05, 0.05, 500.0])


def test_live_plot_draws_nothing_outside_jupyter(mnist_small):
    live = callbacks.LivePlot("curves")
    _run(mnist_small, live, epochs=1)
    assert live.handle is None
