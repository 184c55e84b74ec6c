"""Progress: nothing in batch runs, tqdm in a terminal, one text line rewritten in place in Jupyter (no widget)."""

from __future__ import annotations

import sys
import types

from course_utils import progress as progress_module
from course_utils.progress import Progress, ProgressLine, progress


def test_batch_runs_show_nothing(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_BATCH", "1")
    assert list(progress(range(5), "work")) == [0, 1, 2, 3, 4]
    assert capsys.readouterr() == ("", "")


def test_a_terminal_gets_a_tqdm_bar_on_stderr(monkeypatch, capsys):
    monkeypatch.delenv("COURSE_BATCH", raising=False)
    assert list(progress(range(3), "work")) == [0, 1, 2]
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "work:" in captured.err
    assert "it/s" in captured.err


def test_jupyter_gets_plain_text_updated_in_place(monkeypatch):
    shown = []

    class Handle:
        def update(self, data, raw):
            shown.append(("update", data["text/plain"]))

    def display(data, raw, display_id):
        assert raw
        assert display_id
        assert set(data) == {"text/plain"}
        shown.append(("display", data["text/plain"]))
        return Handle()

    monkeypatch.setitem(sys.modules, "IPython.display", types.SimpleNamespace(display=display))
    monkeypatch.delenv("COURSE_BATCH", raising=False)
    monkeypatch.setattr(progress_module, "in_notebook", lambda: True)
    line = ProgressLine(interval=0.0)
    assert list(line.track(range(3), "epoch 1 train")) == [0, 1, 2]
    assert shown == [
        ("display", "epoch 1 train: 1/3 (0.0 s)"),
        ("update", "epoch 1 train: 2/3 (0.0 s)"),
        ("update", "epoch 1 train: 3/3 (0.0 s)"),
    ]
    shown.clear()
    assert list(progress(iter(range(2)), "features")) == [0, 1]
    assert shown[0][1].startswith("features: 1/?")
    assert shown[-1][1].startswith("features: 2 done in")


def test_one_choice_of_style_for_items_and_bytes(monkeypatch):
    monkeypatch.setattr(progress_module, "in_notebook", lambda: False)
    monkeypatch.setenv("COURSE_BATCH", "yes")
    assert progress_module.progress_style() == "none"
    monkeypatch.delenv("COURSE_BATCH")
    assert progress_module.progress_style() == "bar"
    monkeypatch.setattr(progress_module, "in_notebook", lambda: True)
    assert progress_module.progress_style() == "line"


def test_bytes_in_jupyter_read_as_megabytes(monkeypatch):
    shown = []
    monkeypatch.delenv("COURSE_BATCH", raising=False)
    monkeypatch.setattr(progress_module, "in_notebook", lambda: True)
    monkeypatch.setattr(ProgressLine, "show", lambda self, text, force=False: shown.append(text))
    with Progress("caltech-101.zip", total=2_000_000, unit="B") as bytes_done:
        bytes_done.update(500_000)
    assert shown == ["caltech-101.zip: 0.5/2.0 MB (0 s)", "caltech-101.zip: 0.5 MB"]
