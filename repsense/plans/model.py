"""Workout plans: a named list of steps (exercise, sets, a rep or hold target, rests), read from
TOML or JSON, validated with errors that say what is wrong and where (docs/plans.md).

``parse_plan(doc, where)`` takes a parsed TOML/JSON table; ``load_plan_file(path)`` a file;
``builtin_plans()`` the plans shipped in ``repsense/plans/builtin``.
"""

from __future__ import annotations

import functools
import pathlib
import re
import tomllib
from dataclasses import dataclass, field, replace
from typing import Any

from repsense.errors import InputError

BUILTIN_DIR = pathlib.Path(__file__).resolve().parent / "builtin"
MAX_SETS = 20
MAX_REPS = 500
MAX_HOLD_S = 3600.0
MAX_REST_S = 1800.0
MAX_STEPS = 50
MAX_NAME = 80
DEFAULT_REST_S = 60.0
STEP_KEYS = ("exercise", "sets", "reps", "hold_s", "rest_s", "rest_after_s")
PLAN_KEYS = ("name", "description", "steps", "id")
ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@dataclass(frozen=True)
class Step:
    """One exercise of a plan: ``sets`` sets of ``reps`` reps (or of ``hold_s`` seconds held in
    good form for a hold such as the plank), ``rest_s`` between its sets and ``rest_after_s``
    before the next step."""

    exercise: str
    sets: int
    reps: int | None = None
    hold_s: float | None = None
    rest_s: float = DEFAULT_REST_S
    rest_after_s: float | None = None   # None: the same as rest_s

    @property
    def is_hold(self) -> bool:
        return self.hold_s is not None

    @property
    def target(self) -> float:
        """Reps per set, or seconds per set for a hold."""
        return float(self.hold_s) if self.hold_s is not None else float(self.reps or 0)

    @property
    def rest_after(self) -> float:
        return self.rest_s if self.rest_after_s is None else self.rest_after_s

    @property
    def display(self) -> str:
        from repsense.engine.exercises import get_spec

        return get_spec(self.exercise).display

    def describe(self) -> str:
        """``3 x 10 Squat, rest 60 s``."""
        what = f"{_num(self.hold_s)} s" if self.is_hold else f"{self.reps}"
        return f"{self.sets} x {what} {self.display}, rest {_num(self.rest_s)} s"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"exercise": self.exercise, "sets": self.sets}
        if self.is_hold:
            d["hold_s"] = self.hold_s
        else:
            d["reps"] = self.reps
        d["rest_s"] = self.rest_s
        if self.rest_after_s is not None:
            d["rest_after_s"] = self.rest_after_s
        return d


@dataclass(frozen=True)
class Plan:
    """A workout: ``steps`` done in order. ``id`` names it (a built-in's file name, a user plan's
    store key); ``builtin`` is True for the plans shipped in the package."""

    name: str
    steps: tuple[Step, ...]
    description: str = ""
    id: str = ""
    builtin: bool = False
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "description": self.description,
                "builtin": self.builtin, "steps": [s.to_dict() for s in self.steps]}

    def to_toml(self) -> str:
        """The plan as the TOML file format (docs/plans.md)."""
        lines = [f"name = {_toml_str(self.name)}"]
        if self.description:
            lines.append(f"description = {_toml_str(self.description)}")
        for s in self.steps:
            lines += ["", "[[steps]]"]
            lines += [f"{k} = {_toml_str(v) if isinstance(v, str) else _num(v)}"
                      for k, v in s.to_dict().items()]
        return "\n".join(lines) + "\n"

    def with_targets(self, targets: dict[int, float]) -> Plan:
        """The plan with other per-set targets for some steps (index -> reps or seconds)."""
        steps = list(self.steps)
        for i, value in targets.items():
            s = steps[i]
            steps[i] = replace(s, hold_s=float(value)) if s.is_hold else replace(s, reps=int(value))
        return replace(self, steps=tuple(steps))


