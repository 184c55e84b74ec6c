"""Cached features of a frozen backbone: computed once, read back from disk, keyed on backbone, transform and files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torchvision
from PIL import Image
from skimage import data
from torch import nn
from torchvision.transforms import v2

from course_utils.features import feature_cache_key, precompute_features
from course_utils.models import feature_extractor, make_head

pytestmark = [pytest.mark.filterwarnings("error"), pytest.mark.usefixtures("one_thread")]


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """A tiny two-class ImageFolder of real photos: crops of a cat and of a coffee cup."""
    for label, image in [("cat", data.chelsea()), ("coffee", data.coffee())]:
        (tmp_path / "images" / label).mkdir(parents=True)
        height, width = image.shape[:2]
        for i, (top, left) in enumerate([(0, 0), (0, width // 4), (height // 4, 0)]):
            crop = image[top : top + height * 3 // 4, left : left + width * 3 // 4]
            Image.fromarray(crop).resize((96, 72)).save(tmp_path / "images" / label / f"{i}.jpg")
    return tmp_path / "images"


def test_precompute_features_caches_on_disk(lite0, lesson06, image_folder, tmp_path):
    transform = lesson06["eval_transform"](lite0, 64)
    dataset = torchvision.datasets.ImageFolder(image_folder, transform=transform)
    key = feature_cache_key(lite0.name, transform, dataset)
    extractor = feature_extractor(lite0)
    calls = []
    extractor.register_forward_hook(lambda *args: calls.append(1))

    features = precompute_features(extractor, dataset, tmp_path / "cache", key, batch_size=4)
    assert features.tensors[0].shape == (6, lite0.in_features)
    assert len(calls) == 2
    assert features.tensors[1].tolist() == [label for _, label in dataset.samples] == [0, 0, 0, 1, 1, 1]
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [f"{key}.pt"]  # no temporary file left

    again = precompute_features(extractor, dataset, tmp_path / "cache", key, batch_size=4)
    assert len(calls) == 2  # read from disk: the extractor did not run
    assert all(torch.equal(a, b) for a, b in zip(features.tensors, again.tensors, strict=True))

    head = make_head(lite0.in_features, 2)  # the cached features are ordinary tensors a head can learn from
    nn.functional.cross_entropy(head(features.tensors[0]), features.tensors[1]).backward()
    assert head.weight.grad is not None


def test_feature_cache_key_follows_backbone_transform_and_files(image_folder):
    transform = v2.Compose([v2.ToImage(), v2.Resize(64)])
    dataset = torchvision.datasets.ImageFolder(image_folder, transform=transform)
    key = feature_cache_key("resnet18", transform, dataset)
    assert key == feature_cache_key("resnet18", v2.Compose([v2.ToImage(), v2.Resize(64)]), dataset)
    assert key != feature_cache_key("vgg16", transform, dataset)
    assert key != feature_cache_key("resnet18", v2.Compose([v2.ToImage(), v2.Resize(72)]), dataset)
    assert key != feature_cache_key("resnet18", transform, torch.utils.data.Subset(dataset, [0, 1, 3]))

    Image.fromarray(data.chelsea()).save(image_folder / "cat" / "3.jpg")
    assert key != feature_cache_key("resnet18", transform, torchvision.datasets.ImageFolder(image_folder))


def test_a_photo_replaced_under_the_same_name_is_extracted_again(image_folder, tmp_path):
    # the 200x200 mirror and the full-size download share their file names: the key must follow the content
    transform = v2.Compose([v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Resize((8, 8))])
    extractor = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4))
    calls = []
    extractor.register_forward_hook(lambda *args: calls.append(1))

    def features():
        dataset = torchvision.datasets.ImageFolder(image_folder, transform=transform)
        key = feature_cache_key("tiny", transform, dataset, extractor)
        return key, precompute_features(extractor, dataset, tmp_path / "cache", key, batch_size=6)

    key, before = features()
    assert features()[0] == key
    assert len(calls) == 1  # unchanged files: read back
    Image.fromarray(data.coffee()).resize((96, 72)).save(image_folder / "cat" / "0.jpg")  # same name, other photo
    new_key, after = features()
    assert new_key != key
    assert len(calls) == 2, "a changed photo is a cache miss"
    assert not torch.equal(before.tensors[0][0], after.tensors[0][0])


def test_feature_cache_key_follows_the_weights(image_folder):
    transform = v2.Compose([v2.ToImage(), v2.Resize(64)])
    dataset = torchvision.datasets.ImageFolder(image_folder, transform=transform)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    key = feature_cache_key("tiny", transform, dataset, model)
    assert key == feature_cache_key("tiny", transform, dataset, model)
    with torch.no_grad():
        model[0].weight[0, 0] += 1e-3
    assert key != feature_cache_key("tiny", transform, dataset, model), "other weights, other features"
    assert key != feature_cache_key("tiny", transform, dataset)
