"""Helpers shared by the course notebooks: profile and device, data, the training loop, plots."""
from .env import PROFILE, QUICK, by_profile, data_root, get_device, lesson_code, set_seed
from .data import DatasetError, TensorLoader, load_mnist, mnist_loaders, require
from .engine import evaluate, fit, progress, save_checkpoint
from .plots import plot_confusion_matrix, plot_history, show_images

__all__ = [
    "PROFILE", "QUICK", "by_profile", "data_root", "get_device", "lesson_code", "set_seed",
    "DatasetError", "TensorLoader", "load_mnist", "mnist_loaders", "require",
    "evaluate", "fit", "progress", "save_checkpoint",
    "plot_confusion_matrix", "plot_history", "show_images",
]
