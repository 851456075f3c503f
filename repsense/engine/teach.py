"""Learning an exercise description from one recorded set (``repsense teach``). Pure: poses in,
a description (ExerciseSpec and its TOML text) out.

The set is seen through every driving signal the description vocabulary offers (the angle at a
joint, a body segment's tilt from the vertical; per side, or the more or less bent side). On each,
the engine's own rep counter finds the excursions; the signal whose reps repeat most cleanly (the
same shape and depth each time, large against the signal's jitter, and carrying most of its
movement) drives the count. Its thresholds come from the reps: half the typical depth is a rep
(the counter's start/return fractions are the hysteresis), tempo bounds around the reps' lengths.
Body measures that stay still through the set become tips (info severity) in the view it was
recorded from. No posture gate is learned: measured on the dev clips it changed no count of the
squats and push-ups taught from one clip and counted on the others, and cost the curls a little
(docs/teach.md); a gate learned from the torso's tilt in every set stopped push-ups filmed from
the front from counting when taught from the side.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from repsense.engine.counting import Rep, RepCounter
from repsense.engine.form import FORM_MEASURES, view_of
from repsense.engine.signals import combine_sides, segment_signal, side_values
from repsense.engine.specs import (CameraSpec, CountSpec, ExerciseSpec, FormRule,
                                   SignalSpec)
from repsense.errors import InputError
from repsense.pose import is_missing, validate_pose
from repsense.pose.geometry import to_metric
from repsense.pose.smoothing import MIN_VISIBILITY, OneEuroFilter, gate_visibility

# The signals tried: angles at a joint (three side-less joints) and segment tilts (two points).
ANGLES: tuple[tuple[str, str, str], ...] = (
    ("shoulder", "elbow", "wrist"),    # elbow
    ("hip", "shoulder", "elbow"),      # shoulder: arm against the torso
    ("shoulder", "hip", "knee"),       # hip
    ("hip", "knee", "ankle"),          # knee
    ("knee", "ankle", "foot"),         # ankle
)
ANGLE_SIDES = ("visible", "min", "max", "each")
VERTICALS: tuple[tuple[str, str], ...] = (
    ("shoulder_mid", "hip_mid"),       # torso
    ("hip", "knee"),                   # thighs
    ("knee", "ankle"),                 # shins
)
# A signal must move at least this much (deg) to be a candidate; smaller is jitter.
MIN_RANGE_DEG = 15.0
# Share of the typical rep depth a rep must reach to count (the rest is the counter's hysteresis).
ROM_SHARE = 0.5
# Tempo bounds: a rep may take from MIN_SHARE of the quickest taught rep to MAX_SHARE of the
# slowest (at least MAX_FLOOR_S).
MIN_SHARE, MAX_SHARE, MAX_FLOOR_S = 0.4, 2.5, 6.0
# A body measure "stays still" when it moves less than this over the set (its units); the tip
# allows the taught range widened by the same amount.
STILL: dict[str, tuple[float, str]] = {
    "torso_vertical_deg": (15.0, "Keep your torso steady."),
    "upper_arm_torso_deg": (15.0, "Keep your upper arms still."),
    "knee_angle": (15.0, "Keep your legs still."),
    "hip_sag": (0.15, "Keep your body in a straight line."),
}
# A candidate's reps must look alike (mean correlation of their shapes) at least this much.
MIN_SIMILARITY = 0.4
RESERVED = ("auto", "generic", "idle", "unknown")


@dataclass(frozen=True)
class Candidate:
    """One signal the set was seen through, and how cleanly its reps repeat."""

    signal: SignalSpec
    rest: str
    reps: tuple[Rep, ...]
    rom: float             # median rep depth (deg)
    similarity: float      # mean pairwise correlation of the reps' shapes
    consistency: float     # 1 - coefficient of variation of the depths
    share: float           # share of the signal's movement inside the reps
    noise: float           # frame jitter (deg)
    score: float

    def label(self) -> str:
        s = self.signal
        if s.type == "angle":
            return f"{s.joints[1]} angle ({'-'.join(s.joints)}, {s.side})"
        return f"{s.joints[0].removesuffix('_mid')}-{s.joints[1].removesuffix('_mid')} tilt"


@dataclass
class Taught:
    """What was learned: the description, the chosen signal's values over the recording and its
    reps, and every candidate tried (best first)."""

    spec: ExerciseSpec
    text: str
    chosen: Candidate
    candidates: list[Candidate]
    timestamp_ms: np.ndarray
    values: np.ndarray                 # (T, sides) of the chosen signal
    view: str | None = None
    notes: list[str] = field(default_factory=list)


def check_name(name: str) -> str:
    """A taught exercise's name: snake_case, not one of the mode words."""
    name = name.strip().lower().replace("-", "_").replace(" ", "_")
    if not name.isidentifier() or name in RESERVED:
        raise InputError(f"{name!r} cannot name an exercise: use letters, digits and underscores "
                         f"(e.g. lateral_raise), not {', '.join(RESERVED)}")
    return name


