"""fit()'s callbacks: best weights kept and restored, early stopping, checkpoints, TensorBoard, live plot."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_utils import callbacks, engine, set_seed
from course_utils.checkpoints import load_checkpoint
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
    save = callbacks.Checkpoint(tmp_path / "best.pt", "valid_loss", note="test")
    model, valid, history = _run(mnist_small, stop, save)
    assert history["stopped_early"]
    assert (len(history["epoch"]), history["best_epoch"]) == (4, 2)
    best = history["valid_loss"][1]
    assert evaluate(model, valid, nn.CrossEntropyLoss()).loss == pytest.approx(best, abs=1e-5)
    fresh, saved = load_checkpoint(tmp_path / "best.pt", nn.Sequential(nn.Flatten(), nn.Linear(784, 10)))
    assert (saved["epoch"], saved["note"], saved["valid_loss"]) == (2, "test", best)
    assert saved["valid_acc"] == history["valid_acc"][1]  # the epoch's numbers, not the monitored one alone
    assert evaluate(fresh, valid, nn.CrossEntropyLoss()).loss == pytest.approx(best, abs=1e-5)
    out = capsys.readouterr().out
    assert "early stop: valid_loss has not improved for 2 epochs" in out
    assert "restored the best weights: epoch 2" in out


def test_keep_best_without_patience_trains_every_epoch_and_restores(mnist_small):
    model, valid, history = _run(mnist_small, callbacks.KeepBest("valid_acc"), epochs=4)
    assert len(history["epoch"]) == 4
    assert not history["stopped_early"]
    assert history["best_epoch"] == 1 + max(range(4), key=lambda i: history["valid_acc"][i])
    assert evaluate(model, valid).acc == pytest.approx(max(history["valid_acc"]))


def test_monitor_tracks_the_best_value_and_whether_this_epoch_beat_it():
    history = engine.History()
    losses, accuracies = callbacks.Monitor("valid_loss"), callbacks.Monitor("valid_acc")
    seen = []
    for epoch, (loss, acc) in enumerate([(0.9, 0.5), (0.7, 0.4), (0.8, 0.6)], 1):
        history.append(epoch=epoch, train_loss=1, train_acc=0, valid_loss=loss, valid_acc=acc, lr=0.1, seconds=1)
        for monitor in (losses, accuracies):
            monitor.on_epoch_end(nn.Identity(), history)
        seen.append((losses.improved, losses.best, losses.bad_epochs, accuracies.improved, accuracies.best))
    assert seen == [(True, 0.9, 0, True, 0.5), (True, 0.7, 0, False, 0.5), (False, 0.7, 1, True, 0.6)]


def test_keep_best_keeps_only_the_module_it_is_given(mnist_small):
    """A head on a frozen body: the head's weights are kept and restored, the body's never copied."""
    set_seed(0)
    train, valid = mnist_small()
    body, head = nn.Sequential(nn.Flatten(), nn.Linear(784, 32)), nn.Linear(32, 10)
    keep = callbacks.KeepBest("valid_loss", module=head)
    opt = torch.optim.SGD(head.parameters(), lr=0.05)
    model = nn.Sequential(body, head)
    history = engine.fit(
        model, train, valid, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, epochs=2, callbacks=[keep], verbose=False
    )
    assert set(keep.best_state) == set(head.state_dict())
    empty = nn.Sequential()  # a module of no length is still the one asked for, not "none given"
    assert callbacks.KeepBest(module=empty).kept(model) is empty
    assert evaluate(model, valid, nn.CrossEntropyLoss()).loss == pytest.approx(min(history["valid_loss"]), abs=1e-5)


def test_checkpoint_watches_without_keeping_weights(mnist_small, tmp_path):
    save = callbacks.Checkpoint(tmp_path / "best.pt")
    assert isinstance(save, callbacks.Monitor)
    assert not isinstance(save, callbacks.KeepBest)
    _run(mnist_small, save, epochs=3)
    assert not hasattr(save, "best_state")
    _, saved = load_checkpoint(tmp_path / "best.pt", nn.Sequential(nn.Flatten(), nn.Linear(784, 10)))
    assert save.best == saved["valid_loss"]


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
