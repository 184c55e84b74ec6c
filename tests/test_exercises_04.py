"""Notebook 04's exercise checks refuse the shortcuts (issue 22) and hold for the notebook's solutions."""

from __future__ import annotations

import pytest

from tests.exercises import lesson, solution, verdict

NB = "04_inception_resnet.ipynb"
SETUP, MULTS, INCEPTION_A, INCEPTION_NET, N_PARAMS, BN_BLOCKS = (
    "744f149a",
    "d3a01302",
    "582223ed",
    "e417b913",
    "0a7a8bdc",
    "init-bn-code",
)
EX1 = ("be963f7d", "6998951c")
EX2 = ("436abf83", "47b743bc")
EX3 = ("da65d54c", "b9c20422")


@pytest.fixture(scope="module")
def lesson_04() -> dict:
    """The lesson cells the three exercises build on: count_mults, InceptionA, n_params, ResidualBNBlock."""
    return lesson(NB, SETUP, MULTS, INCEPTION_A, INCEPTION_NET, N_PARAMS, BN_BLOCKS)


@pytest.mark.parametrize("exercise", [EX1, EX2, EX3], ids=["ex1", "ex2", "ex3"])
def test_the_solutions_pass(lesson_04, exercise):
    answer, check = exercise
    assert verdict(lesson_04, solution(NB, answer), NB, check) is None


# Exercise 2: the bottleneck block. The lesson's ResidualBNBlock renamed (two 3x3 convolutions, no squeeze) ...
BASIC_BLOCK_RENAMED = """
class BottleneckBlock(ResidualBNBlock):
    def __init__(self, channels, squeeze):
        super().__init__(channels)


bottleneck_params = n_params(BottleneckBlock(64, 16))
bottleneck_mults = count_mults(BottleneckBlock(64, 16), torch.zeros(1, 64, 14, 14))
basic_mults = count_mults(ResidualBNBlock(64), torch.zeros(1, 64, 14, 14))
"""

# ... and the right layers without the shortcut.
NO_SHORTCUT = """
class BottleneckBlock(nn.Module):
    def __init__(self, channels, squeeze):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, squeeze, 1, bias=False), nn.BatchNorm2d(squeeze), nn.ReLU(),
            nn.Conv2d(squeeze, squeeze, 3, padding=1, bias=False), nn.BatchNorm2d(squeeze), nn.ReLU(),
            nn.Conv2d(squeeze, channels, 1, bias=False), nn.BatchNorm2d(channels),
        )

    def forward(self, x):
        return F.relu(self.body(x))


bottleneck_params = n_params(BottleneckBlock(64, 16))
bottleneck_mults = count_mults(BottleneckBlock(64, 16), torch.zeros(1, 64, 14, 14))
basic_mults = count_mults(ResidualBNBlock(64), torch.zeros(1, 64, 14, 14))
"""


@pytest.mark.parametrize(
    ("shortcut", "refusal"),
    [(BASIC_BLOCK_RENAMED, "1x1 conv 64 -> 16"), (NO_SHORTCUT, "shortcut")],
    ids=["basic-block-renamed", "no-shortcut"],
)
def test_ex2_refuses(lesson_04, shortcut, refusal):
    said = verdict(lesson_04, shortcut, NB, EX2[1])
    assert said is not None
    assert refusal in said


# Exercise 3: the hint's one count_mults of the whole block, put in as one lump, with the block's own total for
# the block without squeezes: the old exercise's answer, copied from the hint.
ONE_LUMP = """
total = count_mults(InceptionA(192), torch.zeros(1, 192, 28, 28))
branch_costs = {"1x1": total, "5x5": 0, "3x3": 0, "pool": 0}
no_squeeze_cost = total
"""

# The branches right but the squeezes only dropped, not replaced: the 5x5 and 3x3 reading 16 channels still.
SQUEEZES_DROPPED = """
branch_costs = {
    "1x1": conv_mults(192, 16, 1, 28, 28),
    "5x5": conv_mults(192, 16, 1, 28, 28) + conv_mults(16, 24, 5, 28, 28),
    "3x3": conv_mults(192, 16, 1, 28, 28) + conv_mults(16, 24, 3, 28, 28) + conv_mults(24, 24, 3, 28, 28),
    "pool": conv_mults(192, 24, 1, 28, 28),
}
no_squeeze_cost = sum(branch_costs.values()) - 2 * conv_mults(192, 16, 1, 28, 28)
"""


@pytest.mark.parametrize(
    ("shortcut", "refusal"),
    [(ONE_LUMP, "branch(es)"), (SQUEEZES_DROPPED, "no_squeeze_cost")],
    ids=["one-lump", "squeezes-dropped"],
)
def test_ex3_refuses(lesson_04, shortcut, refusal):
    said = verdict(lesson_04, shortcut, NB, EX3[1])
    assert said is not None
    assert refusal in said
