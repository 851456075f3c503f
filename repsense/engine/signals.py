"""From a pose to the numbers exercises are judged by: driving signals and posture measures.

Every function takes a visibility-gated pose ``(33, 4)`` (joints that cannot be seen are NaN) and
the image aspect ratio (width / height), and returns NaN when the joints it needs are missing, so
that nothing the model cannot see drives a count.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from repsense.engine.specs import SignalSpec
from repsense.pose.geometry import angle_deg, to_metric
from repsense.pose import Landmark as L

# Side-less joint names used in exercise descriptions.
JOINT_NAMES: dict[str, tuple[L, L]] = {
    "shoulder": (L.LEFT_SHOULDER, L.RIGHT_SHOULDER),
    "elbow": (L.LEFT_ELBOW, L.RIGHT_ELBOW),
    "wrist": (L.LEFT_WRIST, L.RIGHT_WRIST),
    "hip": (L.LEFT_HIP, L.RIGHT_HIP),
    "knee": (L.LEFT_KNEE, L.RIGHT_KNEE),
    "ankle": (L.LEFT_ANKLE, L.RIGHT_ANKLE),
    "heel": (L.LEFT_HEEL, L.RIGHT_HEEL),
    "foot": (L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX),
    "ear": (L.LEFT_EAR, L.RIGHT_EAR),
}
# Points for segment signals: a joint's side-mean ("shoulder_mid") or a joint by side name.
POINT_NAMES = {f"{j}_mid" for j in JOINT_NAMES} | set(JOINT_NAMES)


def body_point(p: np.ndarray, joint: str) -> np.ndarray:
    """A side-less joint (e.g. "hip") of points ``(33, 2)``: the mean of its visible sides
    (NaN when neither side is visible)."""
    a, b = JOINT_NAMES[joint]
    pa, pb = p[a], p[b]
    if np.isnan(pa).any():
        return pb
    if np.isnan(pb).any():
        return pa
    return (pa + pb) / 2.0


def _point(p: np.ndarray, name: str) -> np.ndarray:
    return body_point(p, name[:-4] if name.endswith("_mid") else name)


def torso_length(p: np.ndarray) -> float:
    return float(np.linalg.norm(body_point(p, "shoulder") - body_point(p, "hip")))


def _seg_vertical_deg(a: np.ndarray, b: np.ndarray) -> float:
    d = b - a
    return float(np.degrees(np.arctan2(abs(d[0]), abs(d[1]))))


def _torso_vertical_deg(p: np.ndarray) -> float:
    """Torso (shoulders to hips) to the image vertical: 0 upright or inverted, 90 lying."""
    return _seg_vertical_deg(body_point(p, "shoulder"), body_point(p, "hip"))


def _body_vertical_deg(p: np.ndarray) -> float:
    """Shoulders-to-ankles line to the vertical: 0 standing, 90 lying (plank, push-up)."""
    return _seg_vertical_deg(body_point(p, "shoulder"), body_point(p, "ankle"))


def _height_above(p: np.ndarray, upper: str, lower: str) -> float:
    """How far ``upper`` is above ``lower`` in torso lengths (negative: below)."""
    t = torso_length(p)
    return float((body_point(p, lower)[1] - body_point(p, upper)[1]) / t) if t > 0 else float("nan")


MEASURES: dict[str, Callable[[np.ndarray], float]] = {
    "torso_vertical_deg": _torso_vertical_deg,
    "body_vertical_deg": _body_vertical_deg,
    "wrists_above_shoulders": lambda p: _height_above(p, "wrist", "shoulder"),
    "wrists_above_hips": lambda p: _height_above(p, "wrist", "hip"),
    "hips_above_shoulders": lambda p: _height_above(p, "hip", "shoulder"),
    "shoulders_above_hips": lambda p: _height_above(p, "shoulder", "hip"),
    "shoulders_above_elbows": lambda p: _height_above(p, "shoulder", "elbow"),
    "knees_above_hips": lambda p: _height_above(p, "knee", "hip"),
    "hips_above_knees": lambda p: _height_above(p, "hip", "knee"),
}


# What a failed posture condition means, per measure: (value below its min, value above its max).
MEASURE_FAILS: dict[str, tuple[str, str]] = {
    "body_vertical_deg": ("body not horizontal", "body not upright"),
    "torso_vertical_deg": ("torso not lying back", "torso not upright"),
    "wrists_above_shoulders": ("hands not above the shoulders", "hands above the shoulders"),
    "wrists_above_hips": ("hands not above the hips", "hands above the hips"),
}


def condition_failure(measure_name: str, below: bool, bound: float) -> str:
    """Words for a posture condition that failed (``below``: the value was under its min)."""
    words = MEASURE_FAILS.get(measure_name)
    if words is not None:
        return words[0] if below else words[1]
    return f"{measure_name} {'below' if below else 'above'} {bound:g}"


# Measures of the body's orientation in the image: lost when a pose is stretched to its own box.
ORIENTATION_MEASURES = frozenset({"torso_vertical_deg", "body_vertical_deg"})


def box_normalised(pose: np.ndarray, tolerance: float = 1e-3) -> bool:
    """Whether a raw pose was min-max normalised per axis to its own bounding box (RepCount-A's
    published poses): its landmarks span exactly 0..1 in both x and y. Such a pose has no image
    position and no aspect, so walking and the body's tilt cannot be measured from it; a camera
    pose practically never fills its frame exactly on all four sides."""
    xy = pose[:, :2]
    if np.isnan(xy).any():
        return False
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    return bool((np.abs(lo) <= tolerance).all() and (np.abs(hi - 1.0) <= tolerance).all())


def measure(name: str, pose: np.ndarray, aspect: float) -> float:
    """A posture measure (see MEASURES) on a gated pose; NaN when its joints are not visible."""
    return MEASURES[name](to_metric(pose, aspect))


def side_weights(pose: np.ndarray, joints: tuple[str, ...]) -> tuple[float, float]:
    """Per side, the lowest visibility among the joints (0 where any is gated out)."""
    vis = np.nan_to_num(pose[:, 3], nan=0.0)
    left = min(float(vis[JOINT_NAMES[j][0]]) for j in joints)
    right = min(float(vis[JOINT_NAMES[j][1]]) for j in joints)
    return left, right


def side_values(spec: SignalSpec, pose: np.ndarray, aspect: float) -> tuple[float, float]:
    """The left and right value of an angle signal (NaN for a side that is not visible)."""
    p = to_metric(pose, aspect, spec.use_z)
    a, b, c = (JOINT_NAMES[j] for j in spec.joints)
    left = float(angle_deg(p[a[0]], p[b[0]], p[c[0]]))
    right = float(angle_deg(p[a[1]], p[b[1]], p[c[1]]))
    return left, right


def combine_sides(spec: SignalSpec, pose: np.ndarray, left: float, right: float) -> float:
    """One value from both sides, as the description says (``each`` is handled by the caller)."""
    if spec.side == "left":
        return left
    if spec.side == "right":
        return right
    vals = [v for v in (left, right) if not np.isnan(v)]
    if not vals:
        return float("nan")
    if spec.side == "min":
        return min(vals)
    if spec.side == "max":
        return max(vals)
    if len(vals) == 1:
        return vals[0]
    wl, wr = side_weights(pose, spec.joints)
    return (wl * left + wr * right) / (wl + wr) if wl + wr > 0 else (left + right) / 2.0


def segment_signal(spec: SignalSpec, pose: np.ndarray, aspect: float) -> float:
    """The angle (deg) of the segment between the spec's two points to the image vertical."""
    p = to_metric(pose, aspect)
    return _seg_vertical_deg(_point(p, spec.joints[0]), _point(p, spec.joints[1]))


