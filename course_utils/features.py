"""Features of a frozen backbone, computed once and cached on disk, so a new head trains in seconds per epoch."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from .files import atomic_write, content_digest
from .progress import progress


def feature_cache_key(backbone_name: str, transform: object, dataset: Dataset, weights: nn.Module | None = None) -> str:
    """A key that changes whenever the backbone (its weights, if given), the transform or a file's content changes."""
    parts = [backbone_name, repr(transform), repr(_file_list(dataset))]
    if weights is not None:
        parts.append(weights_digest(weights))
    return f"{backbone_name}-{hashlib.sha256(chr(10).join(parts).encode()).hexdigest()[:16]}"


def weights_digest(model: nn.Module) -> str:
    """The sha256 of a model's state_dict: every parameter's and buffer's name, shape, dtype and values."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def precompute_features(
    extractor: nn.Module,
    dataset: Dataset,
    cache_dir: Path | str,
    key: str,
    *,
    batch_size: int = 64,
    device: torch.device | str = "cpu",
    num_workers: int = 0,
    desc: str | None = None,
) -> TensorDataset:
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
    with atomic_write(path) as file:  # a reader never finds half a cache file
        torch.save(cached, file)
    return TensorDataset(cached["features"], cached["labels"])


def _file_list(dataset: Dataset) -> object:
    """What identifies the items: (path, label, content sha256) of an ImageFolder or a Subset of one, else the repr."""
    if isinstance(dataset, Subset):
        files = _file_list(dataset.dataset)
        return [files[i] for i in dataset.indices] if isinstance(files, list) else (files, list(dataset.indices))
    samples = getattr(dataset, "samples", None)
    return [(path, label, content_digest(path)) for path, label in samples] if samples else repr(dataset)
