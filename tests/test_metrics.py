"""Metrics on known tensors: predictions, top-k, per-class accuracy, confusion counts, and evaluate() on a model."""

from __future__ import annotations

import inspect

import pytest
import torch
from torch import nn

import course_utils as cu
from course_utils import metrics

OUTPUTS = torch.tensor([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
TARGETS = torch.tensor([2, 0, 0, 1])


def test_topk_and_per_class_on_known_tensors():
    assert metrics.topk_accuracy(TARGETS, OUTPUTS, ks=(1, 2, 3, 7)) == {1: 0.25, 2: 0.75, 3: 1.0}  # 7 > 3 classes
    per_class = metrics.per_class_accuracy(TARGETS, OUTPUTS.argmax(1), 4)
    assert per_class[:3].tolist() == [0.5, 0.0, 0.0]
    assert torch.isnan(per_class[3])


def test_per_class_accuracy_is_within_each_true_class():
    targets, preds = torch.tensor([0, 0, 0, 1]), torch.tensor([0, 0, 1, 1])  # swapped, the classes would differ
    expected = [
        sum(p == t for t, p in zip(targets.tolist(), preds.tolist(), strict=True) if t == c) / targets.tolist().count(c)
        for c in (0, 1)
    ]
    assert metrics.per_class_accuracy(targets, preds, 2).tolist() == pytest.approx(expected)


def test_every_comparison_takes_the_targets_first():
    for name, function in inspect.getmembers(metrics, inspect.isfunction):
        parameters = list(inspect.signature(function).parameters)
        if function.__module__ == metrics.__name__ and "targets" in parameters:
            assert parameters[0] == "targets", name
    with pytest.raises(ValueError, match=r"topk_accuracy\(targets, outputs\)"):
        metrics.topk_accuracy(OUTPUTS, TARGETS)  # the old order is refused, not silently wrong


def test_predictions_of_one_logit_and_of_several():
    assert metrics.predictions(torch.tensor([[-1.0], [2.0]])).tolist() == [0, 1]
    assert metrics.predictions(OUTPUTS).tolist() == [1, 0, 2, 0]


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    cm = metrics.confusion_matrix(TARGETS, OUTPUTS.argmax(1), 3)
    assert cm.tolist() == [[1, 0, 1], [1, 0, 0], [0, 1, 0]]
    assert cm.sum() == len(TARGETS)


def test_evaluate_runs_in_eval_mode_without_gradients():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(3))
        model[0].bias.zero_()
    model.train()
    loader = cu.TensorLoader(torch.utils.data.TensorDataset(OUTPUTS, TARGETS), batch_size=3)
    result = metrics.evaluate(model, loader, nn.CrossEntropyLoss())
    assert not model.training  # dropout off: the outputs are the inputs themselves
    assert torch.equal(result.outputs, OUTPUTS)
    assert (result.acc, result.topk) == (0.25, {1: 0.25})
    assert abs(result.loss - nn.functional.cross_entropy(OUTPUTS, TARGETS).item()) < 1e-6
    assert not result.outputs.requires_grad
