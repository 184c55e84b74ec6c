"""MNIST-sized data in memory: three disjoint, seeded splits (train, valid carved from train, test) and TensorLoader."""

from __future__ import annotations

import pytest
import torch

import course_utils as cu
from course_utils import tensors
from course_utils.env import data_root


def test_the_test_split_matches_torchvision():
    from torchvision.datasets import FashionMNIST

    ours = tensors.load_mnist("FashionMNIST", split="test", normalize=False)
    theirs = FashionMNIST(str(data_root()), train=False)
    x, y = ours.tensors
    assert x.shape == (len(theirs), 1, 28, 28)
    assert x.dtype == torch.float32
    assert torch.equal(y, theirs.targets)
    assert torch.equal((x[:, 0] * 255).round().byte(), theirs.data)


def test_valid_is_carved_from_train_disjoint_seeded_and_deterministic():
    everything = tensors.load_mnist("MNIST", valid_size=0, normalize=False).tensors[0]
    carved = tensors.split_indices(len(everything), valid_size=5000, seed=0)
    train, valid = carved["train"], carved["valid"]
    assert (len(train), len(valid)) == (len(everything) - 5000, 5000)
    assert not set(train.tolist()) & set(valid.tolist()), "no training image is also a validation image"
    assert torch.equal(torch.cat([train, valid]).sort().values, torch.arange(len(everything)))
    assert torch.equal(tensors.split_indices(len(everything), seed=0)["valid"], valid), "the same split every time"
    assert not torch.equal(tensors.split_indices(len(everything), seed=1)["valid"], valid), "another seed, another"
    for split, index in carved.items():
        loaded = tensors.load_mnist("MNIST", split=split, normalize=False).tensors[0]
        assert torch.equal(loaded, everything[index]), split


def test_loaders_give_train_valid_and_test_with_seeded_limits():
    train, valid, test = cu.mnist_loaders("MNIST", batch_size=100, train_limit=300, valid_limit=200, test_limit=100)
    assert [len(loader.dataset) for loader in (train, valid, test)] == [300, 200, 100]
    assert (train.shuffle, valid.shuffle, test.shuffle) == (True, False, False)
    whole = {split: tensors.load_mnist("MNIST", split=split).tensors[0] for split in ("train", "valid")}
    for split, loader in (("train", train), ("valid", valid)):
        rows = {image.numpy().tobytes() for image in whole[split]}
        assert all(image.numpy().tobytes() in rows for image in loader.dataset.tensors[0]), f"a subset of {split}"
    again = cu.mnist_loaders("MNIST", batch_size=100, train_limit=300, valid_limit=200, test_limit=100)
    for loader, repeated in zip((train, valid, test), again, strict=True):
        assert torch.equal(loader.dataset.tensors[0], repeated.dataset.tensors[0])


def test_subset_is_seeded_and_loader_covers_every_sample():
    a = tensors.load_mnist("MNIST", limit=500, seed=1)
    b = tensors.load_mnist("MNIST", limit=500, seed=1)
    assert torch.equal(a.tensors[1], b.tensors[1])
    assert len(a) == 500
    loader = tensors.TensorLoader(a, batch_size=64, shuffle=True, seed=0)
    labels = torch.cat([y for _, y in loader])
    assert len(loader) == 8
    assert torch.equal(labels.sort().values, a.tensors[1].sort().values)
    first, second = (torch.cat([y for _, y in loader]) for _ in range(2))
    assert not torch.equal(first, second), "each epoch is shuffled anew"


def test_reseed_restarts_the_shuffling():
    dataset = torch.utils.data.TensorDataset(torch.arange(50))
    loader = tensors.TensorLoader(dataset, 8, shuffle=True, seed=3)
    first = torch.cat([x for (x,) in loader])
    torch.cat([x for (x,) in loader])  # a second epoch moves the shuffle on
    loader.reseed(3)
    assert torch.equal(torch.cat([x for (x,) in loader]), first)


def test_an_unknown_split_is_refused():
    with pytest.raises(ValueError, match="unknown split.*'validation'.*train, valid, test"):
        tensors.load_mnist("MNIST", split="validation")


def test_the_public_surface_needs_no_module():
    assert cu.MNIST_STATS is tensors.MNIST_STATS
    assert cu.FASHION_CLASSES is tensors.FASHION_CLASSES
    assert cu.batch_run is cu.env.batch_run
    assert cu.in_notebook is cu.env.in_notebook
    assert cu.checks.check is not None
