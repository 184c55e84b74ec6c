"""make setup's choice of PyTorch build: CPU without an NVIDIA GPU, TORCH= decides, a dead index costs seconds."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from course_utils.env import REPO_ROOT
from course_utils.scripts import torch_index
from course_utils.scripts.torch_index import CPU_INDEX, choose

SCRIPT = Path(torch_index.__file__)
REPO = REPO_ROOT
EXTRA = ["--extra-index-url", CPU_INDEX]


def _closed_port() -> int:
    """A local port nothing listens on: connecting is refused at once."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("torch", "gpu", "reachable", "platform", "expected"),
    [
        ("auto", False, True, "linux", EXTRA),  # a laptop: the CPU build
        ("auto", True, True, "linux", []),  # an NVIDIA GPU: pip's default, the CUDA build
        ("cpu", True, True, "linux", EXTRA),  # TORCH=cpu wins over the GPU
        ("cuda", False, True, "linux", []),  # TORCH=cuda wins over no GPU
        ("auto", False, False, "linux", []),  # the CPU index does not answer: the default index, at once
        ("cpu", False, False, "linux", []),
        ("auto", False, True, "darwin", []),  # PyPI's macOS wheels are CPU builds already
    ],
)
def test_the_choice(torch, gpu, reachable, platform, expected):
    pip_args, why = choose(torch, gpu=lambda: gpu, reachable=lambda url: reachable, platform=platform)
    assert pip_args == expected
    assert why


def test_an_unknown_choice_is_refused():
    with pytest.raises(ValueError, match="use cpu, cuda or auto"):
        choose("gpu", gpu=lambda: True, reachable=lambda url: True, platform="linux")


def test_a_gpu_is_found_by_its_driver_or_by_nvidia_smi(tmp_path, monkeypatch):
    (tmp_path / "driver").mkdir()
    assert torch_index.has_nvidia_gpu(tmp_path / "driver")
    absent = tmp_path / "no-driver"
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert not torch_index.has_nvidia_gpu(absent), "no driver, no nvidia-smi"
    (tmp_path / "bin").mkdir()
    smi = tmp_path / "bin" / "nvidia-smi"
    for status, found in ((9, False), (0, True)):  # an nvidia-smi that fails (no driver loaded) finds no GPU
        smi.write_text(f"#!/bin/sh\nexit {status}\n")
        smi.chmod(0o755)
        assert torch_index.has_nvidia_gpu(absent) is found


def test_the_probe_fails_fast_on_a_closed_port_and_answers_for_a_server():
    start = time.perf_counter()
    assert not torch_index.answers(f"http://127.0.0.1:{_closed_port()}/whl/cpu", timeout=2)
    assert time.perf_counter() - start < 1.5

    class Index(BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(404)  # an answer, even an error, means the index is there
            self.end_headers()

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        assert torch_index.answers(f"http://127.0.0.1:{httpd.server_address[1]}/whl/cpu")
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_probe_that_hangs_gives_up_within_its_timeout():
    with socket.socket() as listener:  # accepts the connection, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        start = time.perf_counter()
        assert not torch_index.answers(f"http://127.0.0.1:{listener.getsockname()[1]}/", timeout=1)
        assert time.perf_counter() - start < 2


def test_the_script_runs_before_anything_is_installed_and_falls_back_at_once():
    index = f"http://127.0.0.1:{_closed_port()}/whl/cpu"
    start = time.perf_counter()
    result = subprocess.run(  # -S: no site-packages, so the script must need the standard library only
        [sys.executable, "-I", "-S", str(SCRIPT), "--torch", "cpu", "--index", index],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert time.perf_counter() - start < 10
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", "no extra index: pip's default"
    assert f"{index} did not answer" in result.stderr


def test_make_setup_passes_the_choice_to_pip(tmp_path):
    result = subprocess.run(
        ["make", "-n", "setup", f"VENV={tmp_path / 'venv'}", "TORCH=cpu"], cwd=REPO, capture_output=True, text=True
    )
    install = [line for line in result.stdout.splitlines() if "pip install -q -e '.[dev]'" in line]
    assert install, result.stdout + result.stderr
    assert "course_utils/scripts/torch_index.py --torch='cpu'" in install[0]
