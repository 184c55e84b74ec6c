"""The cost of fit()'s bookkeeping, and of d2l's pipeline: LeNet on full Fashion-MNIST, one epoch (train + test) each.

Contenders, on the same LeNet (notebook 03's) and batch size, in one run:
- the loops alone, on the same in-memory loaders (cu.TensorLoader): a bare hand-written loop (train steps and an
  accuracy pass, nothing else), course_utils' fit(), and d2l's train_ch6 (its Animator redrawing a figure);
- d2l's own pipeline, as notebook 03 runs it: d2l.load_data_fashion_mnist (a per-image ToTensor DataLoader with
  worker processes) feeding d2l.train_ch6: what a student following the source feels, against cu.fit.

A busy machine (here: cores shared with other work) makes one epoch take 7 s or 10 s, so a ratio of medians taken
from different moments means little. Each round therefore runs every contender back to back (in an order that
alternates from round to round), and each ratio is computed within a round, then summarised over the rounds:
the median, and the spread (min-max). Time is wall-clock and CPU (this process and its worker processes).
Torch runs one thread by default (--threads): on shared cores two threads spin-wait for each other, and an epoch
measured on 2 threads took 5 s or 50 s at random, where on one it took 6 to 8 s.

Run: make bench   (or .venv/bin/python benchmarks/bench_training_loops.py [--rounds 3] [--threads 1])
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import time
import warnings
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")  # d2l's Animator draws; no window here
import torch
from bench_loaders import one_epoch  # the bare training loop, written once for both benchmarks
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import course_utils as cu

BARE, FIT, D2L, PIPELINE = "bare hand-written loop", "course_utils fit()", "d2l train_ch6", "d2l pipeline"
RATIOS = ((FIT, BARE, " (goal <= 1.05)"), (D2L, BARE, ""), (PIPELINE, FIT, " (what a student feels)"))
Contender = Callable[[nn.Module, float], None]


@torch.inference_mode()
def bare_accuracy(model: nn.Module, loader) -> float:
    """Test accuracy with nothing else: eval mode, argmax, count."""
    model.eval()
    correct = sum((model(x).argmax(1) == y).sum().item() for x, y in loader)
    return correct / len(loader.dataset)


def d2l_train_ch6(model: nn.Module, train, test, lr: float) -> None:
    """One epoch through d2l.train_ch6 (its timer, accumulators and Animator included; its printing silenced)."""
    from d2l import torch as d2l

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # its Animator's x-range of one epoch is a single point
        d2l.train_ch6(model, train, test, 1, lr, torch.device("cpu"))


def d2l_loaders(batch_size: int) -> tuple[DataLoader, DataLoader]:
    """d2l.load_data_fashion_mnist(batch_size) with notebook 03's worker count, reading the course's copy."""
    from d2l import torch as d2l

    cu.require("FashionMNIST")
    if cu.data_root().name != "data":
        raise SystemExit(f"d2l reads ../data: the data folder must be named data, not {cu.data_root()}")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    d2l.get_dataloader_workers = lambda: min(4, cores)  # as notebook 03 sets it
    with contextlib.chdir(cu.data_root()):  # its ../data is then the course's data folder (read into memory here)
        return d2l.load_data_fashion_mnist(batch_size)


def contenders(train, test, pipeline: tuple[DataLoader, DataLoader]) -> dict[str, Contender]:
    """Each contender as a function of a fresh model and the learning rate: one epoch, train and test."""

    def bare(model: nn.Module, lr: float) -> None:
        one_epoch(model, train, torch.optim.SGD(model.parameters(), lr=lr))
        bare_accuracy(model, test)

    def course_fit(model: nn.Module, lr: float) -> None:
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        cu.fit(model, train, test, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer, epochs=1, verbose=False)

    return {
        BARE: bare,
        FIT: course_fit,
        D2L: lambda model, lr: d2l_train_ch6(model, train, test, lr),
        PIPELINE: lambda model, lr: d2l_train_ch6(model, *pipeline, lr),
    }


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the DataLoader workers)."""
    return sum(os.times()[:4])


def timed_rounds(runs: dict[str, Contender], lenet: Callable[[], nn.Module], rounds: int) -> list[dict]:
    """Per round, each contender's (wall, CPU) seconds, the contenders back to back, the order reversed every round."""
    results = []
    for index in range(rounds):
        order = list(runs) if index % 2 == 0 else list(reversed(runs))
        result = {}
        for name in order:
            cu.set_seed(0)
            model = lenet()
            start_wall, start_cpu = time.perf_counter(), cpu_seconds()
            runs[name](model, 0.9)
            result[name] = (time.perf_counter() - start_wall, cpu_seconds() - start_cpu)
        results.append(result)
        print(f"round {index + 1}: " + ", ".join(f"{name} {result[name][0]:.2f} s" for name in runs), flush=True)
    return results


def summary(values: list[float]) -> str:
    """The median and the spread of a list: `median [min-max]`."""
    return f"{statistics.median(values):.3f} [{min(values):.3f}-{max(values):.3f}]"


def report(results: list[dict], names: list[str]) -> None:
    """Seconds per epoch for each contender, then each ratio computed within a round, summarised over the rounds."""
    for name in names:
        wall, cpu = ([result[name][i] for result in results] for i in (0, 1))
        print(f"{name:24s} {statistics.median(wall):6.2f} s/epoch wall, {statistics.median(cpu):6.2f} s CPU (median)")
    print(f"paired ratios, median [min-max] over {len(results)} rounds:")
    for top, bottom, note in RATIOS:
        wall, cpu = ([result[top][i] / result[bottom][i] for result in results] for i in (0, 1))
        print(f"  {top} / {bottom}: {summary(wall)} wall, {summary(cpu)} CPU{note}")


def main() -> None:
    """Warm the contenders up, time `--rounds` rounds, and print seconds per epoch and the paired ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: see above)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lenet = cu.lesson_code("03_convolutions_lenet.ipynb")["lenet"]
    train = cu.TensorLoader(cu.load_mnist("FashionMNIST", valid_size=0, normalize=False), args.batch_size, shuffle=True)
    test = cu.TensorLoader(cu.load_mnist("FashionMNIST", split="test", normalize=False), args.batch_size)
    small = cu.TensorLoader(TensorDataset(*(t[:2560] for t in train.dataset.tensors)), args.batch_size)
    for run in contenders(small, small, (small, small)).values():  # lazy initialisations and caches, not counted
        run(lenet(), 0.9)
    runs = contenders(train, test, d2l_loaders(args.batch_size))
    report(timed_rounds(runs, lenet, args.rounds), list(runs))
    print(
        f"[batch {args.batch_size}, torch threads {torch.get_num_threads()}, Fashion-MNIST 60,000 + 10,000; "
        f"{BARE}, fit() and {D2L} share in-memory loaders; the {PIPELINE} is load_data_fashion_mnist + train_ch6]"
    )


if __name__ == "__main__":
    main()
