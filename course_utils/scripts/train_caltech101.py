"""Train notebook 06's model on Caltech-101 with DistributedDataParallel: a process per GPU (or CPU share), by torchrun.

The same split, transforms and head as notebooks/06_caltech101_vgg16.ipynb (its cells tagged `export` are run here),
the same backbone choice (course_utils.models.load_backbone: VGG-16, or the EfficientNet-Lite0 fallback offline),
augmented photos through the frozen backbone every epoch, NLLLoss + Adam, early stopping on the validation loss,
and a checkpoint in the format the notebook reads (course_utils.models.load_transfer_checkpoint).

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
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Subset

import course_utils as cu
from course_utils.callbacks import EarlyStopping
from course_utils.checkpoints import save_transfer_checkpoint
from course_utils.data import DatasetError
from course_utils.engine import History
from course_utils.folders import CheckedImageFolder
from course_utils.models import BACKBONES, load_backbone, transfer_model
from course_utils.progress import progress

NOTEBOOK = "06_caltech101_vgg16.ipynb"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="the split folder; the 50/25/25 split of the verified "
        "Caltech-101 is made there if absent or made otherwise (default: data/splits/caltech101, "
        "the notebook's, or data/splits/caltech101-<subset> with --classes/--limit-per-class)",
    )
    parser.add_argument("--classes", nargs="+", metavar="CLASS", help="train on these classes only (default: all 101)")
    parser.add_argument("--limit-per-class", type=int, metavar="N", help="keep N photos per class before the split")
    parser.add_argument("--epochs", type=int, default=30, help="at most this many epochs (default 30)")
    parser.add_argument(
        "--patience",
        type=int,
        default=5,
        help="stop after this many epochs without a better validation loss (default 5)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=128,
        help="the global batch, shared out among the "
        "processes: the same optimisation for any number of GPUs (default 128, the notebook's)",
    )
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (default 1e-3)")
    parser.add_argument("--image-size", type=int, default=224, help="crop size in pixels (default 224)")
    parser.add_argument(
        "--backbone",
        default=os.environ.get("COURSE_BACKBONE", "auto"),
        choices=("auto", *BACKBONES),
        help="auto: VGG-16 if its weights can be had, else EfficientNet-Lite0 (default: $COURSE_BACKBONE or auto)",
    )
    parser.add_argument("--workers", type=int, help="DataLoader workers per process (default 4 on a GPU, 0 on the CPU)")
    parser.add_argument("--cpu", action="store_true", help="train on the CPU with Gloo even where GPUs are")
    parser.add_argument("--out", type=Path, help="checkpoint path (default data/checkpoints/06_caltech101_ddp.pt)")
    parser.add_argument(
        "--log-samples",
        type=Path,
        metavar="JSON",
        help="write the training-sample indices each process got, per epoch, to this file",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.data is None:
        subset = args.classes or args.limit_per_class
        name = (
            f"caltech101-{len(args.classes or ()) or 101}classes-{args.limit_per_class or 'all'}"
            if subset
            else "caltech101"
        )
        args.data = cu.data_root() / "splits" / name
    args.out = args.out or cu.data_root() / "checkpoints" / "06_caltech101_ddp.pt"
    return args


class RecordingSampler(DistributedSampler):
    """A DistributedSampler that keeps the indices it handed out, epoch by epoch (for --log-samples)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.seen: list[list[int]] = []

    def __iter__(self):
        indices = list(super().__iter__())
        self.seen.append(indices)
        return iter(indices)


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


