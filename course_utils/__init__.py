"""Helpers shared by the course notebooks: profile and device, data, the training loop, plots."""
from importlib import import_module

from .env import (PROFILE, QUICK, by_profile, cache_dir, course_map, data_root, get_device, lesson_code, progress,
                  set_seed)

# The rest loads on first use, so `python -m course_utils.data` runs its module only once.
_LAZY = {
    "DatasetError": "data", "TensorLoader": "data", "load_mnist": "data", "mnist_loaders": "data", "require": "data",
    "evaluate": "engine", "fit": "engine", "save_checkpoint": "engine",
    "plot_confusion_matrix": "plots", "plot_history": "plots", "show_images": "plots",
}
__all__ = ["PROFILE", "QUICK", "by_profile", "cache_dir", "course_map", "data_root", "get_device", "lesson_code",
           "progress", "set_seed", *_LAZY, "data", "engine", "folders", "models", "plots"]


def __getattr__(name: str):
    """Import a helper's module the first time the helper (or the module) is used."""
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    if name in {"data", "engine", "folders", "models", "plots"}:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
