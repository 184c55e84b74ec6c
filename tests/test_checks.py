"""course_utils.checks: what an exercise's check says when the answer holds, and when it does not."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest
import torch

from course_utils.checks import CheckFailed, check, defined, max_error, missing_labels


def test_a_holding_answer_prints_a_tick_and_why(capsys):
    check(2 + 2 == 4, "2 + 2 is 4", "2 + 2 should be 4")
    assert capsys.readouterr().out == "✔ 2 + 2 is 4\n"
    check(True, None, "unused")  # a hidden test: silent when it holds
    assert capsys.readouterr().out == ""


def test_a_wrong_answer_stops_with_one_sentence_and_no_tick(capsys):
    with pytest.raises(CheckFailed, match="^the output should have 6 channels, yours has 3$"):
        check(3 == 6, "6 channels", "the output should have 6 channels, yours has 3")
    assert capsys.readouterr().out == ""
    assert issubclass(CheckFailed, AssertionError)  # nbgrader scores a failing assertion as 0 points


def test_defined_names_the_first_missing_answer():
    defined({"corr2d_ps": print}, "corr2d_ps")
    with pytest.raises(CheckFailed, match="`k_99` is not defined yet"):
        defined({"corr2d_ps": print}, "corr2d_ps", "k_99", "other")


def test_defined_with_a_type_refuses_a_value_of_another_type_in_plain_words():
    defined({"counts_lenet": {"conv1": 156}}, "counts_lenet", expected=dict)
    defined({"share": 0.96, "n": 3}, "share", "n", expected=(float, int))
    with pytest.raises(CheckFailed, match="^`counts_lenet` should be a dict, but yours is a Tensor: check what"):
        defined({"counts_lenet": torch.zeros(3)}, "counts_lenet", expected=dict)
    with pytest.raises(CheckFailed, match="`share` should be a float or an int, but yours is a str"):
        defined({"share": "96 %"}, "share", expected=(float, int))
    with pytest.raises(CheckFailed, match="`other` is not defined yet"):
        defined({"counts_lenet": {}}, "counts_lenet", "other", expected=dict)


def test_max_error_compares_numbers_and_tensors_and_refuses_other_shapes():
    assert max_error(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.5])) == pytest.approx(0.5)
    assert max_error(3, 3.25) == pytest.approx(0.25)
    assert max_error(torch.zeros(2, 3), torch.zeros(3, 2)) == float("inf")
    assert max_error(torch.zeros(0), torch.zeros(0)) == 0.0


def test_missing_labels_lists_what_a_figure_lacks():
    fig, ax = plt.subplots()
    assert missing_labels(ax) == ["a title", "an x-axis label", "a y-axis label"]
    ax.set(title="Loss per epoch", xlabel="epoch")
    assert missing_labels(ax) == ["a y-axis label"]
    ax.set_ylabel("loss")
    assert missing_labels(ax) == []
    plt.close(fig)


def test_forbidden_refuses_the_builtins_within_the_block_and_restores_them():
    from torch import nn
    from torch.nn import functional

    from course_utils.checks import forbidden

    logits, targets = torch.randn(4, 3), torch.tensor([0, 2, 1, 0])
    expected = functional.cross_entropy(logits, targets)
    targets_off = ((functional, "cross_entropy"), (nn.CrossEntropyLoss, "forward"))
    with forbidden("write it from tensor operations", *targets_off):
        with pytest.raises(CheckFailed, match="^write it from tensor operations$"):
            functional.cross_entropy(logits, targets)
        with pytest.raises(CheckFailed):
            nn.CrossEntropyLoss()(logits, targets)
        assert torch.isfinite(functional.log_softmax(logits, dim=1)).all()  # what is not named still works
    with pytest.raises(ZeroDivisionError), forbidden("unused", *targets_off):
        raise ZeroDivisionError
    assert nn.CrossEntropyLoss()(logits, targets) == functional.cross_entropy(logits, targets) == expected
