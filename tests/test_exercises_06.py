"""Notebook 06's exercise checks refuse the shortcuts (issue 22) and hold for the notebook's solutions; tiny tensors
stand in for the cached features and the test outputs, so no photo goes through a backbone."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from exercises import lesson, solution, verdict
from torch.utils.data import TensorDataset

NB = "06_caltech101_vgg16.ipynb"
EX1, EX1_CHECK = "0cf86cc2", "ef069c0a"
EX2, EX2_CHECK = "43ab272b", "26090b85"
CLASSES, WIDTH = 4, 16


def _clusters(n: int, seed: int) -> TensorDataset:
    """Features of CLASSES noisy clusters: separable enough to learn, noisy enough to take some epochs."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(CLASSES, WIDTH, generator=torch.Generator().manual_seed(0))
    y = torch.arange(n) % CLASSES
    return TensorDataset(centres[y] + 1.5 * torch.randn(n, WIDTH, generator=g), y)


@pytest.fixture(scope="module")
def ex1() -> dict:
    """The lesson's imports, settings and head, with train and valid features only: no test split to decide on."""
    ns = lesson(NB, "37113e89", "a16e581a", "def3d417")
    ns.update(
        features={"train": _clusters(160, 1), "valid": _clusters(80, 2)},
        backbone=SimpleNamespace(in_features=WIDTH),
        n_classes=CLASSES,
    )
    return ns


@pytest.fixture(scope="module")
def ex2() -> dict:
    """The lesson's imports and test outputs of 300 photos in 12 classes, the true class often near the top."""
    ns = lesson(NB, "37113e89")
    g = torch.Generator().manual_seed(0)
    targets = torch.randint(0, 12, (300,), generator=g)
    outputs = torch.randn(300, 12, generator=g)
    outputs[torch.arange(300), targets] += 2.0
    outputs = outputs.log_softmax(dim=1)
    acc = (outputs.argmax(1) == targets).float().mean().item()
    ns.update(evaluation=SimpleNamespace(outputs=outputs, targets=targets, acc=acc), n_classes=12)
    return ns


def test_ex1_solution_decides_on_validation_without_the_test_split(ex1):
    assert verdict(ex1, solution(NB, EX1), NB, EX1_CHECK) is None


def test_ex1_refuses_untrained_heads_with_a_borrowed_history(ex1):
    answer = (
        solution(NB, EX1)
        + "\nruns = {d: (make_head(backbone.in_features, n_classes, hidden=256, dropout=d, log_softmax=True), h)"
        + " for d, (_, h) in runs.items()}"
    )
    assert "best epoch" in verdict(ex1, answer, NB, EX1_CHECK)


def test_ex1_refuses_heads_trained_for_one_epoch(ex1):
    answer = solution(NB, EX1).replace("epochs=EPOCHS", "epochs=1")
    assert "early stopping" in verdict(ex1, answer, NB, EX1_CHECK)


def test_ex2_solution_holds(ex2):
    assert verdict(ex2, solution(NB, EX2), NB, EX2_CHECK) is None


def test_ex2_refuses_the_packaged_topk_without_ranks_of_ones_own(ex2):
    answer = """
from course_utils.metrics import topk_accuracy
import matplotlib.pyplot as plt
ks = list(range(1, min(10, n_classes) + 1))
accuracy = topk_accuracy(evaluation.targets, evaluation.outputs, ks)
fig, ax = plt.subplots()
ax.plot(ks, [accuracy[k] for k in ks])
ax.set(xlabel="k", ylabel="accuracy", title="top-k")
k_99 = next((k for k in ks if accuracy[k] >= 0.99), None)
"""
    assert "ranks" in verdict(ex2, answer, NB, EX2_CHECK)


def test_ex2_refuses_ranks_counted_from_zero(ex2):
    answer = solution(NB, EX2).replace(".sum(dim=1) + 1", ".sum(dim=1)")
    assert "rank" in verdict(ex2, answer, NB, EX2_CHECK)
