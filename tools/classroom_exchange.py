"""Between nbgrader's exchange and the course's grader: the collected notebooks as a class folder `make grade` reads,
and the grader's feedback where `nbgrader release_feedback` looks for it.

    nbgrader collect ASSIGNMENT                                          # in the course folder COURSE
    python -m tools.classroom_exchange collected COURSE ASSIGNMENT CLASS  # CLASS/<student>/<notebook>.ipynb
    make grade SUBMISSIONS=CLASS GRADE_ARGS="--out GRADES"               # the gradebook and its feedback pages
    python -m tools.classroom_exchange hand-back COURSE ASSIGNMENT GRADES
    nbgrader release_feedback ASSIGNMENT                                 # each student: nbgrader fetch_feedback

The pages handed back are the gradebook's (tools.grading), not nbgrader's autograder's: each lands in
COURSE/feedback/<student>/<assignment>/<notebook>.html beside the submission's timestamp and secret, which is how
nbgrader gives each student their own page and no one else's.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

KEPT = ("timestamp.txt", "submission_secret.txt")  # how nbgrader matches a page to the submission it answers


def collected(course: Path, assignment: str, folder: Path) -> list[Path]:
    """The notebooks `nbgrader collect` put in course/submitted/ as folder/<student>/<notebook>.ipynb, nothing else
    (nbgrader's timestamp and secret stay behind); the notebooks written."""
    written = []
    for notebook in sorted((Path(course) / "submitted").glob(f"*/{assignment}/*.ipynb")):
        student = notebook.parent.parent.name
        (Path(folder) / student).mkdir(parents=True, exist_ok=True)
        written.append(Path(shutil.copyfile(notebook, Path(folder) / student / notebook.name)))
    return written


def hand_back(course: Path, assignment: str, grades: Path) -> list[Path]:
    """Each collected student's feedback page for `assignment` copied into course/feedback/; the pages written."""
    from .submissions import slug  # the grader's name for a student's folder (nbformat loads with it: only here)

    written = []
    for submitted in sorted((Path(course) / "submitted").glob(f"*/{assignment}")):
        student = submitted.parent.name
        page = Path(grades) / "feedback" / slug(student) / f"{assignment}.html"
        if not page.is_file():
            continue
        folder = Path(course) / "feedback" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        for name in KEPT:
            shutil.copyfile(submitted / name, folder / name)
        written.append(Path(shutil.copyfile(page, folder / f"{assignment}.html")))
        written[-1].chmod(0o644)  # nbgrader copies the page with its mode: the student must be able to read it
    return written


def main(argv: list[str] | None = None) -> int:
    """Copy the collected notebooks out, or the feedback back; say how many files and what comes next."""
    ap = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("step", choices=("collected", "hand-back"), help="which way")
    ap.add_argument("course", type=Path, help="nbgrader's course folder")
    ap.add_argument("assignment", help="the assignment (notebook) id, e.g. 03_convolutions_lenet")
    ap.add_argument("folder", type=Path, help="collected: the class folder to write; hand-back: the grades folder")
    args = ap.parse_args(argv)
    if args.step == "collected":
        written = collected(args.course, args.assignment, args.folder)
        print(f"{len(written)} notebooks in {args.folder}; now `make grade SUBMISSIONS={args.folder}`")
    else:
        written = hand_back(args.course, args.assignment, args.folder)
        then = f"nbgrader release_feedback {args.assignment}"
        print(f"{len(written)} feedback pages in {args.course / 'feedback'}; now `{then}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
