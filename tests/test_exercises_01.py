"""Notebook 01's exercise checks refuse the shortcuts (issue 21) and accept the notebook's own solutions: Ex1 with
every weight zeroed, Ex2 with nn.CrossEntropyLoss(label_smoothing=eps), Ex3 with nn.HuberLoss."""

from __future__ import annotations

import pytest

from tests.exercises import lesson, solution, verdict

NB = "01_layers_activations_losses.ipynb"
SETUP, CROSS_ENTROPY, REGRESSION_LOSSES = "c001", "c042", "c039"
EX1, EX2, EX3 = ("c059", "8c0adb0a"), ("c061", "e45c85fd"), ("c063", "6fd86aeb")


@pytest.fixture(scope="module")
def ns() -> dict:
    return lesson(NB, SETUP, CROSS_ENTROPY, REGRESSION_LOSSES)


@pytest.mark.parametrize(("answer", "check"), [EX1, EX2, EX3], ids=["ex1", "ex2", "ex3"])
def test_the_notebooks_solutions_pass(ns, answer, check):
    assert verdict(ns, solution(NB, answer), NB, check) is None


ZEROED = """
torch.manual_seed(1)
chain = [nn.Linear(6, 8), nn.Linear(8, 8), nn.Linear(8, 3)]
single = nn.Linear(6, 3)
with torch.no_grad():
    for layer in [*chain, single]:
        layer.weight.zero_()
        layer.bias.zero_()
"""


def test_ex1_refuses_a_chain_with_every_weight_zeroed(ns):
    assert "torch.manual_seed(1)" in verdict(ns, ZEROED, NB, EX1[1])


def test_ex1_refuses_a_single_layer_that_is_not_the_chains(ns):
    untouched_single = "torch.manual_seed(1)\nchain = [nn.Linear(6, 8), nn.Linear(8, 8), nn.Linear(8, 3)]\n"
    untouched_single += "single = nn.Linear(6, 3)\n"
    assert "differ" in verdict(ns, untouched_single, NB, EX1[1])


def test_ex2_refuses_the_builtin_label_smoothing(ns):
    builtin = "def smoothed_cross_entropy(logits, targets, eps):\n"
    builtin += "    return nn.CrossEntropyLoss(label_smoothing=eps)(logits, targets)\n"
    assert "not nn.CrossEntropyLoss" in verdict(ns, builtin, NB, EX2[1])


def test_ex2_refuses_the_functional_cross_entropy(ns):
    builtin = "def smoothed_cross_entropy(logits, targets, eps):\n"
    builtin += "    return F.cross_entropy(logits, targets, label_smoothing=eps)\n"
    assert "F.cross_entropy" in verdict(ns, builtin, NB, EX2[1])


@pytest.mark.parametrize(
    "body",
    [
        "nn.HuberLoss(delta=delta)(pred, target)",
        "delta * nn.SmoothL1Loss(beta=delta)(pred, target)",
        "F.huber_loss(pred, target, delta=delta)",
        "delta * F.smooth_l1_loss(pred, target, beta=delta)",
    ],
    ids=["HuberLoss", "SmoothL1Loss", "huber_loss", "smooth_l1_loss"],
)
def test_ex3_refuses_the_builtin_huber(ns, body):
    builtin = f"def huber(pred, target, delta=1.0):\n    return {body}\n"
    assert "not nn.HuberLoss" in verdict(ns, builtin, NB, EX3[1])
