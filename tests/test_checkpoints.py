"""Checkpoints: atomic writes, and transfer models as notebook 06 and its torchrun script save and refuse to load."""

from __future__ import annotations

import pickle
import socket
from pathlib import Path

import pytest
import torch
import torchvision
from skimage import data
from torch import nn

from course_utils.checkpoints import (
    CheckpointMismatch,
    head_config,
    load_transfer_checkpoint,
    save_atomically,
    save_checkpoint,
    save_transfer_checkpoint,
)
from course_utils.models import FALLBACK, Backbone, Frozen, feature_extractor, make_head, transfer_model

pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.usefixtures("one_thread")]

CLASSES = {"accordion": 0, "anchor": 1, "ant": 2}


@pytest.fixture(scope="module")
def image(lite0, as_input) -> torch.Tensor:
    """A real photo (a coffee cup) as the normalised 96-px batch of one that the backbone expects."""
    return as_input(data.coffee(), lite0, 96)


@pytest.fixture
def source_head(lesson06):
    """Notebook 06's head (Linear-ReLU-Dropout(0.4)-Linear-LogSoftmax), with seeded random weights."""

    def make(in_features: int, num_classes: int = 3) -> nn.Sequential:
        torch.manual_seed(1)
        return lesson06["source_head"](in_features, num_classes)

    return make


def test_head_config_reads_back_make_head_arguments():
    for kwargs in ({"hidden": 256, "dropout": 0.4, "log_softmax": True}, {"log_softmax": True}, {}):
        config = head_config(make_head(1280, 7, **kwargs))
        assert make_head(**config).__repr__() == make_head(1280, 7, **kwargs).__repr__()
    assert head_config(make_head(4096, 101, hidden=256, dropout=0.4, log_softmax=True)) == {
        "in_features": 4096,
        "num_classes": 101,
        "hidden": 256,
        "dropout": 0.4,
        "log_softmax": True,
    }
    with pytest.raises(ValueError, match="make_head"):
        head_config(nn.Sequential(nn.Linear(8, 4), nn.Tanh(), nn.Linear(4, 2)))


def test_a_head_trained_on_cached_features_reloads_as_a_whole_model(lite0, image, tmp_path, source_head):
    head = source_head(lite0.in_features)
    with torch.inference_mode():
        expected = head.eval()(feature_extractor(lite0)(image))
    path = save_transfer_checkpoint(
        tmp_path / "ckpt" / "best.pt",
        head,
        lite0,
        CLASSES,
        settings={"lr": 0.001, "image_size": 96, "classes": list(CLASSES)},
        epoch=4,
    )
    assert path.is_file() and path.stat().st_size < 2_000_000  # the head only: the frozen body is the published one

    model, info = load_transfer_checkpoint(path, lite0, CLASSES)
    assert isinstance(model.body, Frozen) and not model.training
    assert (info["backbone"], info["class_to_idx"], info["epoch"]) == (FALLBACK, CLASSES, 4)
    assert info["settings"] == {"lr": 0.001, "image_size": 96, "classes": list(CLASSES)}
    assert "head_state" not in info and "body_state" not in info
    with torch.inference_mode():
        assert torch.allclose(model(image), expected, atol=1e-6)  # body + head of the file = extractor + the head

    again, _ = load_transfer_checkpoint(path)  # without a backbone: the one the checkpoint names is loaded
    with torch.inference_mode():
        assert torch.allclose(again(image), expected, atol=1e-6)


def test_frozen_and_fine_tuned_transfer_models_round_trip(lite0, image, tmp_path, source_head):
    frozen = transfer_model(lite0, source_head(lite0.in_features))
    save_transfer_checkpoint(tmp_path / "frozen.pt", nn.DataParallel(frozen), lite0, CLASSES)  # wrappers come off
    assert torch.load(tmp_path / "frozen.pt", weights_only=True)["body_state"] is None

    tuned = transfer_model(lite0, source_head(lite0.in_features), fine_tune=True)
    with torch.no_grad():
        next(tuned.body.parameters()).mul_(0.5)  # stands in for fine-tuning
    save_transfer_checkpoint(tmp_path / "tuned.pt", tuned, lite0, CLASSES)
    model, _ = load_transfer_checkpoint(tmp_path / "tuned.pt", lite0, CLASSES)
    assert not isinstance(model.body, Frozen)
    assert torch.equal(next(model.body.parameters()), next(tuned.body.parameters()))
    with torch.inference_mode():
        assert torch.allclose(model(image), tuned.eval()(image), atol=1e-6)


