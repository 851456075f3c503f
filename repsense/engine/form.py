"""Form: how well each rep is done. Frame measures, the camera's view, and the judge that turns an
exercise's form rules (the ``[[form]]`` tables of its description) into faults per frame and per rep.

Pure and deterministic like the rest of the engine: ``FormJudge.update(pose, t)`` per frame,
``FormJudge.judge_rep(rep)`` when the counter completes a rep. Which cue is said when is
repsense.engine.coaching's business, not this module's.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from repsense.engine.counting import Rep
from repsense.engine.specs import SEVERITIES, ExerciseSpec, FormRule
from repsense.pose.geometry import angle_deg, to_metric
from repsense.pose import Landmark as L
from repsense.engine.signals import JOINT_NAMES, MEASURES, body_point, torso_length

# A rule judges the median of its measure over this window: MediaPipe's depth (z) and the far
# side's joints jitter frame to frame, a coach's eye does not.
MEDIAN_MS = 400
# "bottom": the best value within this distance of the turning point counts.
BOTTOM_WINDOW_MS = 250
# "top": the best value from this long before the rep starts to shortly after.
TOP_BEFORE_MS = 600
TOP_AFTER_MS = 250
# "relative" rules: the start position's value is the median at rest over this long.
REST_BASELINE_MS = 4000
# Shoulder width (image x) over torso length below this: the camera sees the body side-on.
SIDE_VIEW_MAX_RATIO = 0.3
# Score lost per distinct fault in a rep, by severity.
PENALTY = {"info": 10.0, "warning": 25.0, "critical": 40.0}
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


# --- frame measures: points (33, 3) on one scale (x, y, z times the aspect ratio; y down) ------
def _pair(p: np.ndarray, joint: str) -> tuple[np.ndarray, np.ndarray]:
    from repsense.engine.signals import JOINT_NAMES

    a, b = JOINT_NAMES[joint]
    return p[a], p[b]


def _seen(*pts: np.ndarray) -> bool:
    return not any(np.isnan(q[:2]).any() for q in pts)


def view_ratio(p: np.ndarray) -> float:
    """Shoulder width across the image over torso length: ~0 side-on, ~0.8 facing the camera."""
    ls, rs = _pair(p, "shoulder")
    t = torso_length(p[:, :2])
    if not _seen(ls, rs) or not t > 0:
        return math.nan
    return float(abs(ls[0] - rs[0]) / t)


def view_of(pose: np.ndarray, aspect: float) -> str | None:
    """``side`` or ``front`` (facing or back to the camera), None when the shoulders are not seen."""
    return _view(to_metric(pose, aspect, use_z=True))


def _view(p: np.ndarray) -> str | None:
    r = view_ratio(p)
    if math.isnan(r):
        return None
    return "side" if r < SIDE_VIEW_MAX_RATIO else "front"


def _hip_sag(p: np.ndarray) -> float:
    """How far the hips drop below the shoulder-ankle line, in torso lengths (negative: piked)."""
    s, h, a = (body_point(p[:, :2], j) for j in ("shoulder", "hip", "ankle"))
    if not _seen(s, h, a):
        return math.nan
    d = a - s
    n2 = float(d @ d)
    if n2 <= 0:
        return math.nan
    proj = s + (float((h - s) @ d) / n2) * d
    off = float(np.linalg.norm(h - proj))
    t = float(np.linalg.norm(s - h))
    return math.copysign(off, h[1] - proj[1]) / t if t > 0 else math.nan


def _lean_back_deg(p: np.ndarray) -> float:
    """Torso lean away from where the person faces (deg; + = leaning back). Side-on the facing
    comes from the nose; facing the camera the lean is in depth (MediaPipe z)."""
    sh, hp, nose = body_point(p, "shoulder"), body_point(p, "hip"), p[L.NOSE]
    if not _seen(sh, hp, nose):
        return math.nan
    d = sh - hp
    up = -d[1]
    if up <= 0:
        return math.nan
    ratio = view_ratio(p)
    side = math.degrees(math.atan2(-d[0] * math.copysign(1.0, nose[0] - sh[0]), up))
    front = math.degrees(math.atan2(d[2], up)) if not math.isnan(d[2]) else math.nan
    if math.isnan(ratio):
        return side
    w = min(max((ratio - 0.15) / 0.2, 0.0), 1.0)
    if math.isnan(front):
        return side if w < 0.5 else math.nan
    return (1.0 - w) * side + w * front


def _upper_arm_torso_deg(p: np.ndarray) -> float:
    """Angle between the upper arm and the torso (shoulder->hip), the larger of the seen sides."""
    vals = []
    for sh, el, hp in ((L.LEFT_SHOULDER, L.LEFT_ELBOW, L.LEFT_HIP),
                       (L.RIGHT_SHOULDER, L.RIGHT_ELBOW, L.RIGHT_HIP)):
        v = float(angle_deg(p[el, :2], p[sh, :2], p[hp, :2]))
        if not math.isnan(v):
            vals.append(v)
    return max(vals) if vals else math.nan


def _facing_x(toe: np.ndarray, heel: np.ndarray) -> float:
    return math.copysign(1.0, toe[0] - heel[0])


def _knee_over_toe(p: np.ndarray, knee: int, ankle: int, heel: int, toe: int) -> float:
    """Knee ahead of the toes (in shin lengths; negative: behind them), side-on."""
    k, a, h, f = p[knee, :2], p[ankle, :2], p[heel, :2], p[toe, :2]
    if not _seen(k, a, h, f):
        return math.nan
    shin = float(np.linalg.norm(k - a))
    return float((k[0] - f[0]) * _facing_x(f, h) / shin) if shin > 0 else math.nan


_LEGS = ((L.LEFT_KNEE, L.LEFT_ANKLE, L.LEFT_HEEL, L.LEFT_FOOT_INDEX, L.LEFT_HIP),
         (L.RIGHT_KNEE, L.RIGHT_ANKLE, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX, L.RIGHT_HIP))


def _knees_over_toes(p: np.ndarray) -> float:
    vals = [_knee_over_toe(p, k, a, h, f) for k, a, h, f, _ in _LEGS]
    vals = [v for v in vals if not math.isnan(v)]
    return max(vals) if vals else math.nan


def _front_leg(p: np.ndarray) -> tuple[int, int, int, int, int] | None:
    """In a lunge the front knee is the higher one (the back knee drops toward the floor)."""
    lk, rk = p[L.LEFT_KNEE], p[L.RIGHT_KNEE]
    if not _seen(lk, rk):
        return None
    return _LEGS[0] if lk[1] < rk[1] else _LEGS[1]


def _front_knee_over_toe(p: np.ndarray) -> float:
    leg = _front_leg(p)
    return math.nan if leg is None else _knee_over_toe(p, *leg[:4])


def _width(p: np.ndarray, *joints: str) -> float:
    for j in joints:
        a, b = _pair(p, j)
        if _seen(a, b):
            return float(abs(a[0] - b[0]))
    return math.nan


def _knee_feet_width_ratio(p: np.ndarray) -> float:
    """Knee width over feet width, facing the camera (< ~0.7 at the bottom: knees caving in)."""
    feet = _width(p, "foot", "ankle")
    return _width(p, "knee") / feet if feet > 0 else math.nan


def _feet_shoulder_width_ratio(p: np.ndarray) -> float:
    sh = _width(p, "shoulder")
    return _width(p, "foot", "ankle") / sh if sh > 0 else math.nan


def _heel_lift(p: np.ndarray) -> float:
    """Heel raised above the toes, in foot lengths (the larger side), side-on."""
    vals = []
    for _, _, heel, toe, _ in _LEGS:
        h, f = p[heel, :2], p[toe, :2]
        if _seen(h, f):
            n = float(np.linalg.norm(f - h))
            if n > 0:
                vals.append(float((f[1] - h[1]) / n))
    return max(vals) if vals else math.nan


def _wrists_above_head(p: np.ndarray) -> float:
    """The lower wrist's height above the nose, in torso lengths."""
    nose = p[L.NOSE, :2]
    t = torso_length(p[:, :2])
    ws = [p[w, :2] for w in (L.LEFT_WRIST, L.RIGHT_WRIST) if _seen(p[w])]
    if not ws or not _seen(nose) or not t > 0:
        return math.nan
    return float(min(nose[1] - w[1] for w in ws) / t)