def _num(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _whole(value: Any, what: str, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            (isinstance(value, float) and not value.is_integer()):
        raise InputError(f"{what} must be a whole number, got {value!r}")
    value = int(value)
    if value < lo:
        raise InputError(f"{what} must be at least {lo}, got {value}")
    if value > hi:
        raise InputError(f"{what} must be at most {hi}, got {value}")
    return value


def _seconds(value: Any, what: str, lo: float, hi: float, *, zero_ok: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise InputError(f"{what} must be a number of seconds, got {value!r}")
    value = float(value)
    if value < 0:
        raise InputError(f"{what} cannot be negative, got {_num(value)}")
    if value < lo or (value == 0 and not zero_ok):
        raise InputError(f"{what} must be more than 0 s, got {_num(value)}" if lo == 0 else
                         f"{what} must be at least {_num(lo)} s, got {_num(value)}")
    if value > hi:
        raise InputError(f"{what} must be at most {_num(hi)} s, got {_num(value)}")
    return value


def parse_step(table: Any, where: str) -> Step:
    from repsense.engine.exercises import catalog

    if not isinstance(table, dict):
        raise InputError(f"{where}: a step is a table like {{exercise = \"squat\", sets = 3, "
                         f"reps = 10}}, got {table!r}")
    unknown = sorted(set(table) - set(STEP_KEYS))
    if unknown:
        raise InputError(f"{where}: unknown keys {unknown}; a step has {list(STEP_KEYS)}")
    name = table.get("exercise")
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}: give the step's exercise, e.g. exercise = \"squat\"")
    specs = catalog()
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in specs:
        raise InputError(f"{where}: unknown exercise {name!r}; known: {', '.join(sorted(specs))}")
    spec = specs[key]
    where = f"{where} ({key})"
    if "sets" not in table:
        raise InputError(f"{where}: give the number of sets, e.g. sets = 3")
    sets = _whole(table["sets"], f"{where}: sets", 1, MAX_SETS)
    reps = hold = None
    if spec.is_hold:
        if "reps" in table:
            raise InputError(f"{where}: {key} is a timed hold: give hold_s (seconds per set), "
                             "not reps")
        if "hold_s" not in table:
            raise InputError(f"{where}: {key} is a timed hold: give hold_s, the seconds of each "
                             "set, e.g. hold_s = 30")
        hold = _seconds(table["hold_s"], f"{where}: hold_s", 0, MAX_HOLD_S, zero_ok=False)
    else:
        if "hold_s" in table:
            raise InputError(f"{where}: {key} is counted in reps: give reps, not hold_s")
        if "reps" not in table:
            raise InputError(f"{where}: give the reps of each set, e.g. reps = 10")
        reps = _whole(table["reps"], f"{where}: reps", 1, MAX_REPS)
    rest = _seconds(table.get("rest_s", DEFAULT_REST_S), f"{where}: rest_s", 0, MAX_REST_S,
                    zero_ok=True)
    after = table.get("rest_after_s")
    rest_after = None if after is None else _seconds(after, f"{where}: rest_after_s", 0,
                                                    MAX_REST_S, zero_ok=True)
    return Step(key, sets, reps, hold, rest, rest_after)


def parse_plan(doc: Any, where: str = "plan", *, plan_id: str = "", builtin: bool = False) -> Plan:
    """Build and validate a Plan from a parsed TOML or JSON document."""
    if not isinstance(doc, dict):
        raise InputError(f"{where}: a plan is a table with a name and steps")
    unknown = sorted(set(doc) - set(PLAN_KEYS))
    if unknown:
        raise InputError(f"{where}: unknown keys {unknown}; a plan has name, description and "
                         "[[steps]]")
    name = doc.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InputError(f"{where}: give the plan a name, e.g. name = \"Legs day\"")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise InputError(f"{where}: the name is {len(name)} characters; at most {MAX_NAME}")
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise InputError(f"{where}: description must be text")
    steps = doc.get("steps")
    if not isinstance(steps, list) or not steps:
        raise InputError(f"{where}: a plan needs at least one step ([[steps]] in TOML, "
                         "\"steps\": [...] in JSON)")
    if len(steps) > MAX_STEPS:
        raise InputError(f"{where}: {len(steps)} steps; at most {MAX_STEPS}")
    parsed = tuple(parse_step(s, f"{where}: step {i + 1}") for i, s in enumerate(steps))
    return Plan(name, parsed, description.strip(), plan_id, builtin)


def parse_plan_text(text: str, where: str = "plan", **kw: Any) -> Plan:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where}: not valid TOML ({exc})") from None
    return parse_plan(doc, where, **kw)


def load_plan_file(path: str | pathlib.Path, **kw: Any) -> Plan:
    p = pathlib.Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{p}: cannot read the plan ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise InputError(f"{p}: not a text file; a plan is TOML (docs/plans.md)") from None
    return parse_plan_text(text, p.name, **kw)


@functools.cache
def builtin_plans() -> dict[str, Plan]:
    """The plans shipped in the package, by id (their file name)."""
    return {p.stem: load_plan_file(p, plan_id=p.stem, builtin=True)
            for p in sorted(BUILTIN_DIR.glob("*.toml"))}


__all__ = ["BUILTIN_DIR", "Plan", "Step", "builtin_plans", "load_plan_file", "parse_plan",
           "parse_plan_text", "parse_step"]