def prepared(landmarks: np.ndarray, timestamp_ms: np.ndarray) -> list[np.ndarray | None]:
    """The poses as the tracker sees them: visibility-gated and smoothed (None: nobody)."""
    smoother = OneEuroFilter()
    out: list[np.ndarray | None] = []
    for pose, t in zip(landmarks, timestamp_ms):
        pose = validate_pose(pose)
        if is_missing(pose):
            smoother.reset()
            out.append(None)
            continue
        out.append(smoother(gate_visibility(pose, MIN_VISIBILITY), int(t)))
    return out


def signal_values(sig: SignalSpec, poses: list[np.ndarray | None], aspect: float) -> np.ndarray:
    """``(T, 2)`` for ``each``, else ``(T, 1)``: the signal as ExerciseCounter computes it."""
    width = 2 if sig.side == "each" else 1
    out = np.full((len(poses), width), np.nan)
    for i, p in enumerate(poses):
        if p is None:
            continue
        if sig.type == "vertical":
            out[i, 0] = segment_signal(sig, p, aspect)
            continue
        left, right = side_values(sig, p, aspect)
        out[i] = (left, right) if width == 2 else (combine_sides(sig, p, left, right),)
    return out


def _count(values: np.ndarray, t: np.ndarray, spec: CountSpec) -> list[Rep]:
    counter = RepCounter(spec)
    reps = []
    for v, ts in zip(values, t):
        rep = counter.update(float(v), int(ts))
        if rep is not None:
            reps.append(rep)
    return reps


def _noise(x: np.ndarray) -> float:
    """Frame jitter: median distance from a 5-frame running median."""
    seen = x[~np.isnan(x)]
    if len(seen) < 7:
        return math.inf
    pad = np.pad(seen, 2, mode="edge")
    med = np.median(np.lib.stride_tricks.sliding_window_view(pad, 5), axis=1)
    return float(np.median(np.abs(seen - med))) + 0.5


def _shape(x: np.ndarray, t: np.ndarray, rep: Rep, n: int = 32) -> np.ndarray | None:
    inside = (t >= rep.start_ms) & (t <= rep.end_ms) & ~np.isnan(x)
    if inside.sum() < 4:
        return None
    return np.interp(np.linspace(rep.start_ms, rep.end_ms, n), t[inside], x[inside])


def _similarity(shapes: list[np.ndarray]) -> float:
    """Mean pairwise correlation of the reps' shapes (0 with fewer than two)."""
    if len(shapes) < 2:
        return 0.0
    cors = [float(np.corrcoef(a, b)[0, 1]) for i, a in enumerate(shapes) for b in shapes[i + 1:]]
    cors = [c for c in cors if not math.isnan(c)]
    return float(np.mean(cors)) if cors else 0.0


def _evaluate(sig: SignalSpec, vals: np.ndarray, t: np.ndarray) -> Candidate | None:
    """The reps the engine's counter finds on a signal, and how cleanly they repeat: both ways
    round (rest high or low), the cleaner kept."""
    columns = [c for c in vals.T if np.isfinite(c).sum() >= 0.5 * len(c)]
    if not columns:
        return None
    ranges = [float(np.subtract(*np.nanpercentile(c, [98, 2]))) for c in columns]
    if max(ranges) < MIN_RANGE_DEG:
        return None
    ways = [_evaluate_rest(sig, columns, ranges, t, rest) for rest in ("high", "low")]
    return max(ways, key=lambda c: (c.score, len(c.reps)))


