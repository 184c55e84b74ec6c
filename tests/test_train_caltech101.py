"""course_utils.scripts.train_caltech101: two processes under torchrun on the CPU (Gloo) on real photos; bad data."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader

import course_utils as cu
from course_utils.checkpoints import load_checkpoint
from course_utils.engine import fit
from course_utils.env import REPO_ROOT as REPO
from course_utils.folders import CheckedImageFolder
from course_utils.models import load_backbone, transfer_model

SCRIPT = ["-m", "course_utils.scripts.train_caltech101"]  # run as a module of the installed package
CLASSES = ["accordion", "anchor", "ant"]  # ant has grayscale photos: they must pass through as RGB

pytestmark = pytest.mark.filterwarnings("error")


def run(args: list[str], env: dict[str, str] | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    """The command with OMP_NUM_THREADS set (torchrun warns when it has to choose) and the fallback backbone named."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COURSE_BACKBONE": "efficientnet_lite0", **(env or {})}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO)


class Replay:
    """A one-process loader of the global batches the processes trained on, epoch by epoch: step i of each, joined."""

    def __init__(self, dataset: CheckedImageFolder, epochs: list[list[list[int]]], per_process: int) -> None:
        steps = range(0, len(epochs[0][0]), per_process)
        self.dataset = dataset
        self.epochs = iter(
            [[[i for share in shares for i in share[s : s + per_process]] for s in steps] for shares in epochs]
        )

    def __iter__(self) -> Iterator:
        return iter(DataLoader(self.dataset, batch_sampler=next(self.epochs)))


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> dict:
    """One torchrun run of two processes (Gloo) on 3 classes x 8 photos at 64 px, 2 epochs, --deterministic."""
    cu.require("caltech101")
    tmp = tmp_path_factory.mktemp("ddp")
    command = (
        f"-m torch.distributed.run --standalone --nproc_per_node=2 {' '.join(SCRIPT)} --classes {' '.join(CLASSES)}"
    )
    options = "--limit-per-class 8 --image-size 64 --epochs 2 --batch-size 4 --workers 0 --deterministic"
    paths = ["--data", str(tmp / "split"), "--out", str(tmp / "ddp.pt"), "--log-samples", str(tmp / "samples.json")]
    result = run([sys.executable, *command.split(), *options.split(), *paths])
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    model, info = load_checkpoint(tmp / "ddp.pt", class_to_idx=dict(zip(CLASSES, range(3), strict=True)))
    log = json.loads((tmp / "samples.json").read_text())
    return {"result": result, "split": tmp / "split", "log": log, "model": model, "info": info}


def test_torchrun_two_processes_log_once_and_share_the_data(two_processes):
    result, log = two_processes["result"], two_processes["log"]
    assert not re.search("warn", result.stderr, re.IGNORECASE), result.stderr[-4000:]
    # rank 0 alone logs: one line per epoch, whatever the number of processes
    assert [line.split()[1] for line in result.stdout.splitlines() if line.startswith("epoch")] == ["1", "2"]
    assert "2 process(es), gloo on cpu" in result.stdout
    assert "backbone: efficientnet_lite0" in result.stdout
    assert log["world_size"] == 2
    assert log["train_size"] == 12 == len(log["files"])  # 3 classes x 4 training photos
    assert sorted({tuple(f.split("/")[:2]) for f in log["files"]}) == [("train", c) for c in CLASSES]
    for rank0, rank1 in log["epochs"]:  # disjoint shares of equal size that cover the training split
        assert len(rank0) == len(rank1) == 6
        assert sorted(rank0 + rank1) == list(range(12))
    assert log["epochs"][0] != log["epochs"][1]  # set_epoch: a new shuffle every epoch


def test_torchrun_writes_the_checkpoint_the_notebook_loads(two_processes, lesson06):
    info = two_processes["info"]
    assert (info["backbone"], info["settings"]["world_size"]) == ("efficientnet_lite0", 2)
    assert info["settings"]["train_mode"] == "backbone"
    assert info["epoch"] in (1, 2)
    assert 0 <= info["test_acc"] <= info["test_top5"] <= 1
    backbone = load_backbone("vgg16", info["backbone"])  # eval_transform reads its mean and std
    photo = Image.open(next((two_processes["split"] / "test" / "ant").iterdir())).convert("RGB")
    with torch.inference_mode():
        log_probabilities = two_processes["model"](lesson06["eval_transform"](backbone, 64)(photo)[None])
    assert torch.allclose(log_probabilities.exp().sum(1), torch.ones(1))


def test_two_processes_give_the_numbers_of_one_process_fit(two_processes, lesson06, lite0):
    """fit() in this process, on the global batches the two processes shared, from the same seeded head."""
    split, transform = two_processes["split"], lesson06["eval_transform"](lite0, 64)  # --deterministic: no augment
    images = {name: CheckedImageFolder(split / name, transform, verbose=False) for name in ("train", "valid")}
    cu.set_seed(0)
    head = lesson06["source_head"](lite0.in_features, 3)
    head[2].p = 0.0  # its Dropout: --deterministic
    alone = fit(
        transfer_model(lite0, head),
        Replay(images["train"], two_processes["log"]["epochs"], per_process=2),
        DataLoader(images["valid"], batch_size=4),
        loss_fn=nn.NLLLoss(),
        optimizer=torch.optim.Adam(head.parameters(), lr=1e-3),
        epochs=2,
        device="cpu",
        verbose=False,
    )
    for key in ("train_loss", "train_acc", "valid_loss", "valid_acc"):
        assert two_processes["info"]["history"][key] == pytest.approx(alone[key], abs=1e-5), key


def test_an_incomplete_caltech101_stops_the_script_with_what_to_do(tmp_path):
    real = cu.require("caltech101")
    copy = tmp_path / "data" / "caltech101"
    (copy / "101_ObjectCategories").mkdir(parents=True)
    shutil.copy(real / "SHA256SUMS", copy / "SHA256SUMS")
    for folder in sorted((real / "101_ObjectCategories").iterdir()):
        if folder.name == "accordion":
            continue  # a class folder absent
        (copy / "101_ObjectCategories" / folder.name).symlink_to(folder, target_is_directory=True)
    anchor = copy / "101_ObjectCategories" / "anchor"
    anchor.unlink()
    anchor.mkdir()
    for photo in sorted((real / "101_ObjectCategories" / "anchor").iterdir()):
        (anchor / photo.name).symlink_to(photo)
    (anchor / "image_0001.jpg").unlink()
    (anchor / "image_0001.jpg").write_bytes(b"not the photo")  # a file whose sha256 does not match

    result = run(
        [sys.executable, *SCRIPT, "--data", str(tmp_path / "split"), "--classes", *CLASSES, "--epochs", "1"],
        env={"COURSE_DATA": str(tmp_path / "data")},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"caltech101 is not complete in {copy}" in result.stderr
    assert f"missing class folder {copy / '101_ObjectCategories' / 'accordion'}" in result.stderr
    assert f"wrong content (sha256) in {anchor / 'image_0001.jpg'}" in result.stderr
    assert "make data" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "split").exists()  # nothing made from a broken copy
