"""Head training on cached features vs through the frozen backbone: an epoch each, same head, photos and batch size.

Notebook 05 trains a 2-way head on a frozen pretrained backbone. Without a cache every epoch runs the
backbone over every photo; with one, the backbone runs once (precompute_features) and each epoch only
trains the head on the stored features. This script times both side by side on a few hundred of the
dogs-vs-cats photos, with the transforms of notebook 05 (its cell tagged `export`).

Run: .venv/bin/python benchmarks/bench_features.py [--images 200] [--epochs 2] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import copy
import os
import time

import torch
from torch import nn
from torch.utils.data import DataLoader

import course_utils as cu
from course_utils.features import feature_cache_key, precompute_features
from course_utils.folders import CheckedImageFolder, label_from_name, split_folder
from course_utils.models import feature_extractor, load_backbone, make_head, transfer_model


def epoch_seconds(model: nn.Module, loader, epochs: int, lr: float = 0.001) -> tuple[float, float]:
    """Train `model` for `epochs` with the lesson's recipe (cross-entropy, SGD, momentum): s/epoch, last train acc."""
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9)
    history = cu.fit(
        model,
        loader,
        None,
        loss_fn=nn.CrossEntropyLoss(),
        optimizer=optimizer,
        epochs=epochs,
        device="cpu",
        verbose=False,
    )
    return sum(history["seconds"]) / epochs, history["train_acc"][-1]


def main() -> None:
    """Split a few photos, cache their features, then time both kinds of epoch and print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200, help="photos, half cats and half dogs (default 200)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs timed for each way (default 2)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--size", type=int, default=224, help="image size (default 224)")
    args = parser.parse_args()
    os.environ.setdefault("COURSE_BATCH", "1")  # plain-text progress, no per-epoch bars

    backbone = load_backbone("resnet18")  # $COURSE_BACKBONE chooses, as in the notebook
    print(f"backbone: {backbone.name} - {backbone.reason}")
    image_transforms = cu.lesson_code("05_dogs_vs_cats.ipynb")["image_transforms"]
    _, eval_tf = image_transforms(backbone.mean, backbone.std, args.size)

    # a split of its own (hard links, so no space), so it never rebuilds the notebook's data/splits/dogs-vs-cats
    folder = cu.data_root() / "splits" / "dogs-vs-cats-bench"
    split_folder(
        cu.require("dogs-vs-cats") / "train",
        folder,
        {"train": 1.0},
        label_of=label_from_name,
        seed=0,
        per_class=args.images // 2,
    )
    photos = CheckedImageFolder(folder / "train", transform=eval_tf)

    key = feature_cache_key(backbone.name, eval_tf, photos)
    cached = (cu.cache_dir() / f"{key}.pt").exists()
    start = time.perf_counter()
    features = precompute_features(
        feature_extractor(backbone), photos, cu.cache_dir(), key, batch_size=args.batch_size, desc="features"
    )
    extraction = time.perf_counter() - start

    cu.set_seed(0)
    head = make_head(backbone.in_features, 2)
    through_backbone = transfer_model(backbone, copy.deepcopy(head))  # Frozen(body) + the same initial head
    image_loader = DataLoader(
        photos, batch_size=args.batch_size, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    feature_loader = cu.TensorLoader(features, batch_size=args.batch_size, shuffle=True, seed=0)

    print(
        f"{len(photos)} photos at {args.size} px, batch {args.batch_size}, {args.epochs} epochs each, "
        f"{torch.get_num_threads()} threads"
    )
    slow, slow_acc = epoch_seconds(through_backbone, image_loader, args.epochs)
    print(f"  through the frozen backbone  {slow:9.3f} s/epoch  (train acc {slow_acc:.3f})", flush=True)
    fast, fast_acc = epoch_seconds(copy.deepcopy(head), feature_loader, args.epochs)
    print(f"  head on cached features      {fast:9.3f} s/epoch  (train acc {fast_acc:.3f})")
    how = "read from the cache" if cached else "once"
    print(f"  {f'feature extraction ({how})':28s} {extraction:9.3f} s")
    print(
        f"ratio cached / through the backbone: {fast / slow:.4f} (goal <= 0.05); "
        f"caching is {slow / fast:,.0f}x faster per epoch"
    )


if __name__ == "__main__":
    main()
