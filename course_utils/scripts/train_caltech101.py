"""Train notebook 06's model on Caltech-101 with DistributedDataParallel: a process per GPU (or CPU share), by torchrun.

The same split, transforms and head as notebooks/06_caltech101_vgg16.ipynb (its cells tagged `export` are run here),
the same backbone choice (course_utils.models.load_backbone: VGG-16, or the EfficientNet-Lite0 fallback offline),
augmented photos through the frozen backbone every epoch, NLLLoss + Adam, early stopping on the validation loss,
and a checkpoint that the notebook reads with course_utils.checkpoints.load_checkpoint.

    # one machine, 4 GPUs (NCCL)
    OMP_NUM_THREADS=4 torchrun --standalone --nproc_per_node=4 -m course_utils.scripts.train_caltech101 --epochs 30
    # two machines, 4 GPUs each: the same command on both, --node_rank=0 on node0
    OMP_NUM_THREADS=4 torchrun --nnodes=2 --node_rank=0 --nproc_per_node=4 --rdzv_endpoint=node0:29500 \\
        -m course_utils.scripts.train_caltech101 --epochs 30
    # no GPU: two processes on the CPU (Gloo), a small subset
    OMP_NUM_THREADS=1 torchrun --standalone --nproc_per_node=2 -m course_utils.scripts.train_caltech101 \\
        --classes accordion anchor ant --limit-per-class 8 --image-size 64 --epochs 1

Without torchrun (`python -m course_utils.scripts.train_caltech101 ...`) it runs as a single process (a world of one).
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import socket
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Subset

import course_utils as cu
from course_utils.callbacks import Checkpoint, EarlyStopping
from course_utils.checkpoints import save_checkpoint
from course_utils.data import DatasetError
from course_utils.engine import fit
from course_utils.files import write_text
from course_utils.folders import CheckedImageFolder
from course_utils.metrics import evaluate, topk_accuracy
from course_utils.models import BACKBONES, Backbone, load_backbone, transfer_model

NOTEBOOK = "06_caltech101_vgg16.ipynb"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--data", type=Path, help="the split folder, made if absent (default: data/splits/caltech101[-<subset>])")
    add("--classes", nargs="+", metavar="CLASS", help="train on these classes only (default: all 101)")
    add("--limit-per-class", type=int, metavar="N", help="keep N photos per class before the split")
    add("--epochs", type=int, default=30, help="at most this many epochs (default 30)")
    add("--patience", type=int, default=5, help="stop after this many epochs without a better valid loss (5)")
    add("--batch-size", type=int, default=128, help="the global batch, shared out: one optimisation for any world")
    add("--lr", type=float, default=1e-3, help="Adam's learning rate (default 1e-3)")
    add("--image-size", type=int, default=224, help="crop size in pixels (default 224)")
    add(
        "--backbone",
        default=os.environ.get("COURSE_BACKBONE", "auto"),
        choices=("auto", *BACKBONES),
        help="auto: VGG-16 if its weights can be had, else EfficientNet-Lite0 (default: $COURSE_BACKBONE or auto)",
    )
    add("--workers", type=int, help="DataLoader workers per process (default 4 on a GPU, 0 on the CPU)")
    add("--cpu", action="store_true", help="train on the CPU with Gloo even where GPUs are")
    add("--out", type=Path, help="checkpoint path (default data/checkpoints/06_caltech101_ddp.pt)")
    add("--log-samples", type=Path, metavar="JSON", help="write the sample indices of each process and epoch here")
    add("--seed", type=int, default=0)
    add(
        "--deterministic", action="store_true", help="no augmentation or dropout: any world gives one process's numbers"
    )
    args = parser.parse_args(argv)
    if args.data is None:
        subset = f"-{len(args.classes or ()) or 101}classes-{args.limit_per_class or 'all'}"
        args.data = cu.data_root() / "splits" / f"caltech101{subset if args.classes or args.limit_per_class else ''}"
    args.out = args.out or cu.data_root() / "checkpoints" / "06_caltech101_ddp.pt"
    return args


class EpochSampler(DistributedSampler):
    """A DistributedSampler that moves to the next epoch each time it is read (a new shuffle, the same in every
    process: disjoint shares), and keeps the indices it handed out, epoch by epoch (for --log-samples)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[list[int]] = []

    def __iter__(self):
        self.set_epoch(len(self.seen) + 1)  # what the notebook writes as sampler.set_epoch(epoch)
        self.seen.append(list(super().__iter__()))
        return iter(self.seen[-1])