def _chin_above_wrists(p: np.ndarray) -> float:
    """Nose height above the hands (the bar), in torso lengths."""
    nose, w = p[L.NOSE, :2], body_point(p[:, :2], "wrist")
    t = torso_length(p[:, :2])
    if not _seen(nose, w) or not t > 0:
        return math.nan
    return float((w[1] - nose[1]) / t)


def _elbow_spread_ratio(p: np.ndarray) -> float:
    """Elbow width over shoulder width, facing the camera (elbows flared out: > ~2.3)."""
    sh = _width(p, "shoulder")
    return _width(p, "elbow") / sh if sh > 0 else math.nan


def _neck_torso_deg(p: np.ndarray) -> float:
    """Angle at the shoulders between the hips and the ears: ~160-180 with a long, neutral back;
    a rounding upper back drops the head and shoulders below the hip-shoulder line. A proxy: 2-D
    landmarks have no points along the spine."""
    sh, hp, ear = (body_point(p[:, :2], j) for j in ("shoulder", "hip", "ear"))
    if not _seen(sh, hp, ear):
        return math.nan
    return float(angle_deg(hp, sh, ear))


def _knee_angle(p: np.ndarray) -> float:
    vals = [float(angle_deg(p[hp, :2], p[k, :2], p[a, :2])) for k, a, _, _, hp in _LEGS]
    vals = [v for v in vals if not math.isnan(v)]
    return min(vals) if vals else math.nan