def _evaluate_rest(sig: SignalSpec, columns: list[np.ndarray], ranges: list[float], t: np.ndarray,
                   rest: str) -> Candidate:
    span_s = (t[-1] - t[0]) / 1000.0
    reps: list[Rep] = []
    shapes: list[np.ndarray] = []
    roms: list[float] = []
    moved_in, moved, noise = 0.0, 0.0, []
    for col, rng in zip(columns, ranges):
        if rng < MIN_RANGE_DEG:
            continue
        spec = CountSpec(rest=rest, min_rom=ROM_SHARE * rng, min_rep_s=0.3,
                         max_rep_s=max(span_s, 1.0), min_phase_s=0.1)
        found = _count(col, t, spec)
        reps.extend(found)
        noise.append(_noise(col))
        shapes.extend(s for s in (_shape(col, t, r) for r in found) if s is not None)
        roms.extend(r.rom for r in found)
        seen = ~np.isnan(col)
        steps = np.abs(np.diff(col[seen]))
        ts = t[seen][1:]
        inside = np.zeros(len(ts), bool)
        for r in found:
            inside |= (ts >= r.start_ms) & (ts <= r.end_ms)
        moved_in += float(steps[inside].sum())
        moved += float(steps.sum())
    jitter = float(np.mean(noise)) if noise else math.inf
    if not reps:
        return Candidate(sig, rest, (), 0.0, 0.0, 0.0, 0.0, jitter, 0.0)
    reps.sort(key=lambda r: r.start_ms)
    together = 1.0
    if sig.side == "each":
        merged = _merge_sides(reps)
        together = 0.9 if len(merged) < len(reps) else 1.0   # both sides at once: not "each"
        reps = merged
    rom = float(np.median(roms))
    consistency = max(0.0, 1.0 - float(np.std(roms) / max(np.mean(roms), 1e-9))) \
        if len(roms) > 1 else 0.0
    similarity = _similarity(shapes)
    share = moved_in / moved if moved > 0 else 0.0
    clean = similarity > 0 and len(reps) >= 2
    score = rom / (1.0 + jitter / 2.0) * similarity ** 2 * consistency * share * together \
        if clean else 0.0
    return Candidate(sig, rest, tuple(reps), rom, similarity, consistency, share, jitter, score)


def _merge_sides(reps: list[Rep]) -> list[Rep]:
    """Reps of the two sides (sorted by start) with those overlapping by more than half of the
    shorter one taken as one, as ExerciseCounter counts them."""
    out: list[Rep] = []
    for r in reps:
        if out:
            o = out[-1]
            overlap = min(o.end_ms, r.end_ms) - max(o.start_ms, r.start_ms)
            shorter = min(o.end_ms - o.start_ms, r.end_ms - r.start_ms)
            if shorter > 0 and overlap / shorter > 0.5:
                continue
        out.append(r)
    return out


def candidates(poses: list[np.ndarray | None], t: np.ndarray, aspect: float) -> list[Candidate]:
    """Every vocabulary signal the set moves, best first."""
    sigs = [SignalSpec("angle", a, side) for a in ANGLES for side in ANGLE_SIDES] + \
        [SignalSpec("vertical", v) for v in VERTICALS]
    out = []
    for sig in sigs:
        c = _evaluate(sig, signal_values(sig, poses, aspect), t)
        if c is not None:
            out.append(c)
    out.sort(key=lambda c: -c.score)
    return out