def as_single_process() -> None:
    """Outside torchrun: the environment of a world of one, so the same code runs."""
    if "RANK" in os.environ:
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    os.environ.update(
        RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", LOCAL_WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )


def start_process_group(cpu: bool) -> torch.device:
    """Join the world torchrun set up: NCCL on this process's GPU, or Gloo on the CPU; the device to train on."""
    cuda = torch.cuda.is_available() and not cpu
    device = torch.device("cuda", int(os.environ["LOCAL_RANK"])) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if cuda else "gloo", device_id=device if cuda else None)
    return device


def summed_over_processes(totals: torch.Tensor) -> torch.Tensor:
    """The totals of every process added up (fit's `reduce` hook): every process then has the same numbers."""
    dist.all_reduce(totals)
    return totals


def agree_on_backbone(choice: str) -> Backbone:
    """Rank 0 chooses the backbone (it may download VGG-16); every process then loads that one, each machine's
    local rank 0 first (a download), the others from its cache."""
    rank, local_rank = dist.get_rank(), int(os.environ["LOCAL_RANK"])
    names, backbone = [None], None
    if rank == 0:
        backbone = load_backbone("vgg16", choice)
        names = [backbone.name]
        print(f"backbone: {backbone.name}. {backbone.reason}", flush=True)
    dist.broadcast_object_list(names, src=0)
    for first in (True, False):
        if rank != 0 and (local_rank == 0) == first:
            backbone = load_backbone("vgg16", names[0])
        dist.barrier()
    return backbone


def image_sets(args: argparse.Namespace, lesson: dict, backbone: Backbone) -> dict[str, CheckedImageFolder]:
    """The train, valid and test photos with the notebook's transforms (no augmentation with --deterministic)."""
    if int(os.environ["LOCAL_RANK"]) == 0:  # one process per machine makes the split (hard links); the others wait
        lesson["split_caltech101"](args.data, args.classes, args.limit_per_class, seed=args.seed)
    dist.barrier()
    train_tf = lesson["eval_transform" if args.deterministic else "train_transform"](backbone, args.image_size)
    eval_tf = lesson["eval_transform"](backbone, args.image_size)
    verbose = dist.get_rank() == 0
    sets = {
        split: CheckedImageFolder(args.data / split, train_tf if split == "train" else eval_tf, verbose=verbose)
        for split in ("train", "valid", "test")
    }
    if not sets["train"].class_to_idx == sets["valid"].class_to_idx == sets["test"].class_to_idx:
        raise ValueError(f"{args.data}: train, valid and test do not hold the same classes")
    return sets


def wrapped_model(lesson: dict, backbone: Backbone, classes: int, args: argparse.Namespace, device: torch.device):
    """The frozen body and the notebook's head (seeded: the same start in every process and world size), in DDP."""
    cu.set_seed(args.seed)
    head = lesson["source_head"](backbone.in_features, classes)
    if args.deterministic:
        for layer in head.modules():
            if isinstance(layer, nn.Dropout):
                layer.p = 0.0
    model = transfer_model(backbone, head).to(device)  # only the head trains
    # the frozen body's buffers (BatchNorm statistics) never change: no need to send them at every forward pass
    # (torch 2.14 renamed broadcast_buffers, now deprecated, to forward_sync_buffers)
    parameters = inspect.signature(DistributedDataParallel).parameters
    no_sync = {"forward_sync_buffers" if "forward_sync_buffers" in parameters else "broadcast_buffers": False}
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None, **no_sync)


def shard(dataset, batch_size: int, workers: int) -> DataLoader:
    """This process's share of a dataset to evaluate: every world-size-th photo, disjoint, none counted twice."""
    rank, world = dist.get_rank(), dist.get_world_size()
    return DataLoader(Subset(dataset, range(rank, len(dataset), world)), batch_size=batch_size, num_workers=workers)


def evaluate_shard(model: nn.Module, loader: DataLoader, device: torch.device) -> dict[str, float]:
    """Top-1 and top-5 accuracy (top-k, k the classes, if fewer) over a whole dataset, from every process's shard."""
    result = evaluate(model, loader, device=device)
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, (result.targets, result.outputs))
    targets, outputs = (torch.cat(parts) for parts in zip(*gathered, strict=True))
    top5 = min(5, outputs.size(1))
    accuracy = topk_accuracy(targets, outputs, (1, top5))
    return {"acc": accuracy[1], "top5": accuracy[top5]}


