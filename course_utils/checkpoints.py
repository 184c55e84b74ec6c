"""Checkpoints: written atomically; plain ones of any model, and transfer-model ones that refuse a mismatch."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .models import BACKBONES, Backbone, Frozen, checked_name, load_backbone, make_head, transfer_model


def save_atomically(obj: object, path: str | Path) -> Path:
    """torch.save to a temporary file next to `path`, then rename it: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(obj, file)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
    return path


def save_checkpoint(path: str | Path, model: nn.Module, extra: Mapping[str, Any] | None = None) -> Path:
    """Write the model's state_dict and `extra` to `path` atomically."""
    return save_atomically({"state_dict": model.state_dict(), **(extra or {})}, path)


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
        raise ValueError(
            f"not a head that make_head() builds (Linear, or Linear-ReLU-Dropout-Linear, "
            f"optionally with LogSoftmax): {head}"
        )
    return {
        "in_features": first.in_features,
        "num_classes": last.out_features,
        "hidden": hidden,
        "dropout": dropout,
        "log_softmax": log_softmax,
    }


def save_transfer_checkpoint(
    path: str | Path,
    model: nn.Module,
    backbone: Backbone | str,
    class_to_idx: dict[str, int],
    settings: dict | None = None,
    **extra: object,
) -> Path:
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
    name = backbone.name if isinstance(backbone, Backbone) else checked_name(backbone, BACKBONES)
    if isinstance(backbone, Backbone) and config["in_features"] != backbone.in_features:
        raise ValueError(f"the head takes {config['in_features']} features but {name} gives {backbone.in_features}")
    if sorted(class_to_idx.values()) != list(range(config["num_classes"])):
        raise ValueError(
            f"class_to_idx must number the head's {config['num_classes']} outputs 0..{config['num_classes'] - 1}, "
            f"got {len(class_to_idx)} classes: {class_to_idx}"
        )
    for key, value in {"settings": settings, **extra}.items():
        _require_plain(value, key)
    fine_tuned = body is not None and not isinstance(body, Frozen)
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "backbone": name,
        "head_config": config,
        "head_state": {k: v.detach().cpu() for k, v in head.state_dict().items()},
        "body_state": {k: v.detach().cpu() for k, v in body.state_dict().items()} if fine_tuned else None,
        "class_to_idx": dict(class_to_idx),
        "settings": dict(settings or {}),
        **extra,
    }
    path = Path(path)
    save_atomically(checkpoint, path)
    return path


def load_transfer_checkpoint(
    path: str | Path, backbone: Backbone | None = None, class_to_idx: dict[str, int] | None = None
) -> tuple[nn.Sequential, dict]:
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
        raise CheckpointMismatch(
            f"{path} could not be read as a checkpoint ({type(error).__name__}: {error})"
        ) from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointMismatch(
            f"{path} is not a transfer-model checkpoint (format {CHECKPOINT_FORMAT!r}, "
            f"written by save_transfer_checkpoint)"
        )
    name, config, saved_classes = checkpoint["backbone"], checkpoint["head_config"], checkpoint["class_to_idx"]
    if backbone is not None and backbone.name != name:
        raise CheckpointMismatch(
            f"{path} holds a head trained on {name} features, not {backbone.name}: load it with "
            f"load_backbone({name!r}, {name!r}), or train a new head on {backbone.name}"
        )
    if class_to_idx is not None and dict(class_to_idx) != saved_classes:
        missing = sorted(set(class_to_idx) - set(saved_classes))
        extra = sorted(set(saved_classes) - set(class_to_idx))
        what = (f"classes it lacks: {missing}; " if missing else "") + (
            f"classes it has beyond: {extra}" if extra else ""
        )
        raise CheckpointMismatch(
            f"{path} was trained on another class list ({len(saved_classes)} classes, "
            f"expected {len(class_to_idx)}): {what or 'the same classes numbered differently'}"
        )
    backbone = backbone or load_backbone(name, name)
    if config["in_features"] != backbone.in_features:
        raise CheckpointMismatch(
            f"{path}: the head takes {config['in_features']} features, {name} gives {backbone.in_features}"
        )
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
        raise TypeError(
            f"{where} is a {type(value).__name__}: checkpoints keep plain Python values "
            f"(str, int, float, bool, None, lists, dicts), e.g. str(path) instead of a Path"
        )
