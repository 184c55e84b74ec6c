"""A class's submissions: one folder per student, each file matched to a notebook and read into memory at once."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .outcomes import Note, Outcome

MAX_BYTES = 50 * 2**20  # a submitted notebook larger than this is not read
MAX_DEPTH = 64  # JSON nested deeper than this is not parsed (a notebook's own nesting is about 8)
TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')  # JSON strings (skipped) and brackets


@dataclass
class Exercise:
    """One autograded check cell of a notebook: its grade_id, label (e.g. 01.2) and points."""

    grade_id: str
    label: str
    points: float


@dataclass
class Submission:
    """A student's folder: notebooks read into memory by assignment, and files that could not be graded."""

    student: str
    slug: str
    notebooks: dict[str, nbformat.NotebookNode] = field(default_factory=dict)  # assignment id -> notebook
    problems: dict[str, Note] = field(default_factory=dict)  # assignment id -> why it was not graded
    ignored: list[str] = field(default_factory=list)  # files that are no notebook of the course

    def handed_in(self, aid: str) -> bool:
        """Whether the student handed in a file for assignment `aid`, readable or not."""
        return aid in self.notebooks or aid in self.problems


def exercises(path: Path) -> list[Exercise]:
    """The autograded check cells of a source notebook, in order, labelled NN.k."""
    nb = nbformat.read(path, as_version=4)
    number = path.name[:2]
    found = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and float(meta.get("points", 0)) > 0:
            found.append(Exercise(meta["grade_id"], f"{number}.{len(found) + 1}", float(meta["points"])))
    return found


WRITTEN_ID = re.compile(r"ex\d+-(\d+)-written")  # the grade_id of exercise K's written answer: exNN-K-written


def written_answers(path: Path) -> list[Exercise]:
    """The written answers of a source notebook, graded by hand (markdown, solution and grade, points > 0), in order,
    labelled "NN.K written" for exercise K (from the grade_id exNN-K-written, else their order)."""
    nb = nbformat.read(path, as_version=4)
    found = []
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        graded = cell.cell_type == "markdown" and meta.get("grade") and meta.get("solution")
        if graded and float(meta.get("points", 0)) > 0:
            m = WRITTEN_ID.fullmatch(meta["grade_id"])
            k = m.group(1) if m else str(len(found) + 1)
            found.append(Exercise(meta["grade_id"], f"{path.name[:2]}.{k} written", float(meta["points"])))
    return found


def slug(name: str) -> str:
    """A student id nbgrader and file systems accept: letters, digits, - and _ only."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_") or "student"


def match_assignment(path: Path, ids: list[str]) -> str | None:
    """The assignment a submitted file belongs to: its exact name, else its leading two digits (NN_...)."""
    stem = path.stem.strip()
    if stem in ids:
        return stem
    m = re.match(r"(\d\d)(?:[_ .-]|$)", stem)
    if m:
        candidates = [i for i in ids if i.startswith(m.group(1) + "_")]
        if len(candidates) == 1:
            return candidates[0]
    return None


def read_text(path: Path) -> tuple[str | None, str | None]:
    """(the file's text, None), or (None, why not) for a file that is empty, too large, not UTF-8 or unreadable."""
    try:
        size = path.stat().st_size
        if size == 0:
            return None, "empty file"
        if size > MAX_BYTES:
            return None, f"file of {size / 2**20:.0f} MB, more than a notebook should be"
        return path.read_bytes().decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "not a notebook (not text)"
    except OSError as error:
        return None, f"could not be read ({error.strerror})"


def json_depth(text: str) -> int:
    """How deep the brackets of a JSON text nest, outside its strings, counted before any parser recurses."""
    depth = deepest = 0
    for token in TOKENS.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def display_name(name: str) -> str:
    """A folder's name as text: undecodable bytes (a Windows zip's Latin-1 names) read as Latin-1, not surrogates."""
    raw = os.fsencode(name)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def without_duplicate_checks(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with a second cell of the same grade_id (a copy-pasted check) made an ordinary cell."""
    seen = set()
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id is not None and grade_id in seen:
            del cell.metadata["nbgrader"]
        seen.add(grade_id)
    return nb


def read_notebook(path: Path) -> tuple[nbformat.NotebookNode | None, str | None]:
    """(notebook, None) for a readable notebook, else (None, why not) in a few words."""
    text, why = read_text(path)
    if text is None:
        return None, why
    if json_depth(text) > MAX_DEPTH:
        return None, f"not a notebook (JSON nested more than {MAX_DEPTH} deep)"
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return None, "not a notebook (not JSON)"
    if not isinstance(data, dict) or "cells" not in data:
        return None, "not a notebook (JSON without cells)"
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # nbformat raises several kinds
        return None, f"not a valid notebook ({type(error).__name__})"
    return nb, None


def student_files(folder: Path) -> list[Path]:
    """The files (and links to files) in a student's folder, at any depth, leaving out hidden files and folders."""
    found = []
    for top, dirs, files in os.walk(folder):  # never into a linked folder (a classmate's, the repository)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(top) / name for name in files if not name.startswith(".")]
    return sorted(found)


def inside(path: Path, folder: Path) -> bool:
    """Whether `path` is a file of `folder` itself: no symbolic link on the way, nothing that resolves elsewhere."""
    rel = path.relative_to(folder)
    links = [folder.joinpath(*rel.parts[: i + 1]).is_symlink() for i in range(len(rel.parts))]
    return not any(links) and path.resolve().is_relative_to(folder.resolve())


def read_folder(sub: Submission, folder: Path, ids: list[str]) -> Submission:
    """Fill `sub` from `folder`: each file read as the notebook it matches, or ignored with the reason."""
    for path in student_files(folder):
        aid = match_assignment(path, ids)
        rel = path.relative_to(folder).as_posix()
        if aid is None:
            sub.ignored.append(rel)
        elif sub.handed_in(aid):
            sub.ignored.append(f"{rel} (a second file for {aid})")
        else:
            nb, why = read_notebook(path) if inside(path, folder) else (None, "a link out of the folder: refused")
            if nb is None:
                sub.problems[aid] = Outcome.NOT_A_NOTEBOOK.note(file=rel, why=why)
            else:
                sub.notebooks[aid] = without_duplicate_checks(nb)
    return sub


def collect(submissions: Path, ids: list[str]) -> list[Submission]:
    """Every student folder in `submissions` (any depth below it), its notebooks read into memory now."""
    found, slugs = [], set()
    for folder in sorted(p for p in Path(submissions).iterdir() if p.is_dir() and not p.name.startswith(".")):
        sid = slug(folder.name)
        while sid in slugs:
            sid += "_"
        slugs.add(sid)
        sub = Submission(display_name(folder.name), sid)
        try:
            found.append(read_folder(sub, folder, ids))
        except Exception as error:  # one folder that cannot be read never stops the class
            found.append(Submission(sub.student, sid, ignored=[f"the folder could not be read ({error!r:.200})"]))
    return found
