"""Checkpoints: one format, written atomically, read back by one loader that refuses what does not fit.

A checkpoint is a dict with `format`, `kind` and plain values (it is read with weights_only=True):
- kind "model": the weights of any model (`state_dict`), loaded into a model of the same shape;
- kind "transfer": a head on a pretrained backbone (the backbone's name, the head's make_head() arguments and
  weights, the body's weights only when it was fine-tuned), from which the whole model is rebuilt.
Both may carry `class_to_idx`, `settings` and any plain values (the epoch, its losses and accuracies).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from .files import atomic_write
from .models import BACKBONES, Backbone, Frozen, checked_name, load_backbone, make_head, transfer_model

CHECKPOINT_FORMAT = "course-checkpoint/1"
KINDS = ("model", "transfer")
WEIGHTS = ("state_dict", "head_state", "body_state")  # what load_checkpoint() loads rather than returns
RESERVED = ("format", "kind", "backbone", "head_config", "class_to_idx", "settings", *WEIGHTS)


class CheckpointMismatch(ValueError):
    """A checkpoint that does not fit what it is loaded for: another backbone, another class list, another file."""


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    *,
    backbone: Backbone | str | None = None,
    class_to_idx: dict[str, int] | None = None,
    settings: dict | None = None,
    **extra: Any,
) -> Path:
    """Write a checkpoint atomically: the model's weights, or with `backbone` a transfer model (or just its head).

    A transfer checkpoint needs `class_to_idx` numbering the head's outputs, and keeps the body's weights only
    when it was fine-tuned (a frozen body is the published pretrained one). `settings` and `extra` must be plain
    Python values. A DistributedDataParallel or DataParallel wrapper is taken off first.
    """
    if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
        model = model.module
    clashes = sorted(set(extra) & set(RESERVED))
    if clashes:
        raise ValueError(f"{clashes} are the checkpoint's own fields: store those values under other names")
    for key, value in {"class_to_idx": class_to_idx, "settings": settings, **extra}.items():
        _require_plain(value, key)
    if backbone is None:
        content = {"kind": "model", "state_dict": _on_cpu(model)}
    else:
        content = _transfer_content(model, backbone, class_to_idx)
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        **content,
        "class_to_idx": None if class_to_idx is None else dict(class_to_idx),
        "settings": dict(settings or {}),
        **extra,
    }
    with atomic_write(path) as file:
        torch.save(checkpoint, file)
    return Path(path)


def load_checkpoint(
    path: str | Path,
    model: nn.Module | None = None,
    *,
    backbone: Backbone | None = None,
    class_to_idx: dict[str, int] | None = None,
) -> tuple[nn.Module, dict]:
    """The model of a save_checkpoint() file, in eval mode, and the file's other values.

    A "model" checkpoint is loaded into `model`; a "transfer" one is rebuilt (the body, then the head) on
    `backbone`, or without it on the backbone the file names. Everything is checked before any weight is
    loaded: another kind, another backbone, another class list (than `class_to_idx`, when given) or weights
    of other shapes raise CheckpointMismatch saying what differs; nothing is loaded half-way.
    """
    path = Path(path)
    checkpoint = _read(path)
    kind = checkpoint["kind"]
    if kind == "model" and (model is None or backbone is not None):
        raise CheckpointMismatch(f"{path} holds the weights of a model, no backbone: pass that model to load them into")
    if kind == "transfer" and model is not None:
        raise CheckpointMismatch(f"{path} holds a transfer model, rebuilt from its backbone: pass no model")
    if class_to_idx is not None:
        _check_classes(path, checkpoint["class_to_idx"], class_to_idx)
    if kind == "model":
        _check_shapes(path, checkpoint["state_dict"], model.state_dict())
        model.load_state_dict(checkpoint["state_dict"])
    else:
        model = _rebuild(path, checkpoint, backbone)
    return model.eval(), {key: value for key, value in checkpoint.items() if key not in WEIGHTS}


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


def _transfer_content(model: nn.Module, backbone: Backbone | str, class_to_idx: dict[str, int] | None) -> dict:
    """The fields of a transfer checkpoint: the backbone's name, the head's config and weights, a fine-tuned body."""
    head = model.head if hasattr(model, "head") and hasattr(model, "body") else model
    body = model.body if head is not model else None
    config = head_config(head)
    name = backbone.name if isinstance(backbone, Backbone) else checked_name(backbone, BACKBONES)
    if isinstance(backbone, Backbone) and config["in_features"] != backbone.in_features:
        raise ValueError(f"the head takes {config['in_features']} features but {name} gives {backbone.in_features}")
    if class_to_idx is None or sorted(class_to_idx.values()) != list(range(config["num_classes"])):
        raise ValueError(
            f"class_to_idx must number the head's {config['num_classes']} outputs 0..{config['num_classes'] - 1}, "
            f"got {len(class_to_idx or {})} classes: {class_to_idx}"
        )
    fine_tuned = body is not None and not isinstance(body, Frozen)
    return {
        "kind": "transfer",
        "backbone": name,
        "head_config": config,
        "head_state": _on_cpu(head),
        "body_state": _on_cpu(body) if fine_tuned else None,
    }


def _on_cpu(module: nn.Module) -> dict[str, torch.Tensor]:
    """A module's weights, detached and on the CPU."""
    return {key: value.detach().cpu() for key, value in module.state_dict().items()}


