"""Which PyTorch build `make setup` installs: the CPU build (~0.3 GB) without an NVIDIA GPU, else pip's default.

Usage: python course_utils/scripts/torch_index.py [--torch auto|cpu|cuda] [--index URL]

Prints the extra pip arguments (nothing, or ``--extra-index-url https://download.pytorch.org/whl/cpu``) on stdout and
one line saying why on stderr. On Linux pip's default torch is the CUDA build, about 3.7 GB with its NVIDIA libraries;
PyTorch's CPU index, given as an *extra* index, offers ``2.x.y+cpu``, which sorts above ``2.x.y`` and so wins. The
index is probed first for a few seconds: where it does not answer, setup goes on with the default index at once
instead of waiting on pip's retries. Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PROBE_SECONDS = 2.5


def has_nvidia_gpu(proc: Path = Path("/proc/driver/nvidia")) -> bool:
    """Whether this machine has an NVIDIA GPU: its driver's /proc folder, or an `nvidia-smi -L` that succeeds."""
    if proc.exists():
        return True
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False
    try:
        return subprocess.run([smi, "-L"], capture_output=True, timeout=PROBE_SECONDS * 2).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def answers(url: str, timeout: float = PROBE_SECONDS) -> bool:
    """Whether the server of `url` answers within `timeout` seconds, name lookup included (a thread bounds it)."""
    result: list[bool] = []

    def probe() -> None:
        try:
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout).close()
        except urllib.error.HTTPError:
            result.append(True)  # it answered, if only with an error
        except (OSError, ValueError):
            result.append(False)
        else:
            result.append(True)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def choose(
    torch: str, *, gpu: Callable[[], bool], reachable: Callable[[str], bool], index: str = CPU_INDEX, platform: str
) -> tuple[list[str], str]:
    """The pip arguments for the build to install, and why: TORCH=cpu|cuda decides, else whether there is a GPU."""
    if torch not in ("auto", "cpu", "cuda"):
        raise ValueError(f"TORCH={torch!r}: use cpu, cuda or auto")
    if torch == "cuda":
        return [], "TORCH=cuda: the CUDA build from the default index"
    if platform != "linux":
        return [], f"the default index's build ({platform}'s PyPI wheels carry no CUDA libraries)"
    if torch == "auto" and gpu():
        return [], "an NVIDIA GPU is present: the CUDA build from the default index (TORCH=cpu for the CPU build)"
    why = "TORCH=cpu" if torch == "cpu" else "no NVIDIA GPU found"
    if not reachable(index):
        return [], f"{why}, but {index} did not answer within {PROBE_SECONDS:g} s: the default index's build"
    return ["--extra-index-url", index], f"{why}: the CPU build from {index} (TORCH=cuda for the CUDA build)"


def main(argv: list[str] | None = None) -> int:
    """Print the pip arguments for this machine's PyTorch build (stdout) and the reason (stderr)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch", default="auto", help="cpu, cuda or auto (the default: cpu without an NVIDIA GPU)")
    parser.add_argument("--index", default=CPU_INDEX, help="the CPU wheel index (a classroom can name its own copy)")
    args = parser.parse_args(argv)
    try:
        pip_args, why = choose(
            args.torch.strip().lower() or "auto",
            gpu=has_nvidia_gpu,
            reachable=answers,
            index=args.index,
            platform=sys.platform,
        )
    except ValueError as error:
        print(f"torch_index: {error}", file=sys.stderr)
        return 2
    print(f"PyTorch: {why}", file=sys.stderr)
    print(" ".join(pip_args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
