"""Checkpoints: one format, written atomically, read back by one loader that refuses what does not fit."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import torch
import torchvision
from skimage import data
from torch import nn

from course_utils.checkpoints import (
    CHECKPOINT_FORMAT,
    CheckpointMismatch,
    head_config,
    load_checkpoint,
    save_checkpoint,
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


def test_a_models_weights_round_trip_into_a_model_of_the_same_shape(tmp_path, source_head):
    trained = nn.DataParallel(source_head(16))  # the wrapper comes off: the keys are the model's own
    path = save_checkpoint(tmp_path / "fit.pt", trained, class_to_idx=CLASSES, epoch=3, valid_loss=0.5)
    model, info = load_checkpoint(path, source_head(16).train(), class_to_idx=CLASSES)
    assert not model.training
    assert all(torch.equal(v, trained.module.state_dict()[k]) for k, v in model.state_dict().items())
    assert info == {
        "format": CHECKPOINT_FORMAT,
        "kind": "model",
        "class_to_idx": CLASSES,
        "settings": {},
        "epoch": 3,
        "valid_loss": 0.5,
    }


def test_weights_of_another_shape_are_refused_before_any_is_loaded(tmp_path, source_head):
    path = save_checkpoint(tmp_path / "fit.pt", source_head(16, 5))
    other = nn.Sequential(nn.Linear(16, 256), nn.ReLU(), nn.Dropout(), nn.Linear(256, 3), nn.LogSoftmax(dim=1))
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(CheckpointMismatch, match=r"do not fit the model \(3.bias: \(5,\) in the file, \(3,\) in the"):
        load_checkpoint(path, other)
    assert all(torch.equal(v, before[k]) for k, v in other.state_dict().items())  # the first layer fitted: untouched
    with pytest.raises(CheckpointMismatch, match="pass that model"):
        load_checkpoint(path)
    with pytest.raises(CheckpointMismatch, match="saved without a class list"):
        load_checkpoint(path, source_head(16, 5), class_to_idx=CLASSES)


def test_a_head_trained_on_cached_features_reloads_as_a_whole_model(lite0, image, tmp_path, source_head):
    head = source_head(lite0.in_features)
    with torch.inference_mode():
        expected = head.eval()(feature_extractor(lite0)(image))
    settings = {"lr": 0.001, "image_size": 96, "classes": list(CLASSES)}
    path = save_checkpoint(
        tmp_path / "ckpt" / "best.pt", head, backbone=lite0, class_to_idx=CLASSES, settings=settings, epoch=4
    )
    assert path.stat().st_size < 2_000_000  # the head only: the frozen body is the published one

    model, info = load_checkpoint(path, backbone=lite0, class_to_idx=CLASSES)
    assert isinstance(model.body, Frozen)
    assert not model.training
    assert (info["kind"], info["backbone"], info["class_to_idx"], info["epoch"]) == ("transfer", FALLBACK, CLASSES, 4)
    assert info["settings"] == settings
    assert not {"head_state", "body_state", "state_dict"} & set(info)
    with torch.inference_mode():
        assert torch.allclose(model(image), expected, atol=1e-6)  # body + head of the file = extractor + the head

    again, _ = load_checkpoint(path)  # without a backbone: the one the checkpoint names is loaded
    with torch.inference_mode():
        assert torch.allclose(again(image), expected, atol=1e-6)
    with pytest.raises(CheckpointMismatch, match="holds a transfer model"):
        load_checkpoint(path, head)


def test_frozen_and_fine_tuned_transfer_models_round_trip(lite0, image, tmp_path, source_head):
    frozen = transfer_model(lite0, source_head(lite0.in_features))
    save_checkpoint(tmp_path / "frozen.pt", nn.DataParallel(frozen), backbone=lite0, class_to_idx=CLASSES)
    assert torch.load(tmp_path / "frozen.pt", weights_only=True)["body_state"] is None

    tuned = transfer_model(lite0, source_head(lite0.in_features), fine_tune=True)
    with torch.no_grad():
        next(tuned.body.parameters()).mul_(0.5)  # stands in for fine-tuning
    save_checkpoint(tmp_path / "tuned.pt", tuned, backbone=lite0, class_to_idx=CLASSES)
    model, _ = load_checkpoint(tmp_path / "tuned.pt", backbone=lite0, class_to_idx=CLASSES)
    assert not isinstance(model.body, Frozen)
    assert torch.equal(next(model.body.parameters()), next(tuned.body.parameters()))
    with torch.inference_mode():
        assert torch.allclose(model(image), tuned.eval()(image), atol=1e-6)


def test_a_checkpoint_of_another_backbone_is_refused(lite0, tmp_path, source_head):
    resnet = Backbone("resnet18", torchvision.models.resnet18(), "fc", 512, lite0.mean, lite0.std, "random weights")
    save_checkpoint(tmp_path / "resnet.pt", source_head(512), backbone=resnet, class_to_idx=CLASSES)
    with pytest.raises(
        CheckpointMismatch,
        match=r"trained on resnet18 features, not efficientnet_lite0.*load_backbone\('resnet18', 'resnet18'\)",
    ):
        load_checkpoint(tmp_path / "resnet.pt", backbone=lite0)

    with pytest.raises(ValueError, match="takes 512 features but efficientnet_lite0 gives 1280"):
        save_checkpoint(tmp_path / "wrong.pt", source_head(512), backbone=lite0, class_to_idx=CLASSES)


def test_a_checkpoint_of_another_class_list_is_refused(lite0, tmp_path, source_head):
    path = save_checkpoint(tmp_path / "best.pt", source_head(lite0.in_features), backbone=lite0, class_to_idx=CLASSES)
    with pytest.raises(
        CheckpointMismatch,
        match=r"3 classes, expected 3\): classes it lacks: \['beaver'\]; classes it has beyond: \['ant'\]",
    ):
        load_checkpoint(path, backbone=lite0, class_to_idx={"accordion": 0, "anchor": 1, "beaver": 2})
    with pytest.raises(CheckpointMismatch, match="the same classes numbered differently"):
        load_checkpoint(path, backbone=lite0, class_to_idx={"anchor": 0, "accordion": 1, "ant": 2})
    with pytest.raises(CheckpointMismatch, match=r"3 classes, expected 2\).*beyond: \['ant'\]"):
        load_checkpoint(path, backbone=lite0, class_to_idx={"accordion": 0, "anchor": 1})
    with pytest.raises(ValueError, match="number the head's 3 outputs"):
        save_checkpoint(tmp_path / "x.pt", source_head(lite0.in_features), backbone=lite0, class_to_idx={"ant": 1})


def test_other_files_and_damaged_weights_are_refused(lite0, tmp_path, source_head):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "absent.pt")):
        load_checkpoint(tmp_path / "absent.pt", backbone=lite0)

    torch.save({"state_dict": source_head(16).state_dict(), "epoch": 3}, tmp_path / "raw.pt")  # a bare torch.save
    with pytest.raises(CheckpointMismatch, match="not a course checkpoint"):
        load_checkpoint(tmp_path / "raw.pt", source_head(16))

    whole = save_checkpoint(tmp_path / "whole.pt", source_head(lite0.in_features), backbone=lite0, class_to_idx=CLASSES)
    (tmp_path / "cut.pt").write_bytes(whole.read_bytes()[:5000])
    with pytest.raises(CheckpointMismatch, match="could not be read as a checkpoint"):
        load_checkpoint(tmp_path / "cut.pt", backbone=lite0)

    damaged = torch.load(whole, weights_only=True)
    damaged["head_state"]["3.weight"] = torch.zeros(5, 256)  # 5 outputs where the config says 3
    torch.save(damaged, tmp_path / "damaged.pt")
    with pytest.raises(CheckpointMismatch, match=r"(?s)do not fit the model.*size mismatch for 3.weight"):
        load_checkpoint(tmp_path / "damaged.pt", backbone=lite0)


def test_stored_values_must_be_plain_and_not_the_formats_own(lite0, tmp_path, source_head):
    head = source_head(lite0.in_features)
    with pytest.raises(TypeError, match=r"settings\['data'\] is a PosixPath.*str\(path\)"):
        save_checkpoint(tmp_path / "x.pt", head, backbone=lite0, class_to_idx=CLASSES, settings={"data": tmp_path})
    with pytest.raises(ValueError, match=r"\['kind'\] are the checkpoint's own fields"):
        save_checkpoint(tmp_path / "x.pt", head, kind="mine")
    assert not (tmp_path / "x.pt").exists()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, source_head, monkeypatch):
    path = save_checkpoint(tmp_path / "x.pt", source_head(16), epoch=1)

    def fails_half_way(obj: object, file) -> None:
        file.write(b"half a checkpoint")
        raise OSError("disk full (made by the test)")

    monkeypatch.setattr(torch, "save", fails_half_way)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, source_head(16), epoch=2)
    assert load_checkpoint(path, source_head(16))[1]["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["x.pt"]


def test_a_checkpoint_naming_unavailable_weights_says_how_to_get_them(lite0, tmp_path, monkeypatch, source_head):
    vgg = Backbone("vgg16", nn.Identity(), "classifier.6", 4096, lite0.mean, lite0.std, "stand-in")
    path = save_checkpoint(tmp_path / "vgg.pt", source_head(4096), backbone=vgg, class_to_idx=CLASSES)

    def no_network(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known (network disabled by the test)")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(RuntimeError, match=r"VGG-16 ImageNet weights.*vgg16-397923af.pth"):
        load_checkpoint(Path(path))  # never a VGG head on another backbone's features
