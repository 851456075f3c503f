"""Exercise descriptions: one TOML file per exercise in this folder, loaded into ExerciseSpec.

Adding an exercise is adding a file. Each file names the signal that drives its count, the
count's thresholds (with hysteresis), the rep duration bounds, and the posture it must be done in.
See ``squat.toml`` for a commented example.
"""

from __future__ import annotations

import functools
import pathlib
import tomllib
from dataclasses import dataclass, field
from typing import Any

from repsense.errors import InputError

SPEC_DIR = pathlib.Path(__file__).resolve().parent
GENERIC = "generic"
SIDES = ("visible", "each", "min", "max", "left", "right")
SIGNAL_TYPES = ("angle", "vertical", "motion")


@dataclass(frozen=True)
class SignalSpec:
    """What drives the count. ``angle``: the angle at the middle of three joints (side-less names,
    e.g. hip/knee/ankle); ``vertical``: the angle to the image vertical of the segment between two
    points; ``motion``: the body along its main direction of motion (generic counter, repsense.generic)."""

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


FORM_WHEN = ("rep", "bottom", "top", "always")
SEVERITIES = ("info", "warning", "critical")   # in rising order
VIEWS = ("any", "side", "front")
REP_MEASURES = ("rep_rest", "rep_turn", "rep_rom")