@torch.no_grad()
def evaluate_shard(model: nn.Module, dataset, device: torch.device, batch_size: int, workers: int) -> dict:
    """Loss, top-1 and top-5 over a whole dataset, each process taking every world-size-th photo, summed over all."""
    rank, world = dist.get_rank(), dist.get_world_size()
    shard = Subset(dataset, range(rank, len(dataset), world))  # disjoint, no padding: every photo counted once
    model.eval()
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # loss, top-1 hits, top-5 hits, photos
    for x, y in DataLoader(shard, batch_size=batch_size, num_workers=workers):
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        out = model(x)
        top = out.topk(min(5, out.size(1)), dim=1).indices
        sums += torch.stack(
            [
                nn.functional.nll_loss(out, y, reduction="sum").double(),
                (top[:, 0] == y).sum().double(),
                (top == y[:, None]).any(1).sum().double(),
                torch.tensor(len(y), dtype=torch.float64, device=device),
            ]
        )
    dist.all_reduce(sums)
    loss, top1, top5, n = sums.tolist()
    return {"loss": loss / n, "acc": top1 / n, "top5": top5 / n}


def train(args: argparse.Namespace) -> int:
    """The whole run in one process of the world; returns the exit status."""
    lesson = cu.lesson_code(NOTEBOOK)  # split_caltech101, train_transform, eval_transform, source_head
    cu.require("caltech101")  # every process: an incomplete copy stops all of them with the same message
    cuda = torch.cuda.is_available() and not args.cpu
    local_rank = int(os.environ["LOCAL_RANK"])
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if cuda else "gloo", device_id=device if cuda else None)
    rank, world = dist.get_rank(), dist.get_world_size()
    log = print if rank == 0 else (lambda *a, **k: None)
    if args.batch_size % world:
        raise ValueError(f"--batch-size {args.batch_size} does not share out evenly among {world} processes")
    per_process = args.batch_size // world
    workers = args.workers if args.workers is not None else (4 if cuda else 0)
    cu.set_seed(args.seed)

    if local_rank == 0:  # one process per machine makes the split (hard links, seconds); the others wait
        lesson["split_caltech101"](args.data, args.classes, args.limit_per_class, seed=args.seed)
    names = [None]
    if rank == 0:  # rank 0 decides the backbone (it may download VGG-16); every process then loads that one
        backbone = load_backbone("vgg16", args.backbone)
        names = [backbone.name]
        log(f"backbone: {backbone.name}. {backbone.reason}", flush=True)
    dist.broadcast_object_list(names, src=0)
    for first in (True, False):  # each machine's local rank 0 first (a download), then the others from its cache
        if rank != 0 and (local_rank == 0) == first:
            backbone = load_backbone("vgg16", names[0])
        dist.barrier()

    size = args.image_size
    train_set = CheckedImageFolder(args.data / "train", lesson["train_transform"](backbone, size), verbose=rank == 0)
    valid_set = CheckedImageFolder(args.data / "valid", lesson["eval_transform"](backbone, size), verbose=rank == 0)
    test_set = CheckedImageFolder(args.data / "test", lesson["eval_transform"](backbone, size), verbose=rank == 0)
    if not train_set.class_to_idx == valid_set.class_to_idx == test_set.class_to_idx:
        raise ValueError(f"{args.data}: train, valid and test do not hold the same classes")
    class_to_idx = train_set.class_to_idx

    head = lesson["source_head"](backbone.in_features, len(class_to_idx))
    model = transfer_model(backbone, head).to(device)  # the frozen body, then the head: only the head trains
    # the frozen body's buffers (BatchNorm statistics) never change: no need to send them at every forward pass
    # (torch 2.14 renamed broadcast_buffers, now deprecated, to forward_sync_buffers)
    no_buffer_sync = (
        {"forward_sync_buffers": False}
        if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
        else {"broadcast_buffers": False}
    )
    ddp = DistributedDataParallel(model, device_ids=[local_rank] if cuda else None, **no_buffer_sync)
    sampler = RecordingSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)
    loader = DataLoader(
        train_set,
        batch_size=per_process,
        sampler=sampler,
        num_workers=workers,
        pin_memory=cuda,
        persistent_workers=workers > 0,
    )
    optimizer = torch.optim.Adam(head.parameters(), lr=args.lr)
    loss_fn = nn.NLLLoss()
    settings = {
        **{k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "train_mode": "backbone",
        "world_size": world,
        "backend": dist.get_backend(),
        "script": "course_utils.scripts.train_caltech101",
    }
    log(
        f"{world} process(es), {dist.get_backend()} on {device.type}; {len(train_set):,} training photos of "
        f"{len(class_to_idx)} classes, {per_process} per process and step (global batch {args.batch_size})",
        flush=True,
    )

    def save(**numbers: float) -> None:
        """The checkpoint the notebook loads: the head, the backbone's name, the classes, the settings, `numbers`."""
        save_transfer_checkpoint(args.out, ddp, backbone, class_to_idx, settings=settings, **numbers)

    history = History()
    stopper = EarlyStopping("valid_loss", args.patience, verbose=rank == 0)  # the same one fit() uses
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        sampler.set_epoch(epoch)  # a new shuffle each epoch, the same in every process: disjoint shares
        ddp.train()
        sums = torch.zeros(3, dtype=torch.float64, device=device)  # loss, hits, photos of this process
        for x, y in progress(loader, desc=f"epoch {epoch}") if rank == 0 else loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            out = ddp(x)
            loss = loss_fn(out, y)
            optimizer.zero_grad()
            loss.backward()  # DDP all-reduces (averages) the head's gradients here
            optimizer.step()
            sums += torch.tensor(
                [loss.item() * len(y), (out.argmax(1) == y).sum().item(), len(y)], dtype=torch.float64, device=device
            )
        dist.all_reduce(sums)
        valid = evaluate_shard(model, valid_set, device, per_process, workers)
        seconds = time.perf_counter() - start
        history.append(
            epoch=epoch,
            train_loss=(sums[0] / sums[2]).item(),
            train_acc=(sums[1] / sums[2]).item(),
            valid_loss=valid["loss"],
            valid_acc=valid["acc"],
            lr=args.lr,
            seconds=seconds,
        )
        stop = stopper.on_epoch_end(head, history)  # the metrics are all-reduced: every process stops together
        improved = history["best_epoch"] == epoch
        if improved and rank == 0:
            save(epoch=epoch, valid_loss=valid["loss"], valid_acc=valid["acc"])
        log(
            f"epoch {epoch:3d}  train loss {history['train_loss'][-1]:.4f} acc {history['train_acc'][-1]:.4f}  "
            f"valid loss {valid['loss']:.4f} acc {valid['acc']:.4f}  {seconds:.1f}s "
            f"({sums[2].item() / seconds:.0f} photos/s){'  saved' if improved else ''}",
            flush=True,
        )
        if stop:
            break

    stopper.on_fit_end(head, history)  # the best epoch's head weights
    best = {
        "epoch": history["best_epoch"],
        "loss": stopper.best,
        "acc": history["valid_acc"][history["best_epoch"] - 1],
    }
    test = evaluate_shard(model, test_set, device, per_process, workers)
    if rank == 0:
        save(
            epoch=best["epoch"],
            valid_loss=best["loss"],
            valid_acc=best["acc"],
            test_acc=test["acc"],
            test_top5=test["top5"],
        )
    log(
        f"best epoch {best['epoch']}: test top-1 {test['acc']:.2%}, top-5 {test['top5']:.2%}; checkpoint {args.out}",
        flush=True,
    )

    if args.log_samples:
        gathered = [None] * world
        dist.all_gather_object(gathered, sampler.seen)
        if rank == 0:
            args.log_samples.parent.mkdir(parents=True, exist_ok=True)
            args.log_samples.write_text(
                json.dumps(
                    {
                        "world_size": world,
                        "train_size": len(train_set),
                        "files": [Path(path).relative_to(args.data).as_posix() for path, _ in train_set.samples],
                        "epochs": [[gathered[r][e] for r in range(world)] for e in range(len(gathered[0]))],
                    }
                )
            )
    return 0


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
