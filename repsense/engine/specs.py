"""The vocabulary of exercise descriptions: the dataclasses an exercise file is loaded into.

The engine's stages (signals, counting, form) read these; ``repsense.engine.exercises`` parses
and validates the files against the stages' measures, so the stages never import the loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

GENERIC = "generic"
SIDES = ("visible", "each", "min", "max", "left", "right")
SIGNAL_TYPES = ("angle", "vertical", "motion")


@dataclass(frozen=True)
class SignalSpec:
    """What drives the count. ``angle``: the angle at the middle of three joints (side-less names,
    e.g. hip/knee/ankle); ``vertical``: the angle to the image vertical of the segment between two
    points; ``motion``: the body along its main direction of motion (generic counter, repsense.engine.generic)."""

    type: str
    joints: tuple[str, ...] = ()
    side: str = "visible"
    use_z: bool = False


@dataclass(frozen=True)
class CountSpec:
    """A rep leaves the rest position, turns, and comes back.

    rest: "high" or "low" - where the signal sits at the start position.
    min_rom: the smallest excursion (signal units, degrees for angles) that is a rep; smaller
        wobbles never count, which is the hysteresis that stops double counts at a threshold.
    start_fraction: leaving rest by this fraction of min_rom starts a rep candidate.
    return_fraction: a rep ends when the signal is back this share of the way to the rest value.
    rest_bound / turn_bound: optional absolute values the rest extreme / the turning point must
        reach (e.g. legs nearly straight at the top, knees bent enough at the bottom).
    away_phase: whether moving away from rest is the eccentric or the concentric phase.
    min_phase_s: both halves of a rep (away and back) take at least this long; a body does not
        move a joint through its range in a frame or two, a pose estimate that jumps does.
    fill_missed: at most this many reps one interval of a regular run may hide (counting.Rhythm);
        0 (the default) counts only the reps seen.
    """

    rest: str
    min_rom: float
    min_rep_s: float = 0.4
    max_rep_s: float = 8.0
    start_fraction: float = 0.3
    return_fraction: float = 0.7
    rest_bound: float | None = None
    turn_bound: float | None = None
    away_phase: str = "eccentric"
    min_phase_s: float = 0.2
    full_rom: float | None = None   # the exercise's full range (signal units): ROM % per rep
    fill_missed: int = 0


FORM_WHEN = ("rep", "bottom", "top", "always")
SEVERITIES = ("info", "warning", "critical")   # in rising order
VIEWS = ("any", "side", "front")
REP_MEASURES = ("rep_rest", "rep_turn", "rep_rom")


@dataclass(frozen=True)
class FormRule:
    """One thing a coach checks (repsense.engine.form). ``measure`` is a frame measure
    (repsense.engine.form.FORM_MEASURES) or a value of the counted rep: ``rep_rest`` (the driving
    signal at the start position), ``rep_turn`` (at the turning point), ``rep_rom``.

    when: ``rep`` - out of range for ``min_s`` at any time during a rep; ``bottom`` / ``top`` - at
        the turning point / the start position (the best value within a short window counts, so
        one noisy frame does not fail a rep); ``always`` - for holds, any time in position.
    min / max: the acceptable range; outside it is the fault.
    view: judge only when the camera sees the body from this side (repsense.engine.form.view_of).
    cue: the short instruction said and shown; the same text serves the speech and the web page.
    relative: judge the change from the start position instead of the value (for measures
        whose zero differs between people and cameras, e.g. the heel landmark's height).
    source: where the threshold comes from (labelled data or coaching literature).
    """

    code: str
    cue: str
    measure: str
    when: str = "rep"
    min: float | None = None
    max: float | None = None
    severity: str = "warning"
    view: str = "any"
    min_s: float = 0.3
    relative: bool = False
    source: str = ""


@dataclass(frozen=True)
class CameraSpec:
    """How the camera should see this exercise: ``view`` (side, front or any) and the side-less
    joints that must be visible (default: the driving signal's)."""

    view: str = "any"
    visible: tuple[str, ...] = ()


@dataclass(frozen=True)
class Condition:
    """A posture check on a named measure (see repsense.engine.signals.MEASURES)."""

    measure: str
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Position:
    """One way a static position looks to the camera: every condition measured and in range."""

    name: str
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class HoldSpec:
    """A static hold: time counts while the body is in one of the positions (e.g. seen from the
    side, seen from the front)."""

    positions: tuple[Position, ...]
    enter_s: float = 1.0
    grace_s: float = 1.0


@dataclass(frozen=True)
class ExerciseSpec:
    name: str
    display: str
    signal: SignalSpec | None = None   # None for a hold
    count: CountSpec | None = None
    hold: HoldSpec | None = None
    posture: tuple[Condition, ...] = ()
    max_travel_speed: float | None = 1.0  # torso lengths / s of the hips; faster = walking, no count
    form: tuple[FormRule, ...] = ()
    camera: CameraSpec = CameraSpec()
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_hold(self) -> bool:
        return self.hold is not None
