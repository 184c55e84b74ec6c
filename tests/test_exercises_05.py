"""Notebook 05's exercise checks refuse the shortcuts of issue 22 and accept the notebook's own solutions.

The lesson cells run in the quick profile on a data folder of their own (the split and the feature cache go to a
temporary folder; the photos are read where they are), with fine-tuning cut to two photos: a few seconds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from exercises import cells_by_id, lesson, plain_python, solution, verdict

import course_utils as cu

NB = "05_dogs_vs_cats.ipynb"
BEFORE_FINETUNING = (
    "c9622e86",  # imports
    "825d9cdd",  # settings
    "e4c6d5dc",  # the backbone
    "98730b0a",  # the split
    "1aef66ff",  # ImageFolder
    "f25e334d",  # the transforms (export)
    "185f6e68",  # train_tf, eval_tf
    "bb42b2c0",  # train_set, valid_set, a batch
    "1e629238",  # ImageNet's dog and cat classes
    "6846850f",  # wrong_tf
    "adf79100",  # the model fine-tuning trains
)
AFTER_FINETUNING = (
    "1df64ec4",  # fine-tuning (two photos here)
    "7f0e5a11",  # the frozen extractor
    "8e66de25",  # cached features
    "c5eb6c77",  # the linear head
    "71d329d3",  # the head on fine-tuning's photos
    "71d329d4",  # the table: per_epoch, n_valid
    "10002b2c",  # result, classes
    "c17ea75a",  # no_training_acc, standard_error
    "28342fb0",  # classifier
)


@pytest.fixture(scope="module")
def ns(tmp_path_factory, one_thread) -> dict:
    data = tmp_path_factory.mktemp("data")
    (data / "dogs-vs-cats").symlink_to(cu.data_root() / "dogs-vs-cats")
    before = os.environ.get("COURSE_DATA")
    os.environ["COURSE_DATA"] = str(data)
    try:
        namespace = lesson(NB, *BEFORE_FINETUNING)
        namespace["FINETUNE_IMAGES"] = 2
        for cell_id in AFTER_FINETUNING:
            exec(compile(plain_python(cells_by_id(NB)[cell_id]), f"{NB}[{cell_id}]", "exec"), namespace)
    finally:
        os.environ.pop("COURSE_DATA") if before is None else os.environ.update(COURSE_DATA=before)
    assert Path(namespace["split_dir"]).is_relative_to(data)
    return namespace


BIGGER = "bigger = make_head(backbone.in_features, 2, hidden=256, dropout=0.4)\n"
TRAIN_BIGGER = """
cu.set_seed(0)
optimizer = torch.optim.SGD(bigger.parameters(), lr={lr}, momentum=0.9)
bigger_history = cu.fit(bigger, train_features, valid_features, loss_fn=loss_fn, optimizer=optimizer,
                        epochs={epochs}, device=DEVICE, verbose=False)
"""


def test_ex1_solution_passes(ns):
    assert verdict(ns, solution(NB, "a522cb04"), NB, "d77176e8") is None


def test_ex1_refuses_an_untrained_head_with_the_linear_heads_history(ns):
    assert "none of bigger_history's" in verdict(ns, BIGGER + "bigger_history = head_history", NB, "d77176e8")


def test_ex1_refuses_an_untrained_head_with_a_made_up_history(ns):
    made_up = "bigger_history = {'epoch': list(range(1, 16)), 'train_loss': [0.7 - e / 100 for e in range(15)],"
    made_up += " 'valid_loss': [0.5] * 15, 'valid_acc': [0.99] * 15}"
    assert verdict(ns, BIGGER + made_up, NB, "d77176e8") is not None


def test_ex1_refuses_one_epoch(ns):
    assert "epochs of training" in verdict(ns, BIGGER + TRAIN_BIGGER.format(lr=0.01, epochs=1), NB, "d77176e8")


def test_ex1_refuses_a_head_no_better_than_no_training(ns):
    # trained in form only: a learning rate too small to move it, so it stays at what the untrained head gives
    answer = BIGGER + TRAIN_BIGGER.format(lr=1e-9, epochs=ns["HEAD_EPOCHS"])
    answer += "bigger_history['train_loss'][-1] = 0.0\n"  # the loss check passes: the accuracy bar must refuse it
    assert "no training at all" in verdict(ns, answer, NB, "d77176e8")


def test_ex2_solution_passes(ns):
    assert verdict(ns, solution(NB, "bb689007"), NB, "6ffb9455") is None


def test_ex2_refuses_unequal_steps(ns):
    # the old exercise: each size trained on its own photos only, so 5 photos per class got a handful of steps
    answer = solution(NB, "bb689007").replace("keep.repeat(-(-len(train_y) // len(keep)))[: len(train_y)]", "keep")
    assert "same number of optimisation steps" in verdict(ns, answer, NB, "6ffb9455")


PICTURES = """
from PIL import Image
from skimage import data as skdata

two = [Image.fromarray(skdata.chelsea()), Image.fromarray(skdata.coffee())]
"""


def test_ex3_solution_passes(ns):
    assert verdict(ns, solution(NB, "948920cb"), NB, "958009b6") is None


@pytest.mark.parametrize(
    ("shortcut", "body"),
    [
        ("constant", "return torch.tensor([[1.0, 0.0]] * len(pictures))"),
        ("logits", "return classifier(torch.stack([eval_tf(p) for p in pictures]))"),
        ("softmax over the batch", "return classifier(torch.stack([eval_tf(p) for p in pictures])).softmax(dim=0)"),
    ],
)
def test_ex3_refuses_probabilities_computed_wrong(ns, shortcut, body):
    answer = PICTURES + "from torchvision.transforms import v2\n"
    answer += (
        "tf = v2.Compose([v2.Resize(256), v2.CenterCrop(224), v2.ToImage(), v2.ToDtype(torch.float32, scale=True)])\n"
    )
    answer += f"def cat_dog_probabilities(pictures):\n    with torch.inference_mode():\n        {body}\n"
    answer += "picture_probs = cat_dog_probabilities(two)\n"
    assert verdict(ns, answer, NB, "958009b6") is not None, shortcut


def test_ex3_refuses_hard_coded_probabilities(ns):
    answer = solution(NB, "948920cb") + "\npicture_probs = torch.tensor([[1.0, 0.0], [0.5, 0.5]])\n"
    assert "chelsea first, then coffee" in verdict(ns, answer, NB, "958009b6")