def train(args: argparse.Namespace) -> int:
    """The whole run in one process of the world: setup, fit() with its callbacks, the test split; exit status."""
    lesson = cu.lesson_code(NOTEBOOK)  # split_caltech101, train_transform, eval_transform, source_head
    cu.require("caltech101")  # every process: an incomplete copy stops all of them with the same message
    device = start_process_group(args.cpu)
    rank, world = dist.get_rank(), dist.get_world_size()
    if args.batch_size % world:
        raise ValueError(f"--batch-size {args.batch_size} does not share out evenly among {world} processes")
    per_process, cuda = args.batch_size // world, device.type == "cuda"
    workers = args.workers if args.workers is not None else (4 if cuda else 0)
    backbone = agree_on_backbone(args.backbone)
    sets = image_sets(args, lesson, backbone)
    classes = sets["train"].class_to_idx
    ddp = wrapped_model(lesson, backbone, len(classes), args, device)
    sampler = EpochSampler(sets["train"], num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(
        sets["train"],
        per_process,
        sampler=sampler,
        num_workers=workers,
        pin_memory=cuda,
        persistent_workers=workers > 0,
    )
    if rank == 0:
        print(
            f"{world} process(es), {dist.get_backend()} on {device.type}; {len(sets['train']):,} training photos of "
            f"{len(classes)} classes, {per_process} per process and step (global batch {args.batch_size})",
            flush=True,
        )
    saving = {"backbone": backbone, "class_to_idx": classes, "settings": run_settings(args, world)}
    stopper = EarlyStopping("valid_loss", args.patience, verbose=rank == 0, module=ddp.module.head)
    history = fit(
        ddp,
        loader,
        shard(sets["valid"], per_process, workers),
        loss_fn=nn.NLLLoss(),
        optimizer=torch.optim.Adam(ddp.module.head.parameters(), lr=args.lr),
        epochs=args.epochs,
        callbacks=[stopper, *([Checkpoint(args.out, "valid_loss", **saving)] if rank == 0 else [])],
        device=device,
        verbose=rank == 0,
        reduce=summed_over_processes,
    )  # the numbers are all-reduced: every process stops at the same epoch, with the best head restored
    test = evaluate_shard(ddp.module, shard(sets["test"], per_process, workers), device)
    if rank == 0:
        best = history.row(history["best_epoch"])
        save_checkpoint(
            args.out, ddp, **saving, **best, test_acc=test["acc"], test_top5=test["top5"], history=dict(history)
        )
        print(
            f"best epoch {best['epoch']}: test top-1 {test['acc']:.2%}, top-5 {test['top5']:.2%}; {args.out} "
            f"({len(sets['train']) * len(history['epoch']) / sum(history['seconds']):.0f} photos/s)",
            flush=True,
        )
    if args.log_samples:
        log_samples(args.log_samples, sampler, sets["train"], args.data)
    return 0


def run_settings(args: argparse.Namespace, world: int) -> dict:
    """What the checkpoint records of the run: the command line (paths as text), the world size and backend."""
    return {
        **{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "train_mode": "backbone",
        "world_size": world,
        "backend": dist.get_backend(),
        "script": "course_utils.scripts.train_caltech101",
    }


def log_samples(path: Path, sampler: EpochSampler, train_set: CheckedImageFolder, root: Path) -> None:
    """Write the training-sample indices each process got, per epoch, with the file list (rank 0 writes)."""
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, sampler.seen)
    if dist.get_rank() == 0:
        record = {
            "world_size": len(gathered),
            "train_size": len(train_set),
            "files": [Path(file).relative_to(root).as_posix() for file, _ in train_set.samples],
            "epochs": [list(ranks) for ranks in zip(*gathered, strict=True)],
        }
        write_text(path, json.dumps(record))


def main(argv: list[str] | None = None) -> int:
    """Run, and turn a missing or damaged dataset (or a bad argument) into a message and exit status 2."""
    args = parse_args(argv)
    as_single_process()
    try:
        return train(args)
    except (DatasetError, ValueError) as error:
        if os.environ.get("RANK") == "0":
            print(f"error: {error}", file=sys.stderr, flush=True)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
