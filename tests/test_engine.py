"""The training loop: it learns on real data, steps schedulers where asked, and is the loop notebook 03 writes out."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import course_utils as cu
from course_utils import engine, set_seed
from course_utils.metrics import evaluate


def linear() -> nn.Module:
    """The smallest MNIST classifier."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))


def sgd_fit(model: nn.Module, train, valid, epochs: int, lr: float = 0.05, **options) -> engine.History:
    """fit() with cross-entropy and SGD (`options` go to fit, and may replace the optimizer)."""
    options.setdefault("optimizer", torch.optim.SGD(model.parameters(), lr=lr))
    return engine.fit(
        model, train, valid, loss_fn=options.pop("loss_fn", nn.CrossEntropyLoss()), epochs=epochs, **options
    )


def test_fit_lowers_the_loss_on_real_data(mnist_small, capsys):
    set_seed(0)
    train, valid = mnist_small()
    model = linear()
    before = evaluate(model, valid, nn.CrossEntropyLoss())
    history = sgd_fit(model, train, valid, 3, verbose=False)
    after = evaluate(model, valid, nn.CrossEntropyLoss())
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert after.loss < before.loss / 2
    assert after.acc > 0.8
    assert history["best_epoch"] is None  # no callback, nothing restored
    assert not history["stopped_early"]
    assert capsys.readouterr().out == ""
    assert set(engine.HISTORY_KEYS) <= set(history)


def test_verbose_prints_one_line_per_epoch(mnist_small, capsys):
    sgd_fit(linear(), *mnist_small(), 2)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["epoch", "1"], ["epoch", "2"]]
    assert all("valid loss" in line and "lr 5.00e-02" in line for line in lines)


def test_nll_with_log_softmax_works_too(mnist_small):
    set_seed(0)
    model = nn.Sequential(linear(), nn.LogSoftmax(dim=1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    history = sgd_fit(model, *mnist_small(), 2, loss_fn=nn.NLLLoss(), optimizer=optimizer, verbose=False)
    assert history["valid_acc"][-1] > 0.7


def test_scheduler_steps_after_the_optimizer_per_epoch_or_per_batch(mnist_small):
    train, _ = mnist_small()
    model = linear()
    for per, epochs in (("epoch", 3), ("batch", 1)):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        history = sgd_fit(model, train, None, epochs, optimizer=opt, scheduler=sched, step_scheduler=per, verbose=False)
        if per == "epoch":
            assert history["lr"] == [0.1, 0.05, 0.025]
            assert history["valid_loss"] == [None] * 3
        else:
            assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** len(train))  # one step per batch
    with pytest.raises(ValueError, match="step_scheduler"):
        sgd_fit(model, train, None, 1, step_scheduler="step")


def by_hand(model: nn.Module, train, valid, optimizer: torch.optim.Optimizer, epochs: int) -> list[float]:
    """Notebook 03's loop with cross-entropy, written out: the valid loss of each epoch."""
    loss_fn, losses = nn.CrossEntropyLoss(), []
    for _ in range(epochs):
        model.train()
        for x, y in train:
            loss = loss_fn(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.inference_mode():
            total = sum(loss_fn(model(x), y).item() * len(y) for x, y in valid)
        losses.append(total / sum(len(y) for _, y in valid))
    return losses


def test_fit_gives_the_numbers_of_the_loop_written_by_hand(mnist_small):
    """The same seed, data order and model: fit() and a plain train/eval loop agree epoch by epoch."""
    results = []
    for hand in (True, False):
        set_seed(0)
        train, valid = mnist_small()
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.Dropout(0.2), nn.ReLU(), nn.Linear(32, 10))
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        if hand:
            results.append(by_hand(model, train, valid, opt, 2))
        else:
            results.append(sgd_fit(model, train, valid, 2, optimizer=opt, verbose=False)["valid_loss"])
    assert results[0] == pytest.approx(results[1], abs=1e-6)


def test_a_pass_returns_totals_that_reduce_adds_up_across_processes(mnist_small):
    """Two halves of the valid set, as two processes would see them: their totals added give the whole set's means."""
    _, valid = mnist_small()
    x, y = valid.dataset.tensors
    halves = [cu.TensorLoader(TensorDataset(x[i::2], y[i::2]), 100) for i in (0, 1)]
    model, loss_fn, cpu = linear(), nn.CrossEntropyLoss(), torch.device("cpu")
    with torch.inference_mode():
        other = engine.run_pass(model.eval(), halves[1], loss_fn, cpu)
    assert other.dtype == torch.float64
    assert other[2].item() == len(y) // 2  # [loss sum, correct, seen]
    combined = engine.eval_epoch(model, halves[0], loss_fn, cpu, reduce=lambda totals: totals + other)
    assert combined == pytest.approx(engine.eval_epoch(model, valid, loss_fn, cpu), abs=1e-6)
    assert combined != pytest.approx(engine.eval_epoch(model, halves[0], loss_fn, cpu), abs=1e-6)


def test_totals_add_up_in_float64_but_in_float32_on_mps():
    assert engine.totals_dtype(torch.device("cpu")) == torch.float64  # as exact as the Python floats it replaced
    assert engine.totals_dtype(torch.device("mps")) == torch.float32  # Apple's GPUs have no float64


def test_history_row_gives_one_epochs_numbers(mnist_small):
    history = sgd_fit(linear(), *mnist_small(), 2, verbose=False)
    assert history.row() == {key: history[key][1] for key in engine.HISTORY_KEYS}
    assert history.row(1)["valid_loss"] == history["valid_loss"][0]