def _torso_lean_straight_knees(p: np.ndarray) -> float:
    """Torso angle to the vertical once the knees are straight (>= 155 deg), else not measured.
    In a deadlift the hips and the chest rise together; knees locked while the torso is still
    far from upright means the hips shot up first."""
    k = _knee_angle(p)
    if math.isnan(k) or k < 155.0:
        return math.nan
    return MEASURES["torso_vertical_deg"](p[:, :2])


FORM_MEASURES: dict[str, Callable[[np.ndarray], float]] = {
    **{name: (lambda f: lambda p: f(p[:, :2]))(f) for name, f in MEASURES.items()},
    "hip_sag": _hip_sag,
    "lean_back_deg": _lean_back_deg,
    "upper_arm_torso_deg": _upper_arm_torso_deg,
    "knee_over_toe": _knees_over_toes,
    "front_knee_over_toe": _front_knee_over_toe,
    "knee_feet_width_ratio": _knee_feet_width_ratio,
    "feet_shoulder_width_ratio": _feet_shoulder_width_ratio,
    "heel_lift": _heel_lift,
    "wrists_above_head": _wrists_above_head,
    "chin_above_wrists": _chin_above_wrists,
    "elbow_spread_ratio": _elbow_spread_ratio,
    "neck_torso_deg": _neck_torso_deg,
    "knee_angle": _knee_angle,
    "torso_lean_straight_knees_deg": _torso_lean_straight_knees,
}


# The side-less joints (repsense.engine.signals.JOINT_NAMES) each measure looks at: what a screen
# or the annotated video colours when a rule on it is at fault; "signal" stands for the joints of
# the exercise's driving signal (the rep measures).
MEASURE_JOINTS: dict[str, tuple[str, ...]] = {
    "torso_vertical_deg": ("shoulder", "hip"),
    "body_vertical_deg": ("shoulder", "hip", "ankle"),
    "wrists_above_shoulders": ("wrist", "shoulder"),
    "wrists_above_hips": ("wrist", "hip"),
    "hips_above_shoulders": ("hip", "shoulder"),
    "shoulders_above_hips": ("shoulder", "hip"),
    "shoulders_above_elbows": ("shoulder", "elbow"),
    "knees_above_hips": ("knee", "hip"),
    "hips_above_knees": ("hip", "knee"),
    "hip_sag": ("shoulder", "hip", "ankle"),
    "lean_back_deg": ("shoulder", "hip"),
    "upper_arm_torso_deg": ("shoulder", "elbow", "hip"),
    "knee_over_toe": ("knee", "foot"),
    "front_knee_over_toe": ("knee", "foot"),
    "knee_feet_width_ratio": ("knee", "ankle"),
    "feet_shoulder_width_ratio": ("ankle", "shoulder"),
    "heel_lift": ("heel", "foot"),
    "wrists_above_head": ("wrist", "ear"),
    "chin_above_wrists": ("ear", "wrist"),
    "elbow_spread_ratio": ("elbow", "shoulder"),
    "neck_torso_deg": ("ear", "shoulder", "hip"),
    "knee_angle": ("hip", "knee", "ankle"),
    "torso_lean_straight_knees_deg": ("shoulder", "hip", "knee"),
    "rep_rest": ("signal",), "rep_turn": ("signal",), "rep_rom": ("signal",),
}


