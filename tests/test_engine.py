"""The training loop: it learns on real data, steps schedulers where asked, and is the loop notebook 03 writes out."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from course_utils import data, engine, set_seed
from course_utils.metrics import evaluate


def _mnist_subset():
    train = data.TensorLoader(data.load_mnist("MNIST", limit=1000, seed=0), 100, shuffle=True)
    valid = data.TensorLoader(data.load_mnist("MNIST", train=False, limit=500, seed=0), 250)
    return train, valid


def test_fit_lowers_the_loss_on_real_data(capsys):
    set_seed(0)
    train, valid = _mnist_subset()
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    before = evaluate(model, valid, nn.CrossEntropyLoss())
    history = engine.fit(
        model,
        train,
        valid,
        loss_fn=nn.CrossEntropyLoss(),
        epochs=3,
        verbose=False,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.05),
    )
    after = evaluate(model, valid, nn.CrossEntropyLoss())
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert after.loss < before.loss / 2 and after.acc > 0.8
    assert history["best_epoch"] is None and not history["stopped_early"]  # no callback, nothing restored
    assert capsys.readouterr().out == "" and set(engine.HISTORY_KEYS) <= set(history)


def test_verbose_prints_one_line_per_epoch(capsys):
    train, valid = _mnist_subset()
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    engine.fit(
        model,
        train,
        valid,
        loss_fn=nn.CrossEntropyLoss(),
        epochs=2,
        optimizer=torch.optim.SGD(model.parameters(), lr=0.05),
    )
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["epoch", "1"], ["epoch", "2"]]
    assert all("valid loss" in line and "lr 5.00e-02" in line for line in lines)


def test_nll_with_log_softmax_works_too():
    set_seed(0)
    train, valid = _mnist_subset()
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.LogSoftmax(dim=1))
    history = engine.fit(
        model,
        train,
        valid,
        loss_fn=nn.NLLLoss(),
        epochs=2,
        verbose=False,
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-3),
    )
    assert history["valid_acc"][-1] > 0.7


def test_scheduler_steps_after_the_optimizer_per_epoch_or_per_batch():
    train, _ = _mnist_subset()
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    history = engine.fit(
        model, train, None, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, scheduler=sched, epochs=3, verbose=False
    )
    assert history["lr"] == [0.1, 0.05, 0.025] and history["valid_loss"] == [None] * 3
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    engine.fit(
        model,
        train,
        None,
        loss_fn=nn.CrossEntropyLoss(),
        optimizer=opt,
        scheduler=sched,
        epochs=1,
        step_scheduler="batch",
        verbose=False,
    )
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** len(train))  # one step per batch
    with pytest.raises(ValueError, match="step_scheduler"):
        engine.fit(model, train, None, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, epochs=1, step_scheduler="step")


def test_fit_gives_the_numbers_of_the_loop_written_by_hand():
    """The same seed, data order and model: fit() and a plain train/eval loop agree epoch by epoch."""

    def by_hand(model, train, valid, loss_fn, optimizer, epochs):
        losses = []
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

    results = []
    for run in (by_hand, None):
        set_seed(0)
        train, valid = _mnist_subset()
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.Dropout(0.2), nn.ReLU(), nn.Linear(32, 10))
        opt = torch.optim.SGD(model.parameters(), lr=0.05)
        if run:
            results.append(run(model, train, valid, nn.CrossEntropyLoss(), opt, 2))
        else:
            h = engine.fit(model, train, valid, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, epochs=2, verbose=False)
            results.append(h["valid_loss"])
    assert results[0] == pytest.approx(results[1], abs=1e-6)