def _away_phase(poses: list[np.ndarray | None], t: np.ndarray, reps: tuple[Rep, ...],
                aspect: float) -> str:
    """Moving away from rest lifts the body part that moves most (a raise, a curl, a bridge):
    concentric; lowers it (a squat, a push-up, a dip): eccentric."""
    from repsense.pose import Landmark as L

    joints = [L.LEFT_WRIST, L.RIGHT_WRIST, L.LEFT_ELBOW, L.RIGHT_ELBOW, L.LEFT_SHOULDER,
              L.RIGHT_SHOULDER, L.LEFT_HIP, L.RIGHT_HIP, L.LEFT_KNEE, L.RIGHT_KNEE]

    def at(ms: int) -> np.ndarray:
        i = int(np.argmin(np.abs(t - ms)))
        p = poses[i]
        return to_metric(p, aspect)[joints, 1] if p is not None else np.full(len(joints), np.nan)

    moves = np.array([at(r.bottom_ms) - at(r.start_ms) for r in reps])   # + = went down
    seen = ~np.isnan(moves).all(axis=0)
    if not seen.any():
        return "eccentric"
    mean = np.full(moves.shape[1], np.nan)
    with np.errstate(all="ignore"):
        mean[seen] = np.nanmean(moves[:, seen], axis=0)
    biggest = mean[int(np.nanargmax(np.abs(mean)))]
    return "eccentric" if biggest > 0 else "concentric"


def _measure_series(name: str, poses: list[np.ndarray | None], aspect: float) -> np.ndarray:
    f = FORM_MEASURES[name]
    return np.array([f(to_metric(p, aspect)) if p is not None else np.nan for p in poses])


def _view(poses: list[np.ndarray | None], aspect: float) -> str | None:
    views = [view_of(p, aspect) for p in poses if p is not None]
    views = [v for v in views if v is not None]
    if not views:
        return None
    side = sum(v == "side" for v in views)
    return "side" if side >= len(views) / 2 else "front"


def learn(landmarks: np.ndarray, timestamp_ms: np.ndarray, aspect: float, name: str,
          source: str = "") -> Taught:
    """Learn the description of the exercise in one recorded set (2 or more reps); raises
    InputError with a one-line reason when the set holds fewer than two clear reps or nothing
    repeats."""
    name = check_name(name)
    t = np.asarray(timestamp_ms, dtype=np.int64)
    if len(t) < 10 or (t[-1] - t[0]) < 1000:
        raise InputError("the recording is too short to hold two reps (under a second of poses)")
    poses = prepared(np.asarray(landmarks), t)
    if sum(p is not None for p in poses) < 0.3 * len(poses):
        raise InputError("nobody is seen in most of the recording: film the whole body in "
                         "good light")
    found = candidates(poses, t, aspect)
    clean = [c for c in found if c.score > 0 and c.similarity >= MIN_SIMILARITY]
    if not clean:
        most = max((len(c.reps) for c in found), default=0)
        if most == 1 or (found and all(len(c.reps) <= 1 for c in found if c.reps)):
            raise InputError("only one clear rep found: record a set of two or more reps")
        if most == 0:
            raise InputError("nothing repeats in this recording: no joint angle or body "
                             "segment moves back and forth; record a set of two or more reps")
        raise InputError("no movement repeats clearly: the reps found differ too much from "
                         "each other; record two or more even reps")
    best = clean[0]
    vals = signal_values(best.signal, poses, aspect)
    reps = best.reps
    durations = [(r.end_ms - r.start_ms) / 1000.0 for r in reps]
    phases = [min(r.bottom_ms - r.start_ms, r.end_ms - r.bottom_ms) / 1000.0 for r in reps]
    count = CountSpec(
        rest=best.rest, min_rom=round(ROM_SHARE * best.rom, 1),
        min_rep_s=round(max(0.3, MIN_SHARE * min(durations)), 2),
        max_rep_s=round(max(MAX_FLOOR_S, MAX_SHARE * max(durations)), 1),
        away_phase=_away_phase(poses, t, reps, aspect),
        min_phase_s=round(min(0.2, 0.5 * min(phases)), 2), full_rom=round(best.rom, 1))
    view = _view(poses, aspect)
    inside = np.zeros(len(t), bool)
    for r in reps:
        inside |= (t >= r.start_ms) & (t <= r.end_ms)
    form: list[FormRule] = []
    still_words = []
    for measure, (still, cue) in STILL.items():
        series = _measure_series(measure, poses, aspect)[inside]
        series = series[~np.isnan(series)]
        if len(series) < 0.5 * inside.sum() or len(series) < 5:
            continue
        lo, hi = (float(v) for v in np.percentile(series, [5, 95]))
        if hi - lo > still:
            continue
        still_words.append(measure)
        form.append(FormRule(
            code=f"keep_{measure}", cue=cue, measure=measure, when="rep",
            min=round(lo - still, 2) if lo - still > 0 or measure == "hip_sag" else None,
            max=round(hi + still, 2), severity="info",
            view=view or "any", min_s=0.5,
            source=f"taught: stayed within {lo:.3g}..{hi:.3g} over the taught reps"))
    extra = {"taught": True, "taught_from": source, "taught_reps": len(reps),
             "taught_view": view or "unknown", "signal_score": round(best.score, 2),
             "signal_similarity": round(best.similarity, 3)}
    notes = (f"Taught from {len(reps)} reps{f' of {source}' if source else ''}: "
             f"the {best.label()} drives the count.")
    spec = ExerciseSpec(name=name, display=name.replace("_", " ").capitalize(),
                        signal=best.signal, count=count,
                        max_travel_speed=1.0, form=tuple(form),
                        camera=CameraSpec(view="any", visible=_visible(best.signal)),
                        notes=notes, extra=extra)
    text = spec_to_toml(spec)
    out_notes = [f"{len(reps)} reps on the {best.label()}, {best.rom:.0f} deg deep "
                 f"(shapes alike {best.similarity:.2f}, depths alike {best.consistency:.2f})"]
    if still_words:
        out_notes.append("stays still: " + ", ".join(still_words))
    return Taught(spec, text, best, found, t, vals, view, out_notes)


