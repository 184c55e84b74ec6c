"""Folders of images: a reproducible, non-destructive split, and an ImageFolder that reports bad files."""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from torchvision.datasets import ImageFolder

from .files import content_digest, replace_folder, sha256_text
from .images import image_problem


def label_from_name(path: Path) -> str:
    """The class of a Kaggle-style flat file: 'cat' for cat.12.jpg."""
    return path.name.split(".")[0]


def label_from_folder(path: Path) -> str:
    """The class of a file in a class subfolder: its folder's name."""
    return path.parent.name


def _files_by_class(source: Path, label_of: Callable[[Path], str], exclude: tuple[str, ...]) -> dict[str, list[str]]:
    flat = label_of is label_from_name
    files = sorted(
        p for p in (source.iterdir() if flat else source.glob("*/*")) if p.is_file() and not p.name.startswith(".")
    )
    by_class: dict[str, list[str]] = {}
    for p in files:
        label = label_of(p)
        if label not in exclude:
            by_class.setdefault(label, []).append(p.relative_to(source).as_posix())
    return by_class


def _split_counts(n: int, fractions: dict[str, float]) -> list[int]:
    rest = [round(n * f) for f in list(fractions.values())[1:]]
    return [n - sum(rest)] + rest  # the first split (train) takes what rounding leaves


def _follow(plan: dict[str, dict[str, list[str]]], by_class: dict[str, list[str]], leader: str, label: str) -> None:
    """Put each file of class `label` in the split of the same-named file of class `leader` (in place)."""
    if leader not in by_class or label not in by_class:
        return  # one of the two is not split (excluded): nothing to tie
    where = {Path(f).name: split for split, classes in plan.items() for f in classes[leader]}
    names = {Path(f).name for f in by_class[leader]}
    strays = sorted(Path(f).name for f in by_class[label] if Path(f).name not in names)
    if strays:
        raise ValueError(f"{label} files without a twin in {leader}: {strays[:5]}; `together` needs the same names")
    for split, classes in plan.items():
        classes[label] = sorted(f for f in by_class[label] if where.get(Path(f).name) == split)


def _plan(
    by_class: dict[str, list[str]],
    fractions: dict[str, float],
    seed: int,
    per_class: int | None,
    together: tuple[tuple[str, ...], ...],
) -> dict[str, dict[str, list[str]]]:
    """Which files of each class go to which split: a seeded shuffle per class, then the groups `together`."""
    rng = random.Random(seed)
    plan: dict[str, dict[str, list[str]]] = {split: {} for split in fractions}
    for label, files in sorted(by_class.items()):
        files = files[:]
        rng.shuffle(files)
        if per_class is not None:
            files = files[:per_class]
        start = 0
        for split, size in zip(fractions, _split_counts(len(files), fractions), strict=True):
            plan[split][label] = sorted(files[start : start + size])
            start += size
    for leader, *followers in together:
        for label in followers:
            _follow(plan, by_class, leader, label)
    return plan


def split_folder(
    source: str | Path,
    dest: str | Path,
    fractions: dict[str, float] | None = None,
    *,
    seed: int = 0,
    label_of: Callable[[Path], str] = label_from_folder,
    per_class: int | None = None,
    exclude: tuple[str, ...] = (),
    together: tuple[tuple[str, ...], ...] = (),
) -> dict[str, Counter]:
    """Split images into dest/<split>/<class>/ by fraction per class, reproducibly, leaving `source` untouched.

    Files are hard-linked (copied where links are impossible). `per_class` keeps a seeded subset of
    each class first (the quick profile). Each group of classes in `together` (near-duplicates, such as a
    photo and its crop under the same file name) is split as its first class is: a file goes to the split
    of the same-named file there. Re-running with the same arguments on the same files changes nothing;
    different arguments, or a file whose content changed under the same name, rebuild `dest` in one rename.
    """
    source, dest = Path(source).resolve(), Path(dest).resolve()
    fractions = fractions or {"train": 0.8, "valid": 0.2}
    if abs(sum(fractions.values()) - 1) > 1e-9:
        raise ValueError(f"split fractions must add up to 1, got {fractions}")
    if not source.is_dir():
        raise FileNotFoundError(f"no folder of images at {source}")
    by_class = _files_by_class(source, label_of, exclude)
    if not by_class:
        raise FileNotFoundError(f"no images found in {source}")
    plan = _plan(by_class, fractions, seed, per_class, together)
    manifest = {
        "source": str(source),
        "seed": seed,
        "fractions": fractions,
        "plan": plan,
        "content": _content(source, plan),
    }
    counts = {split: Counter({label: len(f) for label, f in classes.items()}) for split, classes in plan.items()}
    if (dest / "split.json").is_file() and json.loads((dest / "split.json").read_text()) == manifest:
        return counts
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    for split, classes in plan.items():
        for label, files in classes.items():
            (staging / split / label).mkdir(parents=True, exist_ok=True)
            for rel in files:
                target = staging / split / label / Path(rel).name
                try:
                    os.link(source / rel, target)
                except OSError:
                    shutil.copy2(source / rel, target)
    (staging / "split.json").write_text(json.dumps(manifest, indent=1))
    replace_folder(staging, dest)
    return counts


def _content(source: Path, plan: dict[str, dict[str, list[str]]]) -> str:
    """One sha256 over the content of every planned file: a photo replaced under the same name changes it."""
    names = [rel for classes in plan.values() for files in classes.values() for rel in files]
    return sha256_text("\n".join(f"{rel} {content_digest(source / rel)}" for rel in names))


def rgb_loader(path: str) -> Image.Image:
    """Open an image as RGB, whatever its mode (grayscale, CMYK, palette, RGBA)."""
    with Image.open(path) as im:
        return im.convert("RGB")


class CheckedImageFolder(ImageFolder):
    """torchvision's ImageFolder that opens every image as RGB and skips, by name, files that are not images."""

    def __init__(self, root: str | Path, transform: Callable | None = None, verbose: bool = True):
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"no image folder at {root}")
        classes = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
        if not classes:
            raise FileNotFoundError(f"{root} has no class subfolders: expected {root}/<class>/<image files>")
        empty = [c for c in classes if not any(f.is_file() for f in (root / c).iterdir())]
        if empty:
            raise FileNotFoundError(f"empty class folder(s) in {root}: {', '.join(empty)}")
        self.skipped: list[tuple[str, str]] = []
        super().__init__(str(root), transform=transform, loader=rgb_loader, is_valid_file=self._keep)
        if self.skipped and verbose:
            rel = {p: Path(p).relative_to(root).as_posix() for p, _ in self.skipped}  # reads the same on any machine
            names = "\n  ".join(f"{rel[p]}: {why.replace(p, rel[p])}" for p, why in self.skipped)
            print(f"Skipped {len(self.skipped)} file(s) that are not readable images:\n  {names}")

    def _keep(self, path: str) -> bool:
        if Path(path).name.startswith("."):
            return False
        reason = image_problem(path, decode=False)  # the headers: decoding every image here would double the reads
        if reason:
            self.skipped.append((path, reason))
        return not reason
