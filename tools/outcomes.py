"""What grading makes of a submission, as typed values: each kind of outcome with its reason text and its effect."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

GRADER_META = "course_grader"  # the graded notebook's metadata where the grader records what it saw while it ran


class Outcome(Enum):
    """What happened to a submitted notebook besides its checks' own results: (reason template, voids, stops).

    An outcome that `voids` scores every exercise of the notebook 0; one that `stops` means no check result counts.
    """

    NOT_SUBMITTED = ("not submitted", True, True)
    NOT_A_NOTEBOOK = ("{file}: {why}", True, True)
    NOTEBOOK_TIME_LIMIT = ("stopped after {seconds} s (the limit for one notebook)", True, True)
    CELL_IGNORED_INTERRUPT = (
        "stopped: a cell ran past {seconds} s and did not stop when interrupted, or sent output over the limit at once",
        True,
        True,
    )
    OUTPUT_LIMIT = ("printed {bytes} bytes, more than the {limit} a notebook may: the rest was dropped", True, False)
    OUT_OF_MEMORY = ("a cell ran out of memory (MemoryError)", False, False)
    NEEDS_REVIEW = ("needs review: {what}", True, False)  # patched check helpers, hooks, replaced display functions
    WROTE_OUTSIDE = ("wrote outside its own folder: {paths}", True, False)
    NBGRADER_FAILED = ("nbgrader could not grade it{detail}", True, False)
    GRADER_ERROR = ("the grader failed on it ({error}): 0 points, to be looked at", True, True)
    CHECK_DELETED = ("check cell {grade_id} was deleted: put back", False, False)
    CHECK_EDITED = ("check cell {grade_id} was edited: graded as released", False, False)
    POINTS_CHANGED = ("points of {grade_id} were changed: reset", False, False)
    CELL_INTERRUPTED = ("a cell ran past {seconds} s and was interrupted", False, False)
    IGNORED_FILES = ("ignored: {files}", False, False)
    FEEDBACK_WITHHELD = (
        "feedback page withheld: it showed {lines} line(s) of the hidden tests or solutions",
        False,
        False,
    )

    def __init__(self, template: str, voids: bool, stops: bool) -> None:
        self.template, self.voids, self.stops = template, voids, stops

    def note(self, **details: object) -> Note:
        """This outcome with its reason written out from `details` (the template's fields)."""
        return Note(self, self.template.format(**details))


TAMPERED = frozenset({Outcome.CHECK_DELETED, Outcome.CHECK_EDITED, Outcome.POINTS_CHANGED})


@dataclass(frozen=True)
class Note:
    """One outcome of one submitted notebook and the reason the gradebook and the feedback page give for it."""

    outcome: Outcome
    reason: str


@dataclass(frozen=True)
class CheckResult:
    """What one check cell of a graded notebook earned, and why not more (empty when it passed)."""

    points: float
    reason: str = ""


DID_NOT_RUN = CheckResult(0.0, "check did not run")


@dataclass
class NotebookGrade:
    """One submitted notebook, graded: its check results by grade_id, its notes, nbgrader's feedback page."""

    checks: dict[str, CheckResult] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)
    feedback: bytes = b""
    seconds: float = 0.0

    @property
    def voided(self) -> bool:
        """Whether an outcome scores the whole notebook 0 (stopped, wrote outside its folder, not graded)."""
        return any(n.outcome.voids for n in self.notes)

    @property
    def stopped(self) -> bool:
        """Whether the notebook was stopped before its checks' results could count."""
        return any(n.outcome.stops for n in self.notes)

    @property
    def tampered(self) -> bool:
        """Whether the student deleted or changed a check cell they were given."""
        return any(n.outcome in TAMPERED for n in self.notes)


@dataclass
class Result:
    """What one student got for one exercise, and why: a row of the gradebook."""

    student: str
    exercise: str
    points: float
    max: float
    reason: str = ""
