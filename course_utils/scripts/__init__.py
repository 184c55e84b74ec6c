"""Command-line entry points, run as modules of the installed package.

`python -m course_utils.scripts.run_notebooks` (behind `make course`) and
`torchrun ... -m course_utils.scripts.train_caltech101` (notebook 06 on several GPUs).
"""