def _read(path: Path) -> dict:
    """The checkpoint in a file, or FileNotFoundError / CheckpointMismatch saying why there is none."""
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
            f"{path} is not a course checkpoint (format {CHECKPOINT_FORMAT!r}, by save_checkpoint)"
        )
    if checkpoint.get("kind") not in KINDS:
        raise CheckpointMismatch(f"{path} is a checkpoint of an unknown kind {checkpoint.get('kind')!r}")
    return checkpoint


def _check_classes(path: Path, saved: dict[str, int] | None, expected: dict[str, int]) -> None:
    """Refuse a checkpoint whose class list differs from `expected`, saying which classes differ."""
    if saved is None:
        raise CheckpointMismatch(f"{path} was saved without a class list: it cannot be checked against one")
    if dict(expected) == saved:
        return
    missing, beyond = sorted(set(expected) - set(saved)), sorted(set(saved) - set(expected))
    what = (f"classes it lacks: {missing}; " if missing else "") + (
        f"classes it has beyond: {beyond}" if beyond else ""
    )
    raise CheckpointMismatch(
        f"{path} was trained on another class list ({len(saved)} classes, "
        f"expected {len(expected)}): {what or 'the same classes numbered differently'}"
    )


def _check_shapes(path: Path, saved: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """Refuse weights whose names or shapes are not those of the model they are loaded into."""
    wrong = [
        f"{key}: {tuple(saved[key].shape) if key in saved else 'absent'} in the file, "
        f"{tuple(expected[key].shape) if key in expected else 'absent'} in the model"
        for key in sorted(set(saved) | set(expected))
        if key not in saved or key not in expected or saved[key].shape != expected[key].shape
    ]
    if wrong:
        raise CheckpointMismatch(f"{path}: the saved weights do not fit the model ({'; '.join(wrong[:5])})")


def _rebuild(path: Path, checkpoint: dict, backbone: Backbone | None) -> nn.Sequential:
    """A fresh transfer model (body, then head) with the weights of a transfer checkpoint."""
    name, config = checkpoint["backbone"], checkpoint["head_config"]
    if backbone is not None and backbone.name != name:
        raise CheckpointMismatch(
            f"{path} holds a head trained on {name} features, not {backbone.name}: load it with "
            f"load_backbone({name!r}, {name!r}), or train a new head on {backbone.name}"
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
    return model


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
