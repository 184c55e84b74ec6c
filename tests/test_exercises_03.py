"""Notebook 03's exercise checks refuse the shortcuts (issues 21 and 23) and hold for the notebook's solutions."""

from __future__ import annotations

import pytest

from tests.exercises import lesson, solution, verdict

NB = "03_convolutions_lenet.ipynb"
SETUP, CORR2D, SIZE, EDGES, N_PARAMS, LENET = "6b76d67a", "5ccd89c4", "fce6e114", "aaad9ed9", "fa03d2b4", "f1a9894c"
EX1 = ("ff757ed8", "004e90b2")
EX2 = ("7fd70e4a", "e02d1231")
EX3 = ("42142393", "75c685f3")


@pytest.fixture(scope="module")
def lesson_03() -> dict:
    """The lesson cells the three exercises build on; `by_hand` is a tensor there, as pooling's cell leaves it."""
    namespace = lesson(NB, SETUP, CORR2D, SIZE, EDGES, N_PARAMS, LENET)
    namespace["by_hand"] = namespace["torch"].zeros(2, 2)
    return namespace


@pytest.mark.parametrize("exercise", [EX1, EX2, EX3], ids=["ex1", "ex2", "ex3"])
def test_the_solutions_pass(lesson_03, exercise):
    answer, check = exercise
    assert verdict(lesson_03, solution(NB, answer), NB, check) is None


HAND_SET_KERNEL = """
def learn_edge(start, steps=20, lr=0.03):
    layer = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[[[1.0, -1.0]]]]))
    return layer, [0.0] * steps


edge_conv, edge_losses = learn_edge(None)
"""

IGNORES_ITS_START = """
def learn_edge(start, steps=20, lr=0.03):
    torch.manual_seed(0)
    layer = nn.Conv2d(1, 1, kernel_size=(1, 2), bias=False)
    X_in, Y_target = img.reshape(1, 1, 6, 8), corr2d(img, edge).reshape(1, 1, 6, 7)
    losses = []
    for _ in range(steps):
        loss = ((layer(X_in) - Y_target) ** 2).sum()
        layer.zero_grad()
        loss.backward()
        with torch.no_grad():
            layer.weight -= lr * layer.weight.grad
        losses.append(loss.item())
    return layer, losses


edge_conv, edge_losses = learn_edge(None)
"""


def test_ex2_refuses_a_kernel_set_by_hand_without_training(lesson_03):
    said = verdict(lesson_03, HAND_SET_KERNEL, NB, EX2[1])
    assert said is not None
    assert "first loss should be" in said


def test_ex2_refuses_training_that_ignores_the_start_it_is_given(lesson_03):
    assert verdict(lesson_03, IGNORES_ITS_START, NB, EX2[1]) is not None


READS_THE_MODULES = """
def lenet_counts(c1=6, c2=16, h1=120, h2=84):
    layers = [nn.Conv2d(1, c1, 5, padding=2), nn.Conv2d(c1, c2, 5), nn.Linear(c2 * 25, h1), nn.Linear(h1, h2),
              nn.Linear(h2, 10)]
    return dict(zip(["conv1", "conv2", "fc1", "fc2", "fc3"], (n_params(m) for m in layers)))
"""

DEFAULT_WIDTHS_ONLY = """
def lenet_counts(c1=6, c2=16, h1=120, h2=84):
    return {"conv1": 156, "conv2": 2416, "fc1": 48120, "fc2": 10164, "fc3": 850}
"""


def test_ex3_refuses_counts_read_from_the_modules(lesson_03):
    said = verdict(lesson_03, READS_THE_MODULES, NB, EX3[1])
    assert said is not None
    assert "compute each count from the widths" in said


def test_ex3_refuses_counts_that_hold_for_the_default_widths_only(lesson_03):
    said = verdict(lesson_03, DEFAULT_WIDTHS_ONLY, NB, EX3[1])
    assert said is not None
    assert "(8, 20, 100, 50)" in said


def test_ex3_a_misnamed_answer_is_not_taken_from_the_lessons_by_hand(lesson_03):
    misnamed = "counts = {'conv1': 156, 'conv2': 2416, 'fc1': 48120, 'fc2': 10164, 'fc3': 850}"
    assert verdict(lesson_03, misnamed, NB, EX3[1]).startswith("`lenet_counts` is not defined yet")


def test_ex3_an_answer_of_the_wrong_type_is_told_so_in_plain_words(lesson_03):
    a_dict = "lenet_counts = {'conv1': 156, 'conv2': 2416, 'fc1': 48120, 'fc2': 10164, 'fc3': 850}"
    assert verdict(lesson_03, a_dict, NB, EX3[1]).startswith("`lenet_counts` should be a function, but yours is a dict")