def fault_landmarks(spec: ExerciseSpec, codes: Iterable[str]) -> list[int]:
    """Landmark indices (both sides) of the joints the rules ``codes`` of ``spec`` look at."""
    measures = {r.code: r.measure for r in spec.form}
    out: set[int] = set()
    for code in codes:
        for name in MEASURE_JOINTS.get(measures.get(code, ""), ()):
            joints = spec.signal.joints if name == "signal" and spec.signal is not None \
                else (name,)
            for joint in joints:
                out.update(int(i) for i in JOINT_NAMES.get(joint.removesuffix("_mid"), ()))
    return sorted(out)

def frame_measures(pose: np.ndarray, aspect: float, names: list[str]) -> np.ndarray:
    """The named measures of one gated pose (NaN where not visible)."""
    return _measures(to_metric(pose, aspect, use_z=True), names)


def _measures(p: np.ndarray, names: list[str]) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.array([FORM_MEASURES[n](p) for n in names], dtype=np.float64)


def in_range(rule: FormRule, value: float) -> bool:
    return (rule.min is None or value >= rule.min) and (rule.max is None or value <= rule.max)


def _best(rule: FormRule, values: np.ndarray) -> float:
    """The value most in the rule's favour (a rep passes if it got there at all)."""
    v = values[~np.isnan(values)]
    if v.size == 0:
        return math.nan
    if rule.max is not None and rule.min is None:
        return float(v.min())
    if rule.min is not None and rule.max is None:
        return float(v.max())
    return float(np.median(v))


# --- results -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fault:
    """One fault seen: which rule, and when (source ms)."""

    code: str
    cue: str
    severity: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class RepForm:
    score: float
    faults: tuple[Fault, ...]
    rom_pct: float | None

    @property
    def good(self) -> bool:
        """No fault of warning severity or worse (``info`` faults are tips)."""
        return all(SEVERITY_RANK[f.severity] < SEVERITY_RANK["warning"] for f in self.faults)


def score(faults: tuple[Fault, ...] | list[Fault]) -> float:
    return max(0.0, 100.0 - sum(PENALTY[f.severity] for f in {f.code: f for f in faults}.values()))


