"""Helpers shared by the course notebooks: profile and device, data, the training loop, plots."""
from .env import PROFILE, QUICK, by_profile, data_root, course_map, get_device, lesson_code, progress, set_seed
from .data import DatasetError, TensorLoader, load_mnist, mnist_loaders, require
from .engine import evaluate, fit, save_checkpoint
from .plots import plot_confusion_matrix, plot_history, show_images

__all__ = [
    "PROFILE", "QUICK", "by_profile", "course_map", "data_root", "get_device", "lesson_code", "progress", "set_seed",
    "DatasetError", "TensorLoader", "load_mnist", "mnist_loaders", "require",
    "evaluate", "fit", "save_checkpoint",
    "plot_confusion_matrix", "plot_history", "show_images",
]
