"""Notebook 02's exercise checks refuse the shortcuts (issue 21) and hold for the notebook's own solutions."""

from __future__ import annotations

import itertools

import pytest
from exercises import lesson, solution, verdict

NB = "02_data_init_schedules.ipynb"
SCHEDULE_CELLS = ("c001", "c045", "c039", "c041", "c043", "c045-b")  # imports, lr_curve, the three schedulers


@pytest.fixture(scope="module")
def schedules() -> dict:
    return lesson(NB, *SCHEDULE_CELLS)


def test_ex1_solution_passes():
    assert verdict({}, solution(NB, "c051"), NB, "b27552cd") is None


def test_ex1_refuses_itertools_batched(monkeypatch):
    monkeypatch.setattr(itertools, "batched", lambda iterable, n: iter(()), raising=False)  # Python < 3.12
    wrapper = (
        "import itertools\n"
        "def batched(iterable, n):\n    for b in itertools.batched(iterable, n):\n        yield list(b)\n"
    )
    assert "itertools.batched" in verdict({}, wrapper, NB, "b27552cd")


def test_ex2_solution_passes(schedules):
    assert verdict(schedules, solution(NB, "c053"), NB, "2073769b") is None


def test_ex2_refuses_a_copied_curve(schedules):
    copied = 'def warmup_cosine_factor(t):\n    return 1.0\n\nlambda_curve = curves["by hand, fixed"]\n'
    assert "lambda_curve should be" in verdict(schedules, copied, NB, "2073769b")


def test_ex2_refuses_a_factor_read_off_the_lessons_curve(schedules):
    lookup = (
        'def warmup_cosine_factor(t):\n    return curves["by hand, fixed"][min(t, T - 1)] / BASE_LR\n\n'
        "lambda_curve = lr_curve(lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, warmup_cosine_factor))\n"
    )
    assert "first at step 100" in verdict(schedules, lookup, NB, "2073769b")


def test_ex2_refuses_a_factor_that_misses_the_floor(schedules):
    no_floor = solution(NB, "c053").replace("floor=MIN_LR / BASE_LR", "floor=0.0")
    assert "differs from the fixed one" in verdict(schedules, no_floor, NB, "2073769b")


def test_ex3_solution_passes():
    init = lesson(NB, "c001", "c033", "c035", "c035-b")  # imports, the inits, the deep nets and their statistics
    assert verdict(init, solution(NB, "c055"), NB, "399fd2a6") is None
