"""Exercise descriptions: one TOML file per exercise in this folder, loaded into ExerciseSpec.

Adding an exercise is adding a file. The user's own library (exercises taught with
``repsense teach``, docs/teach.md) is a folder of the same files in the user's data directory
(``REPSENSE_EXERCISES`` overrides it); :func:`catalog` holds both, the shipped ones read-only and
first. Each file names the signal that drives its count, the
count's thresholds (with hysteresis), the rep duration bounds, and the posture it must be done in.
See ``squat.toml`` for a commented example.
"""

from __future__ import annotations

import functools
import logging
import os
import pathlib
import tomllib
from typing import Any

from repsense.errors import InputError
from repsense.engine.form import FORM_MEASURES
from repsense.engine.signals import JOINT_NAMES, MEASURES, POINT_NAMES
from repsense.engine.specs import (FORM_WHEN, GENERIC, REP_MEASURES, SEVERITIES, SIDES, SIGNAL_TYPES,
                                   VIEWS, CameraSpec, Condition, CountSpec, ExerciseSpec, FormRule,
                                   HoldSpec, Position, SignalSpec)

__all__ = ["GENERIC", "CameraSpec", "Condition", "CountSpec", "ExerciseSpec", "FormRule", "HoldSpec",
           "Position", "SignalSpec", "builtin_catalog", "catalog", "get_spec", "is_taught",
           "library_dir", "load_spec_file", "parse_spec"]

SPEC_DIR = pathlib.Path(__file__).resolve().parent
LIBRARY_ENV = "REPSENSE_EXERCISES"
log = logging.getLogger("repsense.exercises")


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
    conds = tuple(_build(Condition, c, where) for c in items)
    for c in conds:
        if c.measure not in MEASURES:
            raise InputError(f"{where}: unknown measure {c.measure!r}; known: {sorted(MEASURES)}")
    return conds


def _form(items: list[dict[str, Any]], signal: SignalSpec | None,
          where: str) -> tuple[FormRule, ...]:
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
def builtin_catalog() -> dict[str, ExerciseSpec]:
    """Every exercise description shipped in the package, by name."""
    return {p.stem: load_spec_file(p) for p in sorted(SPEC_DIR.glob("*.toml"))}


def library_dir() -> pathlib.Path:
    """The user's own exercise library: ``REPSENSE_EXERCISES``, else ``exercises`` in the user's
    data directory (platformdirs). It need not exist yet."""
    if os.environ.get(LIBRARY_ENV):
        return pathlib.Path(os.environ[LIBRARY_ENV])
    from platformdirs import user_data_dir

    return pathlib.Path(user_data_dir("repsense", appauthor=False)) / "exercises"


@functools.lru_cache(maxsize=8)
def _library(folder: pathlib.Path, stamp: tuple[tuple[str, int], ...]) -> dict[str, ExerciseSpec]:
    """The library's descriptions as of ``stamp`` (file names and modification times, so a file
    taught, imported or removed since is seen by a running server). A file that does not load,
    or that would shadow a shipped exercise, is skipped with a warning: one bad file must not
    stop the rest from working."""
    out = {}
    builtins = builtin_catalog()
    for name, _ in stamp:
        path = folder / f"{name}.toml"
        if name in builtins:
            log.warning("%s: a shipped exercise has this name; the library's copy is ignored", path)
            continue
        try:
            out[name] = load_spec_file(path)
        except InputError as exc:
            log.warning("skipping a taught exercise: %s", exc)
    return out


def user_catalog() -> dict[str, ExerciseSpec]:
    """The user's own (taught or imported) exercises, by name."""
    folder = library_dir()
    try:
        files = sorted(folder.glob("*.toml"))
        stamp = tuple((p.stem, p.stat().st_mtime_ns) for p in files)
    except OSError:
        return {}
    return _library(folder, stamp) if stamp else {}


def catalog() -> dict[str, ExerciseSpec]:
    """Every exercise description by name: the shipped ones, then the user's library."""
    user = user_catalog()
    return {**builtin_catalog(), **user} if user else builtin_catalog()


def is_taught(name: str) -> bool:
    """Whether ``name`` is an exercise of the user's library (not a shipped one)."""
    return name in user_catalog() and name not in builtin_catalog()


def get_spec(name: str) -> ExerciseSpec:
    specs = catalog()
    if name not in specs:
        raise InputError(f"unknown exercise {name!r}; known: {', '.join(sorted(specs))}, "
                         f"{GENERIC}, auto")
    return specs[name]
