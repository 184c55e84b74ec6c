"""Where the course runs: one profile parser, data and cache folders, device, seeds."""

from __future__ import annotations

import random

import numpy as np
import torch

from course_utils import env

ON = ("1", "true", "TRUE", "yes", " Yes ", "on")
OFF = ("0", "", "false", "no", "2", "off")


def test_one_flag_parser_for_every_on_off_variable():
    assert all(env.flag("COURSE_X", {"COURSE_X": v}) for v in ON)
    assert not any(env.flag("COURSE_X", {"COURSE_X": v}) for v in OFF)
    assert not env.flag("COURSE_X", {})


def test_one_profile_parser_for_everything():
    assert all(env.quick_from_env({"COURSE_QUICK": v}) for v in ON)
    assert not any(env.quick_from_env({"COURSE_QUICK": v}) for v in ("0", "", "false", "no", "2"))
    assert not env.quick_from_env({})
    assert env.by_profile(full="F", quick="Q") == ("Q" if env.QUICK else "F")
    assert ("quick" if env.QUICK else "full") == env.PROFILE


def test_data_and_cache_folders_follow_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "d"))
    monkeypatch.delenv("COURSE_CACHE", raising=False)
    assert (env.data_root(), env.cache_dir()) == (tmp_path / "d", tmp_path / "d" / "cache")
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "c"))
    assert env.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("COURSE_DATA")
    assert env.data_root() == env.REPO_ROOT / "data"


def test_device_can_be_named(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert env.get_device() == torch.device("cpu")
    assert env.get_device("meta") == torch.device("meta")


def test_set_seed_repeats_python_numpy_and_torch():
    draws = []
    for _ in range(2):
        env.set_seed(3)
        draws.append((random.random(), np.random.rand(), torch.rand(1).item()))
    assert draws[0] == draws[1]


def test_outside_jupyter_and_batch_flag(monkeypatch):
    assert not env.in_notebook()
    for value in ON:  # the same spellings as COURSE_QUICK, not only "1"
        monkeypatch.setenv("COURSE_BATCH", value)
        assert env.batch_run(), value
    for value in OFF:
        monkeypatch.setenv("COURSE_BATCH", value)
        assert not env.batch_run(), value


def test_cpu_cores_counts_the_cores_this_process_may_use(monkeypatch):
    import os

    assert 1 <= env.cpu_cores() <= (os.cpu_count() or 1)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3}, raising=False)
    assert env.cpu_cores() == 2
    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 7)
    assert env.cpu_cores() == 7
