"""One epoch of LeNet on full Fashion-MNIST, side by side: torchvision's per-item DataLoader vs in-memory TensorLoader.

Run: make bench   (or .venv/bin/python benchmarks/bench_loaders.py [--batch-size 256])
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

import course_utils as cu


def one_epoch(model: nn.Module, loader, optimizer: torch.optim.Optimizer) -> float:
    """Train one epoch and return its wall-clock seconds."""
    loss_fn = nn.CrossEntropyLoss()
    model.train()
    start = time.perf_counter()
    for x, y in loader:
        optimizer.zero_grad()
        loss_fn(model(x), y).backward()
        optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    """Time both loaders on the same model, batch size and data, and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--workers", type=int, default=0, help="DataLoader workers for the per-item loader")
    args = parser.parse_args()
    lenet = cu.lesson_code("03_convolutions_lenet.ipynb")["lenet"]
    cu.require("FashionMNIST")
    per_item = DataLoader(
        datasets.FashionMNIST(str(cu.data_root()), train=True, transform=transforms.ToTensor()),
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.workers,
    )
    everything = cu.load_mnist("FashionMNIST", valid_size=0, normalize=False)  # all 60,000, as torchvision's train
    in_memory = cu.TensorLoader(everything, args.batch_size, shuffle=True)
    times = {}
    for name, loader in (("torchvision ToTensor DataLoader", per_item), ("course_utils TensorLoader", in_memory)):
        cu.set_seed(0)
        model = lenet()
        times[name] = one_epoch(model, loader, torch.optim.SGD(model.parameters(), lr=0.9))
        print(f"{name:34s} {times[name]:6.1f} s/epoch", flush=True)
    ratio = times["course_utils TensorLoader"] / times["torchvision ToTensor DataLoader"]
    print(
        f"ratio in-memory / per-item: {ratio:.2f} (goal <= 0.5)  "
        f"[batch {args.batch_size}, {torch.get_num_threads()} threads, workers {args.workers}]"
    )


if __name__ == "__main__":
    main()
