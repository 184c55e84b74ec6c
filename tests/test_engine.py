"""The training loop and evaluation: real learning, early stopping, best weights, top-k."""
from __future__ import annotations

import torch
from torch import nn

from course_utils import data, engine, set_seed


def test_topk_and_per_class_on_known_tensors():
    outputs = torch.tensor([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    targets = torch.tensor([2, 0, 0, 1])
    acc = engine.topk_accuracy(outputs, targets, ks=(1, 2, 3))
    assert acc == {1: 0.25, 2: 0.75, 3: 1.0}
    per_class = engine.per_class_accuracy(outputs.argmax(1), targets, 4)
    assert per_class[:3].tolist() == [0.5, 0.0, 0.0] and torch.isnan(per_class[3])


def _mnist_subset():
    train = data.TensorLoader(data.load_mnist("MNIST", limit=1000, seed=0), 100, shuffle=True)
    valid = data.TensorLoader(data.load_mnist("MNIST", train=False, limit=500, seed=0), 250)
    return train, valid


def test_fit_lowers_the_loss_on_real_data():
    set_seed(0)
    train, valid = _mnist_subset()
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    before = engine.evaluate(model, valid, nn.CrossEntropyLoss())
    history = engine.fit(model, train, valid, loss_fn=nn.CrossEntropyLoss(), epochs=3, verbose=False, plot=False,
                         optimizer=torch.optim.SGD(model.parameters(), lr=0.05))
    after = engine.evaluate(model, valid, nn.CrossEntropyLoss())
    assert history["train_loss"][-1] < history["train_loss"][0]
    assert after.loss < before.loss / 2 and after.accuracy > 0.8


def test_nll_with_log_softmax_works_too():
    set_seed(0)
    train, valid = _mnist_subset()
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.LogSoftmax(dim=1))
    history = engine.fit(model, train, valid, loss_fn=nn.NLLLoss(), epochs=2, verbose=False, plot=False,
                         optimizer=torch.optim.Adam(model.parameters(), lr=1e-3))
    assert history["valid_acc"][-1] > 0.7


def test_early_stopping_restores_the_best_weights_and_checkpoints(tmp_path):
    set_seed(0)
    train, valid = _mnist_subset()
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    # After epoch 2 the learning rate becomes absurd: the valid loss blows up and never recovers.
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda epoch: 1.0 if epoch < 2 else 1e4)
    history = engine.fit(model, train, valid, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, scheduler=sched,
                         epochs=20, patience=2, checkpoint=tmp_path / "best.pt",
                         checkpoint_extra={"note": "test"}, verbose=False, plot=False)
    assert history["stopped_early"] and len(history["epoch"]) == 4
    assert history["best_epoch"] == 2
    best = history["valid_loss"][1]
    restored = engine.evaluate(model, valid, nn.CrossEntropyLoss())
    assert abs(restored.loss - best) < 1e-5
    saved = torch.load(tmp_path / "best.pt", weights_only=True)
    assert saved["epoch"] == 2 and saved["note"] == "test"
    fresh = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    fresh.load_state_dict(saved["state_dict"])
    assert abs(engine.evaluate(fresh, valid, nn.CrossEntropyLoss()).loss - best) < 1e-5


def test_scheduler_steps_after_the_optimizer_per_epoch():
    train, valid = _mnist_subset()
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    history = engine.fit(model, train, None, loss_fn=nn.CrossEntropyLoss(), optimizer=opt, scheduler=sched,
                         epochs=3, verbose=False, plot=False)
    assert history["lr"] == [0.1, 0.05, 0.025]