# The joints a generic pose distance looks at: the body without face and hands.
BODY = np.array([L.LEFT_SHOULDER, L.RIGHT_SHOULDER, L.LEFT_ELBOW, L.RIGHT_ELBOW, L.LEFT_WRIST,
                 L.RIGHT_WRIST, L.LEFT_HIP, L.RIGHT_HIP, L.LEFT_KNEE, L.RIGHT_KNEE, L.LEFT_ANKLE,
                 L.RIGHT_ANKLE, L.NOSE])


def centred_body(pose: np.ndarray, aspect: float) -> np.ndarray | None:
    """Body joints ``(13, 2)`` relative to the hips (image heights); None when no hip is visible."""
    p = to_metric(pose, aspect)
    hip = body_point(p, "hip")
    if np.isnan(hip).any():
        return None
    return p[BODY] - hip


def body_spread(body: np.ndarray) -> float:
    """Size of a body ``(J, 2)``: RMS distance of its visible joints from their mean. Unlike the
    torso length it does not vanish when the torso points at the camera (push-ups seen from the
    front)."""
    seen = body[~np.isnan(body).any(axis=1)]
    if len(seen) < 4:
        return float("nan")
    return float(np.sqrt(np.mean(np.sum((seen - seen.mean(axis=0)) ** 2, axis=1))))