def test_a_checkpoint_of_another_backbone_is_refused(lite0, tmp_path, source_head):
    resnet = Backbone("resnet18", torchvision.models.resnet18(), "fc", 512, lite0.mean, lite0.std, "random weights")
    save_transfer_checkpoint(tmp_path / "resnet.pt", source_head(512), resnet, CLASSES)
    with pytest.raises(
        CheckpointMismatch,
        match=r"trained on resnet18 features, not efficientnet_lite0.*"
        r"load_backbone\('resnet18', 'resnet18'\)",
    ):
        load_transfer_checkpoint(tmp_path / "resnet.pt", lite0)

    with pytest.raises(ValueError, match="takes 512 features but efficientnet_lite0 gives 1280"):
        save_transfer_checkpoint(tmp_path / "wrong.pt", source_head(512), lite0, CLASSES)


def test_a_checkpoint_of_another_class_list_is_refused(lite0, tmp_path, source_head):
    path = save_transfer_checkpoint(tmp_path / "best.pt", source_head(lite0.in_features), lite0, CLASSES)
    with pytest.raises(
        CheckpointMismatch,
        match=r"3 classes, expected 3\): classes it lacks: \['beaver'\]; "
        r"classes it has beyond: \['ant'\]",
    ):
        load_transfer_checkpoint(path, lite0, {"accordion": 0, "anchor": 1, "beaver": 2})
    with pytest.raises(CheckpointMismatch, match="the same classes numbered differently"):
        load_transfer_checkpoint(path, lite0, {"anchor": 0, "accordion": 1, "ant": 2})
    with pytest.raises(CheckpointMismatch, match=r"3 classes, expected 2\).*beyond: \['ant'\]"):
        load_transfer_checkpoint(path, lite0, {"accordion": 0, "anchor": 1})
    with pytest.raises(ValueError, match="number the head's 3 outputs"):
        save_transfer_checkpoint(tmp_path / "x.pt", source_head(lite0.in_features), lite0, {"accordion": 0, "ant": 1})


def test_other_files_and_damaged_weights_are_refused(lite0, tmp_path, source_head):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "absent.pt")):
        load_transfer_checkpoint(tmp_path / "absent.pt", lite0)

    save_checkpoint(tmp_path / "fit.pt", source_head(lite0.in_features), {"epoch": 3})  # fit()'s plain format
    with pytest.raises(CheckpointMismatch, match="not a transfer-model checkpoint"):
        load_transfer_checkpoint(tmp_path / "fit.pt", lite0)

    (tmp_path / "cut.pt").write_bytes(
        Path(
            save_transfer_checkpoint(tmp_path / "whole.pt", source_head(lite0.in_features), lite0, CLASSES)
        ).read_bytes()[:5000]
    )
    with pytest.raises(CheckpointMismatch, match="could not be read as a checkpoint"):
        load_transfer_checkpoint(tmp_path / "cut.pt", lite0)

    damaged = torch.load(tmp_path / "whole.pt", weights_only=True)
    damaged["head_state"]["3.weight"] = torch.zeros(5, 256)  # 5 outputs where the config says 3
    torch.save(damaged, tmp_path / "damaged.pt")
    with pytest.raises(CheckpointMismatch, match=r"(?s)do not fit the model.*size mismatch for 3.weight"):
        load_transfer_checkpoint(tmp_path / "damaged.pt", lite0)


def test_settings_must_be_plain_values(lite0, tmp_path, source_head):
    with pytest.raises(TypeError, match=r"settings\['data'\] is a PosixPath.*str\(path\)"):
        save_transfer_checkpoint(
            tmp_path / "x.pt", source_head(lite0.in_features), lite0, CLASSES, settings={"data": tmp_path}
        )
    assert not (tmp_path / "x.pt").exists()


def test_a_checkpoint_naming_unavailable_weights_says_how_to_get_them(lite0, tmp_path, monkeypatch, source_head):
    vgg = Backbone("vgg16", nn.Identity(), "classifier.6", 4096, lite0.mean, lite0.std, "stand-in")
    path = save_transfer_checkpoint(tmp_path / "vgg.pt", source_head(4096), vgg, CLASSES)

    def no_network(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known (network disabled by the test)")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(RuntimeError, match="VGG-16 ImageNet weights.*vgg16-397923af.pth"):
        load_transfer_checkpoint(path)  # never a VGG head on another backbone's features


def test_save_atomically_leaves_the_old_file_and_no_temporary_on_failure(tmp_path):
    path = save_atomically({"a": torch.ones(2)}, tmp_path / "x.pt")
    with pytest.raises((AttributeError, pickle.PicklingError)):
        save_atomically({"a": lambda: None}, path)  # a lambda cannot be pickled: the write fails half-way
    assert torch.equal(torch.load(path, weights_only=True)["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]
