"""Events: the only output of the tracking engine. Frozen dataclasses; sinks serialise them."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    timestamp_ms: int
    person_id: int = field(default=0, kw_only=True)

    @property
    def type(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with the event's type name under ``"type"``."""
        return {"type": self.type, **dataclasses.asdict(self)}


@dataclass(frozen=True)
class ExerciseDetected(Event):
    exercise: str
    confidence: float = 1.0


@dataclass(frozen=True)
class RepCompleted(Event):
    """One counted repetition. Times are source times in ms; the phase split follows the exercise:
    ``concentric_s`` is the muscle-shortening part (standing up from a squat, pulling up)."""

    exercise: str
    count: int
    start_ms: int
    end_ms: int
    bottom_ms: int
    concentric_s: float
    eccentric_s: float
    rom_deg: float
    form_score: float | None = None
    faults: tuple[str, ...] = ()      # fault codes of the exercise's form rules, worst first
    fault_spans: tuple[tuple[int, int], ...] = ()   # (start_ms, end_ms) of each fault
    rom_pct: float | None = None      # range of motion as a share of the exercise's full range
    pause_s: float = 0.0              # time held at the turning point
    good: bool = True                 # no fault of warning severity or worse

    @property
    def duration_s(self) -> float:
        return (self.end_ms - self.start_ms) / 1000.0


@dataclass(frozen=True)
class FormWarning(Event):
    """A cue to say and show: a form fault (code = the rule's code) or a camera problem
    (``not_found``, ``step_back``, ``turn_side``, ``face_camera``). ``message`` is the text for
    both the voice and the screen; ``rep`` the count when it was said."""

    exercise: str
    code: str
    message: str
    severity: str = "warning"
    rep: int = 0


@dataclass(frozen=True)
class SetCompleted(Event):
    """A set ended (a rest without reps, another exercise, or the end of the session): its reps,
    how many were good, time under tension (the reps' durations added up) and the rest before it
    (from the previous set's last rep; None for the first set)."""

    exercise: str
    reps: int
    start_ms: int
    end_ms: int
    good_reps: int | None = None
    tut_s: float | None = None
    rest_before_s: float | None = None


@dataclass(frozen=True)
class HoldUpdated(Event):
    """A static hold (plank) in progress or ended; ``held_s`` is the total time in position."""

    exercise: str
    held_s: float
    holding: bool
    good_s: float | None = None   # of which in good form (no fault of the hold's form rules)


@dataclass(frozen=True)
class PersonLost(Event):
    last_seen_ms: int


@dataclass(frozen=True)
class SessionEnded(Event):
    total_reps: int


__all__ = [
    "Event", "ExerciseDetected", "RepCompleted", "FormWarning", "SetCompleted", "HoldUpdated",
    "PersonLost", "SessionEnded",
]
