"""MNIST-sized data held as tensors in memory: the train, valid and test splits of (Fashion-)MNIST, and TensorLoader.

One vocabulary for the splits: `valid` is carved from the 60,000 training images by a seeded permutation (5,000 by
default, leaving 55,000 to train on) and chooses epochs, hyperparameters and models; `test` is the 10,000 test images,
evaluated once, at the end. A limit takes a seeded subset of a split (the quick profile).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from .data import require

# Pixel mean and std of all 60,000 training images (the published values); the train split's 55,000 alone give the
# same to within about 0.0001.
MNIST_STATS = {"MNIST": (0.1307, 0.3081), "FashionMNIST": (0.2860, 0.3530)}
FASHION_CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]
SPLITS = ("train", "valid", "test")
VALID_SIZE = 5000


def _read_idx(path: Path) -> torch.Tensor:
    data = path.read_bytes()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return torch.frombuffer(bytearray(data[4 + 4 * ndim :]), dtype=torch.uint8).reshape(shape)


def _images_and_labels(root: Path, prefix: str) -> list[torch.Tensor]:
    """The images (N, 28, 28) and labels (N,) of one idx pair: prefix "train" (60,000) or "t10k" (10,000)."""
    return [_read_idx(root / f"{prefix}-{kind}-ubyte") for kind in ("images-idx3", "labels-idx1")]


def _permutation(n: int, seed: int) -> torch.Tensor:
    return torch.randperm(n, generator=torch.Generator().manual_seed(seed))


def split_indices(n: int, *, valid_size: int = VALID_SIZE, seed: int = 0) -> dict[str, torch.Tensor]:
    """The indices of `n` training images by split: `valid_size` drawn by a seeded permutation, the rest train."""
    if not 0 <= valid_size <= n:
        raise ValueError(f"valid_size must be between 0 and the {n} training images, got {valid_size}")
    order = _permutation(n, seed)
    return {"train": order[valid_size:].sort().values, "valid": order[:valid_size].sort().values}


def _subset(index: torch.Tensor, limit: int | None, seed: int) -> torch.Tensor:
    """A seeded subset of `limit` of the indices (all of them, in order, without a limit)."""
    if limit is None or limit >= len(index):
        return index
    return index[_permutation(len(index), seed)[:limit]]


def _mnist_splits(
    name: str, limits: Mapping[str, int | None], *, valid_size: int, seed: int, normalize: bool
) -> dict[str, TensorDataset]:
    """The splits named in `limits` (each a seeded subset of at most its limit), reading each idx file once."""
    unknown = set(limits) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split(s) {sorted(unknown)}: the splits are {', '.join(SPLITS)}")
    root, indices, found = require(name), {}, {}
    if {"train", "valid"} & set(limits):
        found["train"] = _images_and_labels(root, "train")
        indices = split_indices(len(found["train"][1]), valid_size=valid_size, seed=seed)
    if "test" in limits:
        found["test"] = _images_and_labels(root, "t10k")
        indices["test"] = torch.arange(len(found["test"][1]))
    mean, std = MNIST_STATS[name] if normalize else (0.0, 1.0)
    datasets = {}
    for split, limit in limits.items():
        images, labels = found["test" if split == "test" else "train"]
        keep = _subset(indices[split], limit, seed)
        x = images[keep].unsqueeze(1).float().div_(255).sub_(mean).div_(std)
        datasets[split] = TensorDataset(x, labels[keep].long())
    return datasets


def load_mnist(
    name: str = "FashionMNIST",
    *,
    split: str = "train",
    limit: int | None = None,
    valid_size: int = VALID_SIZE,
    seed: int = 0,
    normalize: bool = True,
) -> TensorDataset:
    """One split ("train", "valid" or "test") of MNIST or Fashion-MNIST as float tensors (N, 1, 28, 28) in memory.

    valid_size=0 leaves all 60,000 training images in "train"; `limit` keeps a seeded subset of the split.
    """
    return _mnist_splits(name, {split: limit}, valid_size=valid_size, seed=seed, normalize=normalize)[split]


class TensorLoader:
    """Minibatches straight from tensors held in memory: what a DataLoader does, without per-item work."""

    def __init__(
        self,
        dataset: TensorDataset,
        batch_size: int = 256,
        *,
        shuffle: bool = False,
        seed: int = 0,
        device: torch.device | str | None = None,
    ):
        self.dataset = dataset
        self.tensors = [t.to(device) for t in dataset.tensors] if device else list(dataset.tensors)
        self.batch_size, self.shuffle = batch_size, shuffle
        self._generator = torch.Generator().manual_seed(seed)

    def reseed(self, seed: int = 0) -> None:
        """Restart the shuffling: the epochs that follow get the batches of a new loader made with `seed`."""
        self._generator.manual_seed(seed)

    def __len__(self) -> int:
        return -(-len(self.tensors[0]) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, ...]]:
        n = len(self.tensors[0])
        order = torch.randperm(n, generator=self._generator) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                yield tuple(t[start : start + self.batch_size] for t in self.tensors)
            else:
                index = order[start : start + self.batch_size].to(self.tensors[0].device)
                yield tuple(t[index] for t in self.tensors)


def mnist_loaders(
    name: str = "FashionMNIST",
    *,
    batch_size: int = 256,
    valid_size: int = VALID_SIZE,
    train_limit: int | None = None,
    valid_limit: int | None = None,
    test_limit: int | None = None,
    seed: int = 0,
    normalize: bool = True,
) -> tuple[TensorLoader, TensorLoader, TensorLoader]:
    """Shuffled train, ordered valid and ordered test TensorLoaders over MNIST or Fashion-MNIST held in memory.

    valid holds `valid_size` of the 60,000 training images (seeded, disjoint from train); each limit keeps a seeded
    subset of its split.
    """
    limits = {"train": train_limit, "valid": valid_limit, "test": test_limit}
    sets = _mnist_splits(name, limits, valid_size=valid_size, seed=seed, normalize=normalize)
    train = TensorLoader(sets["train"], batch_size, shuffle=True, seed=seed)
    return train, TensorLoader(sets["valid"], batch_size), TensorLoader(sets["test"], batch_size)