def _visible(sig: SignalSpec) -> tuple[str, ...]:
    return tuple(dict.fromkeys(j.removesuffix("_mid") for j in sig.joints))


# --- the TOML text ------------------------------------------------------------------------------
def _value(v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(round(float(v), 3))
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _table(pairs: dict[str, object], comments: dict[str, str] | None = None) -> list[str]:
    lines = []
    for k, v in pairs.items():
        if v is None:
            continue
        line = f"{k} = {_value(v)}"
        note = (comments or {}).get(k)
        lines.append(f"{line:<30} # {note}" if note else line)
    return lines


COUNT_COMMENTS = {
    "rest": "where the signal sits at the start position",
    "min_rom": "half the taught reps' median depth: a rep reaches at least this",
    "min_rep_s": "0.4 x the quickest taught rep",
    "max_rep_s": "2.5 x the slowest taught rep (at least 6 s)",
    "away_phase": "moving away from the start lowers (eccentric) or lifts (concentric)",
    "min_phase_s": "half the quickest taught half-rep, at most 0.2 s",
    "full_rom": "the taught reps' median depth (ROM % per rep)",
}


def spec_to_toml(spec: ExerciseSpec) -> str:
    """The description as TOML, in the built-in files' format (loads with parse_spec)."""
    from dataclasses import asdict, fields

    from repsense.engine.specs import CountSpec as C, FormRule as F, SignalSpec as S

    def changed(obj: object, cls: type) -> dict[str, object]:
        defaults = cls.__dataclass_fields__   # type: ignore[attr-defined]
        out = {}
        for f in fields(obj):   # type: ignore[arg-type]
            v = getattr(obj, f.name)
            d = defaults[f.name].default
            if f.name in ("rest", "min_rom", "type", "code", "cue", "measure") or v != d:
                out[f.name] = v
        return out

    lines = [f"# Taught with `repsense teach` ({spec.extra.get('taught_reps', '?')} reps"
             f"{', ' + str(spec.extra['taught_from']) if spec.extra.get('taught_from') else ''}).",
             *_table({"name": spec.name, "display": spec.display, "notes": spec.notes,
                      "max_travel_speed": spec.max_travel_speed})]
    assert spec.signal is not None and spec.count is not None
    lines += ["", "[signal]", *_table(changed(spec.signal, S))]
    lines += ["", "[count]", *_table(changed(spec.count, C), COUNT_COMMENTS)]
    for cond in spec.posture:
        lines += ["", "[[posture]]", *_table(asdict(cond))]
    lines += ["", "[camera]", *_table({"view": spec.camera.view,
                                       "visible": list(spec.camera.visible)})]
    for rule in spec.form:
        lines += ["", "[[form]]", *_table(changed(rule, F))]
    lines += ["", "[extra]", *_table(spec.extra)]
    return "\n".join(lines) + "\n"
