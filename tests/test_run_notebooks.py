"""make course's runner: executes a notebook in place, atomically, with batch-run settings and the profile named."""

from __future__ import annotations

from types import SimpleNamespace

import nbformat
import pytest

from course_utils.scripts import run_notebooks


def test_a_notebook_is_executed_in_place_with_batch_settings(tmp_path, monkeypatch, capsys):
    path = tmp_path / "00_tiny.ipynb"
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import os\nprint(os.environ['COURSE_BATCH'], 6 * 7)")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nbformat.write(nb, path)
    monkeypatch.setenv("COURSE_QUICK", "true")  # the one parser: true means quick, here as in the kernels
    assert run_notebooks.main([str(path)]) == 0
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    assert outputs[0]["text"] == "1 42\n"
    assert "00_tiny.ipynb (quick profile)" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["00_tiny.ipynb"]  # no temporary file left


def test_a_run_notebook_carries_the_installed_kernels_spec(tmp_path):
    """The kernelspec JupyterLab would write on opening (ipykernel's display name, not "Python 3") is written by the
    run, so an untouched notebook reopens unmodified."""
    from jupyter_client.kernelspec import KernelSpecManager

    path = tmp_path / "00_tiny.ipynb"
    old = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("6 * 7")], metadata={"kernelspec": old}), path
    )
    run_notebooks.run(path)
    spec = KernelSpecManager().get_kernel_spec("python3")
    written = nbformat.read(path, as_version=4).metadata.kernelspec
    assert written == {"display_name": spec.display_name, "language": spec.language, "name": "python3"}


def test_a_write_that_fails_leaves_the_notebook_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "00_tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("6 * 7")]), path)
    before = path.read_bytes()

    def write_half(nb, file):
        file.write('{"cells": [')
        raise OSError("disk full")

    monkeypatch.setattr(run_notebooks.nbformat, "write", write_half)
    monkeypatch.setattr(run_notebooks, "NotebookClient", lambda nb, **options: SimpleNamespace(execute=lambda: nb))
    with pytest.raises(OSError, match="disk full"):
        run_notebooks.run(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["00_tiny.ipynb"]  # no half-written temporary file beside it