@dataclass(frozen=True)
class FormRule:
    """One thing a coach checks (repsense.form). ``measure`` is a frame measure
    (repsense.form.FORM_MEASURES) or a value of the counted rep: ``rep_rest`` (the driving
    signal at the start position), ``rep_turn`` (at the turning point), ``rep_rom``.

    when: ``rep`` - out of range for ``min_s`` at any time during a rep; ``bottom`` / ``top`` - at
        the turning point / the start position (the best value within a short window counts, so
        one noisy frame does not fail a rep); ``always`` - for holds, any time in position.
    min / max: the acceptable range; outside it is the fault.
    view: judge only when the camera sees the body from this side (repsense.form.view_of).
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
    """A posture check on a named measure (see repsense.signals.MEASURES)."""

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


def _build(cls: type, table: dict[str, Any], where: str) -> Any:
    fields = cls.__dataclass_fields__  # type: ignore[attr-defined]
    unknown = set(table) - set(fields)
    if unknown:
        raise InputError(f"{where}: unknown keys {sorted(unknown)}; expected some of {sorted(fields)}")
    try:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in table.items()})
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: {exc}") from None


def parse_spec(data: dict[str, Any], where: str) -> ExerciseSpec:
    """Build and validate an ExerciseSpec from a parsed TOML table."""
    data = dict(data)
    name = data.pop("name", None)
    if not isinstance(name, str) or not name.isidentifier() or name.lower() != name:
        raise InputError(f"{where}: 'name' must be a snake_case identifier, got {name!r}")
    signal_table = data.pop("signal", None)
    signal = _signal(signal_table, where) if signal_table is not None else None
    count = data.pop("count", None)
    hold = data.pop("hold", None)
    if (count is None) == (hold is None):
        raise InputError(f"{where}: give exactly one of [count] (reps) or [hold] (timed hold)")
    count_spec = _build(CountSpec, count, f"{where} [count]") if count is not None else None
    if count_spec is not None and signal is None:
        raise InputError(f"{where}: a [count] needs a [signal] that drives it")
    if count_spec is not None:
        if count_spec.rest not in ("high", "low"):
            raise InputError(f"{where}: count.rest must be 'high' or 'low', got {count_spec.rest!r}")
        if count_spec.away_phase not in ("eccentric", "concentric"):
            raise InputError(f"{where}: count.away_phase must be 'eccentric' or 'concentric'")
        if not 0 < count_spec.min_rep_s < count_spec.max_rep_s:
            raise InputError(f"{where}: need 0 < min_rep_s < max_rep_s")
    posture = _conditions(data.pop("posture", []), f"{where} [[posture]]")
    form = _form(data.pop("form", []), signal, f"{where} [[form]]")
    camera = _camera(data.pop("camera", {}), signal, f"{where} [camera]")
    spec = ExerciseSpec(
        name=name, display=data.pop("display", name.replace("_", " ")), signal=signal,
        count=count_spec,
        hold=_hold(hold, f"{where} [hold]") if hold is not None else None,
        posture=posture, max_travel_speed=data.pop("max_travel_speed", 1.0), form=form,
        camera=camera,
        notes=data.pop("notes", ""), extra=data.pop("extra", {}),
    )
    if data:
        raise InputError(f"{where}: unknown keys {sorted(data)}")
    return spec


def _signal(table: dict[str, Any], where: str) -> SignalSpec:
    from repsense.signals import JOINT_NAMES, POINT_NAMES

    signal: SignalSpec = _build(SignalSpec, table, f"{where} [signal]")
    if signal.type not in SIGNAL_TYPES:
        raise InputError(f"{where}: signal type must be one of {SIGNAL_TYPES}, got {signal.type!r}")
    if signal.side not in SIDES:
        raise InputError(f"{where}: signal side must be one of {SIDES}, got {signal.side!r}")
    need = {"angle": 3, "vertical": 2, "motion": 0}[signal.type]
    names = JOINT_NAMES if signal.type == "angle" else POINT_NAMES
    if len(signal.joints) != need or any(j not in names for j in signal.joints):
        raise InputError(f"{where}: a {signal.type} signal needs {need} joints from {sorted(names)}, "
                         f"got {list(signal.joints)}")
    return signal


def _conditions(items: list[dict[str, Any]], where: str) -> tuple[Condition, ...]:
    from repsense.signals import MEASURES

    conds = tuple(_build(Condition, c, where) for c in items)
    for c in conds:
        if c.measure not in MEASURES:
            raise InputError(f"{where}: unknown measure {c.measure!r}; known: {sorted(MEASURES)}")
    return conds


def _form(items: list[dict[str, Any]], signal: SignalSpec | None,
          where: str) -> tuple[FormRule, ...]:
    from repsense.form import FORM_MEASURES

    rules = tuple(_build(FormRule, r, f"{where}[{i}]") for i, r in enumerate(items))
    codes: set[str] = set()
    for r in rules:
        if not r.code.isidentifier() or r.code in codes:
            raise InputError(f"{where}: rule codes must be unique snake_case names, got {r.code!r}")
        codes.add(r.code)
        if r.when not in FORM_WHEN or r.severity not in SEVERITIES or r.view not in VIEWS:
            raise InputError(f"{where} {r.code}: when in {FORM_WHEN}, severity in {SEVERITIES}, "
                             f"view in {VIEWS}")
        if r.measure not in FORM_MEASURES and r.measure not in REP_MEASURES:
            raise InputError(f"{where} {r.code}: unknown measure {r.measure!r}; known: "
                             f"{sorted(FORM_MEASURES) + list(REP_MEASURES)}")
        if r.measure in REP_MEASURES and (signal is None or r.when not in ("bottom", "top")):
            raise InputError(f"{where} {r.code}: {r.measure} is a value of a counted rep: "
                             "use it with when = 'bottom' or 'top'")
        if r.relative and r.measure in REP_MEASURES:
            raise InputError(f"{where} {r.code}: relative applies to frame measures")
        if r.min is None and r.max is None:
            raise InputError(f"{where} {r.code}: give min, max or both")
        if not r.cue.strip():
            raise InputError(f"{where} {r.code}: a rule needs a cue")
    return rules


def _camera(table: dict[str, Any], signal: SignalSpec | None, where: str) -> CameraSpec:
    from repsense.signals import JOINT_NAMES

    cam: CameraSpec = _build(CameraSpec, table, where)
    if cam.view not in VIEWS:
        raise InputError(f"{where}: view must be one of {VIEWS}")
    if any(j not in JOINT_NAMES for j in cam.visible):
        raise InputError(f"{where}: visible joints must be from {sorted(JOINT_NAMES)}")
    if not cam.visible and signal is not None and signal.type == "angle":
        cam = CameraSpec(cam.view, signal.joints)
    return cam


def _hold(table: dict[str, Any], where: str) -> HoldSpec:
    table = dict(table)
    positions = tuple(
        Position(str(p.get("name", f"position {i + 1}")),
                 _conditions(p.get("conditions", []), f"{where} positions[{i}]"))
        for i, p in enumerate(table.pop("positions", [])))
    if not positions or any(not p.conditions for p in positions):
        raise InputError(f"{where}: a hold needs [[hold.positions]], each with conditions")
    return _build(HoldSpec, {**table, "positions": positions}, where)  # type: ignore[no-any-return]


def load_spec_file(path: str | pathlib.Path) -> ExerciseSpec:
    path = pathlib.Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: cannot read exercise description: {exc}") from None
    spec = parse_spec(data, str(path.name))
    if spec.name != path.stem:
        raise InputError(f"{path}: name {spec.name!r} must match the file name {path.stem!r}")
    return spec


@functools.cache
def catalog() -> dict[str, ExerciseSpec]:
    """Every exercise description shipped in the package, by name."""
    return {p.stem: load_spec_file(p) for p in sorted(SPEC_DIR.glob("*.toml"))}


def get_spec(name: str) -> ExerciseSpec:
    specs = catalog()
    if name not in specs:
        raise InputError(f"unknown exercise {name!r}; known: {', '.join(sorted(specs))}, "
                         f"{GENERIC}, auto")
    return specs[name]
