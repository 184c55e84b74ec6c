"""course_utils.scripts.train_caltech101: two processes under torchrun on the CPU (Gloo) on real photos; bad data."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

import course_utils as cu
from course_utils.checkpoints import load_transfer_checkpoint
from course_utils.models import load_backbone

REPO = Path(__file__).resolve().parent.parent
SCRIPT = ["-m", "course_utils.scripts.train_caltech101"]  # run as a module of the installed package
CLASSES = ["accordion", "anchor", "ant"]  # ant has grayscale photos: they must pass through as RGB

pytestmark = pytest.mark.filterwarnings("error")


def run(args: list[str], env: dict[str, str] | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    """The command with OMP_NUM_THREADS set (torchrun warns when it has to choose) and the fallback backbone named."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COURSE_BACKBONE": "efficientnet_lite0", **(env or {})}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout, cwd=REPO)


def test_torchrun_two_processes_share_the_data_and_write_the_notebooks_checkpoint(tmp_path):
    cu.require("caltech101")
    out, samples = tmp_path / "ddp.pt", tmp_path / "samples.json"
    result = run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            *SCRIPT,
            "--data",
            str(tmp_path / "split"),
            "--classes",
            *CLASSES,
            "--limit-per-class",
            "8",
            "--image-size",
            "64",
            "--epochs",
            "2",
            "--batch-size",
            "4",
            "--workers",
            "0",
            "--out",
            str(out),
            "--log-samples",
            str(samples),
        ]
    )
    assert result.returncode == 0, result.stdout + result.stderr[-4000:]
    assert not re.search("warn", result.stderr, re.IGNORECASE), result.stderr[-4000:]
    # rank 0 alone logs: one line per epoch, whatever the number of processes
    assert [line.split()[1] for line in result.stdout.splitlines() if line.startswith("epoch")] == ["1", "2"]
    assert "2 process(es), gloo on cpu" in result.stdout and "backbone: efficientnet_lite0" in result.stdout

    log = json.loads(samples.read_text())
    assert log["world_size"] == 2 and log["train_size"] == 12 == len(log["files"])  # 3 classes x 4 training photos
    assert {f.split("/")[:2][0] for f in log["files"]} == {"train"}
    assert sorted({f.split("/")[1] for f in log["files"]}) == CLASSES
    orders = []
    for epoch in log["epochs"]:
        rank0, rank1 = epoch
        assert len(rank0) == len(rank1) == 6 and not set(rank0) & set(rank1)  # disjoint shares of equal size ...
        assert sorted(rank0 + rank1) == list(range(12))  # ... that cover the training split
        orders.append(rank0 + rank1)
    assert orders[0] != orders[1]  # set_epoch: a new shuffle every epoch

    # the notebook's loader
    model, info = load_transfer_checkpoint(out, class_to_idx=dict(zip(CLASSES, range(3), strict=True)))
    assert info["backbone"] == "efficientnet_lite0" and info["settings"]["world_size"] == 2
    assert info["settings"]["train_mode"] == "backbone" and info["epoch"] in (1, 2) and 0 <= info["test_acc"] <= 1
    lesson = cu.lesson_code("06_caltech101_vgg16.ipynb")
    photo = next((tmp_path / "split" / "test" / "ant").iterdir())
    backbone = load_backbone("vgg16", info["backbone"])  # eval_transform reads its mean and std
    x = lesson["eval_transform"](backbone, 64)(Image.open(photo).convert("RGB"))
    with torch.inference_mode():
        log_probabilities = model(x[None])
    assert log_probabilities.shape == (1, 3) and torch.allclose(log_probabilities.exp().sum(), torch.tensor(1.0))


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
    assert "make data" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "split").exists()  # nothing made from a broken copy