class FormJudge:
    """Evaluates one exercise's form rules. ``update`` every frame the exercise is judged (the
    posture gate passed) returns the frame faults that have just persisted ``min_s`` (for timely
    cues); ``judge_rep`` when a rep completes; ``faults_at`` the frame faults of a time span."""

    def __init__(self, spec: ExerciseSpec, aspect: float = 1.0) -> None:
        self.spec = spec
        self.aspect = aspect
        self.rules = spec.form
        self.frame_rules = [r for r in self.rules if r.measure in FORM_MEASURES]
        self.names = sorted({r.measure for r in self.frame_rules})
        self._col = {n: i for i, n in enumerate(self.names)}
        keep_ms = int(((spec.count.max_rep_s if spec.count else 8.0) + 2.0) * 1000)
        self._keep_ms = keep_ms
        self._raw: deque[tuple[int, np.ndarray]] = deque()
        self._frames: deque[tuple[int, np.ndarray, str | None]] = deque()   # medians, view
        self._rest: deque[tuple[int, np.ndarray]] = deque()   # medians while at rest
        self._baseline = np.full(len(self.names), np.nan)
        self._bad_since: dict[str, int] = {}
        self._intervals: deque[Fault] = deque()      # closed and open frame faults
        self._open: dict[str, Fault] = {}
        self.view: str | None = None
        # Per frame rule (any ``when``): is this frame out of range (None: not judged)?
        self.verdicts: dict[str, bool | None] = {}

    @property
    def active(self) -> list[str]:
        """Codes of the frame faults in progress now."""
        return list(self._open)

    @property
    def open_faults(self) -> list[Fault]:
        """The frame faults in progress now."""
        return list(self._open.values())

    def update(self, pose: np.ndarray, t: int, at_rest: bool = False) -> list[Fault]:
        """Feed one smoothed, gated pose (``at_rest``: in the start position between reps);
        return the frame faults that start now."""
        p = to_metric(pose, self.aspect, use_z=True)
        self.view = _view(p)
        if not self.names:
            return []
        values = _measures(p, self.names)
        self._raw.append((t, values))
        while t - self._raw[0][0] > MEDIAN_MS:
            self._raw.popleft()
        med = _nanmedian(np.array([v for _, v in self._raw]))
        if at_rest:
            self._rest.append((t, med))
        while self._rest and t - self._rest[0][0] > REST_BASELINE_MS:
            self._rest.popleft()
        if self._rest:
            self._baseline = _nanmedian(np.array([v for _, v in self._rest]))
        self._frames.append((t, med, self.view))
        while t - self._frames[0][0] > self._keep_ms:
            self._frames.popleft()
        while self._intervals and t - self._intervals[0].end_ms > self._keep_ms:
            self._intervals.popleft()
        started: list[Fault] = []
        for rule in self.frame_rules:
            col = self._col[rule.measure]
            v = med[col] - self._baseline[col] if rule.relative else med[col]
            judged = not math.isnan(v) and rule.view in ("any", self.view)
            self.verdicts[rule.code] = (not in_range(rule, v)) if judged else None
            if rule.when not in ("rep", "always"):
                continue
            if judged and not in_range(rule, v):
                since = self._bad_since.setdefault(rule.code, t)
                if rule.code in self._open:
                    f = self._open[rule.code]
                    self._open[rule.code] = Fault(f.code, f.cue, f.severity, f.start_ms, t)
                elif t - since >= rule.min_s * 1000:
                    f = Fault(rule.code, rule.cue, rule.severity, since, t)
                    self._open[rule.code] = f
                    started.append(f)
            else:
                self._bad_since.pop(rule.code, None)
                f = self._open.pop(rule.code, None)
                if f is not None:
                    self._intervals.append(f)
        return started

    def close(self) -> None:
        """End the frame faults in progress (the exercise stopped being judged)."""
        self._intervals.extend(self._open.values())
        self._open.clear()
        self._bad_since.clear()

    def faults_at(self, start_ms: int, end_ms: int) -> list[Fault]:
        """Frame faults (rep/always rules) that overlap ``start_ms..end_ms``."""
        out = [f for f in list(self._intervals) + list(self._open.values())
               if f.start_ms <= end_ms and f.end_ms >= start_ms]
        return sorted(out, key=lambda f: f.start_ms)

    def _window(self, rule: FormRule, lo: int, hi: int) -> float:
        col = self._col[rule.measure]
        vals = [m[col] for t, m, view in self._frames
                if lo <= t <= hi and rule.view in ("any", view)]
        best = _best(rule, np.array(vals, dtype=np.float64))
        return best - self._baseline[col] if rule.relative else best

    def judge_rep(self, rep: Rep) -> RepForm:
        faults = {f.code: f for f in self.faults_at(rep.start_ms, rep.end_ms)
                  if self.rule(f.code).when == "rep"}
        for rule in self.rules:
            if rule.when not in ("bottom", "top"):
                continue
            if rule.measure in ("rep_rest", "rep_turn", "rep_rom"):
                v = {"rep_rest": rep.rest_value, "rep_turn": rep.turn_value,
                     "rep_rom": rep.rom}[rule.measure]
                if rule.view != "any" and rule.view != self._view_near(rep.bottom_ms):
                    continue
            elif rule.when == "bottom":
                v = self._window(rule, rep.bottom_ms - BOTTOM_WINDOW_MS,
                                 rep.bottom_ms + BOTTOM_WINDOW_MS)
            else:
                v = self._window(rule, rep.start_ms - TOP_BEFORE_MS, rep.start_ms + TOP_AFTER_MS)
            if not math.isnan(v) and not in_range(rule, v):
                at = rep.bottom_ms if rule.when == "bottom" else rep.start_ms
                faults[rule.code] = Fault(rule.code, rule.cue, rule.severity, at, at)
        ordered = tuple(sorted(faults.values(), key=lambda f: (-SEVERITY_RANK[f.severity],
                                                               f.start_ms)))
        full = self.spec.count.full_rom if self.spec.count else None
        rom_pct = round(min(100.0 * rep.rom / full, 150.0), 1) if full else None
        return RepForm(score(ordered), ordered, rom_pct)

    def _view_near(self, t: int) -> str | None:
        views = [v for tf, _, v in self._frames if abs(tf - t) <= BOTTOM_WINDOW_MS and v]
        return max(set(views), key=views.count) if views else None

    def rule(self, code: str) -> FormRule:
        return next(r for r in self.rules if r.code == code)


def _nanmedian(stack: np.ndarray) -> np.ndarray:
    """Column medians of ``(rows, cols)`` ignoring NaN; NaN where a column has no value.
    (numpy's nanmedian goes through masked arrays: ten times slower on these small windows.)"""
    ordered = np.sort(stack, axis=0)                  # NaN sorts last
    n = (~np.isnan(stack)).sum(axis=0)
    cols = np.arange(stack.shape[1])
    lo, hi = np.maximum((n - 1) // 2, 0), np.maximum(n // 2, 0)
    med = (ordered[lo, cols] + ordered[hi, cols]) / 2.0
    return np.where(n > 0, med, np.nan)
