"""The cost of fit()'s bookkeeping: LeNet on full Fashion-MNIST, one epoch (train + test) per contender, side by side.

Contenders, on the same LeNet (notebook 03's), the same in-memory data and batch size, in one run:
a bare hand-written loop (train step and an accuracy pass, nothing else), course_utils' fit(), and d2l's
train_ch6 (the loop notebook 03's source uses, with its Animator redrawing a figure). Rounds alternate the
contenders so that a busy machine slows them alike; the median of the rounds is printed.

Run: make bench   (or .venv/bin/python benchmarks/bench_training_loops.py [--rounds 3])
"""

from __future__ import annotations

import argparse
import contextlib
import io
import statistics
import time
import warnings

import matplotlib

matplotlib.use("Agg")  # d2l's Animator draws; no window here
import torch
from bench_loaders import one_epoch  # the bare training loop, written once for both benchmarks
from torch import nn
from torch.utils.data import TensorDataset

import course_utils as cu


@torch.inference_mode()
def bare_accuracy(model: nn.Module, loader) -> float:
    """Test accuracy with nothing else: eval mode, argmax, count."""
    model.eval()
    correct = sum((model(x).argmax(1) == y).sum().item() for x, y in loader)
    return correct / len(loader.dataset)


def bare(model: nn.Module, train, test, lr: float) -> None:
    """One epoch by hand: the training steps, then the test accuracy."""
    one_epoch(model, train, torch.optim.SGD(model.parameters(), lr=lr))
    bare_accuracy(model, test)


def course_fit(model: nn.Module, train, test, lr: float) -> None:
    """One epoch through cu.fit (history, per-phase loss and accuracy, no display)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    cu.fit(model, train, test, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer, epochs=1, verbose=False)


def d2l_train_ch6(model: nn.Module, train, test, lr: float) -> None:
    """One epoch through d2l.train_ch6 (its timer, accumulators and Animator included; its printing silenced)."""
    from d2l import torch as d2l

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # its Animator's x-range of one epoch is a single point
        d2l.train_ch6(model, train, test, 1, lr, torch.device("cpu"))


def main() -> None:
    """Time each contender `--rounds` times, alternating, and print seconds per epoch and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    lenet = cu.lesson_code("03_convolutions_lenet.ipynb")["lenet"]
    train = cu.TensorLoader(cu.load_mnist("FashionMNIST", normalize=False), args.batch_size, shuffle=True)
    test = cu.TensorLoader(cu.load_mnist("FashionMNIST", train=False, normalize=False), args.batch_size)
    contenders = {"bare hand-written loop": bare, "course_utils fit()": course_fit, "d2l train_ch6": d2l_train_ch6}
    warm_up = cu.TensorLoader(TensorDataset(*(t[:2560] for t in train.dataset.tensors)), args.batch_size)
    for run in contenders.values():  # lazy initialisations and caches, not counted
        run(lenet(), warm_up, warm_up, lr=0.9)
    wall: dict[str, list[float]] = {name: [] for name in contenders}
    cpu: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.rounds):
        for name, run in contenders.items():
            cu.set_seed(0)
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            run(lenet(), train, test, lr=0.9)
            wall[name].append(time.perf_counter() - start_wall)
            cpu[name].append(time.process_time() - start_cpu)
    median = {name: statistics.median(times) for name, times in wall.items()}
    median_cpu = {name: statistics.median(times) for name, times in cpu.items()}
    for name, value in median.items():
        runs = ", ".join(f"{t:.2f}" for t in wall[name])
        print(f"{name:24s} {value:6.2f} s/epoch wall, {median_cpu[name]:6.2f} s CPU (train + test)   rounds: {runs}")
    for name in ("course_utils fit()", "d2l train_ch6"):
        wall_ratio = median[name] / median["bare hand-written loop"]
        cpu_ratio = median_cpu[name] / median_cpu["bare hand-written loop"]
        goal = " (goal <= 1.05)" if "fit" in name else ""
        print(f"{name} / bare loop: {wall_ratio:.3f} wall, {cpu_ratio:.3f} CPU time{goal}")
    setup = f"batch {args.batch_size}, {torch.get_num_threads()} threads, {args.rounds} rounds after a warm-up"
    print(
        f"[{setup}, Fashion-MNIST 60,000 + 10,000; CPU time is this process's, so other load on the machine "
        "inflates it less than the wall time]"
    )


if __name__ == "__main__":
    main()
