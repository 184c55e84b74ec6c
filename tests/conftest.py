"""Shared fixtures: small real photos from scikit-image, the packaged pretrained backbone, notebook 06's lesson code,
one torch thread."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image
from skimage import data as skdata

import course_utils as cu
from course_utils.models import FALLBACK, Backbone, load_backbone


@pytest.fixture(scope="session")
def photos() -> dict[str, Image.Image]:
    """A few real photos (cat, coffee, astronaut, rocket) as small RGB images."""
    return {
        name: Image.fromarray(getattr(skdata, name)()).convert("RGB").resize((64, 48))
        for name in ("chelsea", "coffee", "astronaut", "rocket")
    }


def make_class_folders(root: Path, photos: dict[str, Image.Image], per_class: int = 5) -> Path:
    """root/<class>/img_<i>.jpg: 'cat' from chelsea, 'cup' from coffee, slightly shifted crops."""
    for label, name in (("cat", "chelsea"), ("cup", "coffee")):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            photos[name].crop((i, 0, 64 - per_class + i, 48)).save(root / label / f"img_{i}.jpg")
    return root


@pytest.fixture(scope="module")
def one_thread():
    """Batches of a few small images: one thread is faster than several fighting for shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def lite0() -> Backbone:
    """The packaged pretrained fallback backbone (EfficientNet-Lite0), loaded once per module."""
    return load_backbone("resnet18", FALLBACK)


@pytest.fixture(scope="session")
def lesson06() -> dict:
    """What notebook 06 exports (split_caltech101, train_transform, eval_transform, source_head): one copy for all."""
    return cu.lesson_code("06_caltech101_vgg16.ipynb")


@pytest.fixture(scope="session")
def as_input(lesson06):
    """An HWC uint8 image as the normalised batch of one a backbone expects, through notebook 06's eval transform."""

    def prepare(image, backbone: Backbone, size: int = 224) -> torch.Tensor:
        return lesson06["eval_transform"](backbone, size)(image)[None]

    return prepare


@pytest.fixture
def mnist_small():
    """Real MNIST, small: a shuffled training loader of 1,000 images and a valid loader of 500, fresh each time."""
    from course_utils.data import TensorLoader, load_mnist

    def make() -> tuple[TensorLoader, TensorLoader]:
        train = TensorLoader(load_mnist("MNIST", limit=1000, seed=0), 100, shuffle=True)
        return train, TensorLoader(load_mnist("MNIST", train=False, limit=500, seed=0), 250)

    return make
