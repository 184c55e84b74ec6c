"""Metrics on known tensors: predictions, top-k, per-class accuracy, confusion counts, and evaluate() on a model."""

from __future__ import annotations

import torch
from torch import nn

from course_utils import metrics
from course_utils.data import TensorLoader

OUTPUTS = torch.tensor([[0.1, 0.5, 0.4], [0.7, 0.2, 0.1], [0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
TARGETS = torch.tensor([2, 0, 0, 1])


def test_topk_and_per_class_on_known_tensors():
    assert metrics.topk_accuracy(OUTPUTS, TARGETS, ks=(1, 2, 3, 7)) == {1: 0.25, 2: 0.75, 3: 1.0}  # 7 > 3 classes
    per_class = metrics.per_class_accuracy(OUTPUTS.argmax(1), TARGETS, 4)
    assert per_class[:3].tolist() == [0.5, 0.0, 0.0] and torch.isnan(per_class[3])


def test_predictions_of_one_logit_and_of_several():
    assert metrics.predictions(torch.tensor([[-1.0], [2.0]])).tolist() == [0, 1]
    assert metrics.predictions(OUTPUTS).tolist() == [1, 0, 2, 0]


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    cm = metrics.confusion_matrix(TARGETS, OUTPUTS.argmax(1), 3)
    assert cm.tolist() == [[1, 0, 1], [1, 0, 0], [0, 1, 0]] and cm.sum() == len(TARGETS)


def test_evaluate_runs_in_eval_mode_without_gradients():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5))
    with torch.no_grad():
        model[0].weight.copy_(torch.eye(3))
        model[0].bias.zero_()
    model.train()
    loader = TensorLoader(torch.utils.data.TensorDataset(OUTPUTS, TARGETS), batch_size=3)
    result = metrics.evaluate(model, loader, nn.CrossEntropyLoss())
    assert not model.training  # dropout off: the outputs are the inputs themselves
    assert torch.equal(result.outputs, OUTPUTS) and result.acc == 0.25 and result.topk == {1: 0.25}
    assert abs(result.loss - nn.functional.cross_entropy(OUTPUTS, TARGETS).item()) < 1e-6
    assert not result.outputs.requires_grad
