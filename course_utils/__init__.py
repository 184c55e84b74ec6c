"""Helpers shared by the course notebooks: profile and device, data, the training loop, metrics, plots, models.

`import course_utils as cu` gives the everyday names below; each lives in a module named by its concern
(MODULES below, lowest layer first), which loads on first use.
"""

from importlib import import_module

from .env import PROFILE, QUICK, batch_run, by_profile, cache_dir, data_root, flag, get_device, in_notebook, set_seed

# The rest loads on first use: importing the package stays light, and `python -m course_utils.data` runs its
# module only once.
_LAZY = {
    "course_map": "course",
    "lesson_code": "course",
    "notebook_paths": "course",
    "DatasetError": "data",
    "require": "data",
    "FASHION_CLASSES": "tensors",
    "MNIST_STATS": "tensors",
    "TensorLoader": "tensors",
    "load_mnist": "tensors",
    "mnist_loaders": "tensors",
    "evaluate": "metrics",
    "fit": "engine",
    "save_checkpoint": "checkpoints",
    "load_checkpoint": "checkpoints",
    "Monitor": "callbacks",
    "KeepBest": "callbacks",
    "EarlyStopping": "callbacks",
    "Checkpoint": "callbacks",
    "LivePlot": "callbacks",
    "TensorBoard": "callbacks",
    "plot_confusion_matrix": "plots",
    "plot_history": "plots",
    "show_images": "plots",
    "sliders": "widgets",
}
# The modules, lowest layer first: each imports only those before it (CONTRIBUTING.md, tests/test_layering.py).
MODULES = (
    "env",
    "widgets",
    "files",
    "course",
    "checks",
    "progress",
    "download",
    "images",
    "catalog",
    "archives",
    "data",
    "tensors",
    "folders",
    "metrics",
    "engine",
    "plots",
    "models",
    "features",
    "checkpoints",
    "callbacks",
)
__all__ = ["PROFILE", "QUICK", "batch_run", "by_profile", "cache_dir", "data_root", "flag", "get_device", "in_notebook"]
__all__ += ["set_seed", "MODULES", *_LAZY, *MODULES]


def __getattr__(name: str):
    """Import a helper's module the first time the helper (or the module) is used."""
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    if name in MODULES:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
