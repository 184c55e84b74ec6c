"""The student edition and the grading of a class's notebooks, both with nbgrader (settings: nbgrader_config.py).

    python -m tools.grading student                     # _build/student/: nbgrader generate_assignment
    python -m tools.grading grade SUBMISSIONS           # _build/grades/gradebook.csv and feedback/<student>/
    python -m tools.grading grade SUBMISSIONS --hand-grades hand_grades.csv   # with the written answers' grades

Each notebook of the course is one nbgrader assignment, made in a course folder (source/NN_name/NN_name.ipynb)
from notebooks/, the one source (tools.course_folder). Grading runs every submitted notebook on a copy: a fresh
course folder per notebook, the kernel in an empty sandbox folder (its HOME and TMPDIR too), one cell at most
--timeout seconds and the whole notebook at most --notebook-timeout (tools.grader). A file that is not a notebook,
a crash, an endless loop or a tampered check scores 0 with a reason; the other students are graded as if it were
not there. Written answers are graded by hand: 0 points "awaiting a hand grade" until a --hand-grades file
(student,grade_id,points,comment) gives them points; awaiting_hand_grades.csv lists those still waiting. Every
kernel runs in a bubblewrap sandbox (tools.bubblewrap); without bwrap grading refuses unless --no-sandbox is given
(README, "Grading a class").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .bubblewrap import find_bubblewrap
from .errors import ToolError
from .gradebook import totals
from .grader import AWAITING_FILE, grade
from .hand_grades import AWAITING
from .paths import BUILD, NOTEBOOKS
from .student_edition import build_student


def parser() -> argparse.ArgumentParser:
    """The command line: student, or grade SUBMISSIONS with its limits."""
    ap = argparse.ArgumentParser(
        prog=f"python -m {__spec__.name}", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="the instructor notebooks (source)")
    ap.add_argument("--build", type=Path, default=BUILD, help="build folder (_build)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("student", help="write the student edition into BUILD/student (course folder: BUILD/nbgrader)")
    g = sub.add_parser("grade", help="grade a folder of submissions into BUILD/grades")
    g.add_argument("submissions", type=Path, help="one subfolder per student, holding their .ipynb files")
    g.add_argument("--out", type=Path, help="where gradebook.csv and feedback/ go (default BUILD/grades)")
    g.add_argument("--timeout", type=int, default=300, help="seconds one cell may run (default 300)")
    g.add_argument("--notebook-timeout", type=int, default=900, help="seconds one notebook may run (default 900)")
    g.add_argument("--full", action="store_true", help="run submissions in the full profile (default: quick)")
    g.add_argument(
        "--hand-grades", type=Path, help="a CSV of the written answers' grades: student,grade_id,points,comment"
    )
    g.add_argument(
        "--no-sandbox", action="store_true", help="run student code with your own rights, without bubblewrap (unsafe)"
    )
    return ap


def run(args: argparse.Namespace, t0: float) -> None:
    """Write the student edition, or grade the class and print each student's points; say where it all went."""
    if args.cmd == "student":
        written = build_student(args.notebooks, args.build / "student", args.build / "nbgrader")
        seconds = time.perf_counter() - t0
        print(f"student edition: {len(written)} notebooks in {args.build / 'student'} ({seconds:.1f} s)")
        return
    out = args.out or args.build / "grades"
    jail = None if args.no_sandbox else find_bubblewrap()
    rows, timings = grade(
        args.submissions, out, args.notebooks, cell_timeout=args.timeout, notebook_timeout=args.notebook_timeout,
        quick=not args.full, jail=jail, hand_grades=args.hand_grades,
    )  # fmt: skip
    for student, (got, most) in totals(rows).items():
        print(f"{student:>24}: {got:g} / {most:g}")
    per = [s for _, _, s in timings]
    mean = f", {sum(per) / len(per):.1f} s per notebook" if per else ""
    print(f"gradebook: {out / 'gradebook.csv'}, feedback: {out / 'feedback'} ({time.perf_counter() - t0:.1f} s{mean})")
    waiting = sum(r.reason == AWAITING for r in rows)
    if waiting:
        print(f"{waiting} written answer(s) await a hand grade: {out / AWAITING_FILE} lists them, to fill in")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; 1 with the reason on stderr when nbgrader cannot build the course folder."""
    args = parser().parse_args(argv)
    try:
        run(args, time.perf_counter())
    except ToolError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
