"""A reference for every exercise: a short looping skeleton animation of one good rep (or a few
seconds of a hold) with its key cue, generated from a parametric stick figure, never taken from
a picture.

Each exercise is two key poses - the start position and the turning point - given as where the
hips are, how the torso leans, and where the hands and feet are (or the angles of the limbs);
limbs between a fixed hand or foot and the body are solved as two-link chains. ``reference(name)``
eases from one key pose to the other and back and returns poses in the pose currency (float32
``(T, 33, 4)``, normalised image coordinates of a 4:3 frame), so the page draws them with the
skeleton it draws a live pose with, and the engine can count them: ``tests/test_reference.py``
checks that the engine's own description of each exercise counts one rep per loop and finds no
fault in it.

Body proportions are a standing height of 1 (segment lengths after Winter's anthropometric
table, rounded); x points where the person faces, y up; the camera sees the side (the far limbs a
little behind the near ones), or the front for the jumping jack.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from repsense.pose import Landmark as L

TORSO = 0.30        # hip to shoulder
THIGH = 0.245
SHIN = 0.245
UPPER_ARM = 0.17
FOREARM = 0.15
FOOT_BACK, FOOT_FRONT = 0.035, 0.10   # heel behind, toes ahead of the ankle
ANKLE_H = 0.045     # ankle above the floor standing
HALF_SHOULDERS, HALF_HIPS = 0.10, 0.065   # front view
FPS = 30
IMAGE = (640, 480)
SCALE = 0.72        # body heights per image height
GROUND = 0.9        # the floor's image y


@dataclass(frozen=True)
class Key:
    """One key pose. ``hip``: the hip centre; ``trunk``: the torso's angle from vertical (deg,
    positive leaning toward where the person faces; 90 = lying head first, -90 = lying on the
    back, head behind). Legs and arms: ``feet`` / ``hands`` fix the ankles / wrists (near, far)
    and solve the limbs, else ``legs`` / ``arms`` give (upper, lower) angles in degrees: the
    upper segment's angle from pointing straight down (positive swinging forward), the lower's
    bend from the upper (knees bend back, elbows forward). ``bend`` is the side the middle joint
    goes to (+1 forward/up, -1 back) when solving."""

    hip: tuple[float, float]
    trunk: float
    feet: tuple[tuple[float, float], tuple[float, float]] | None = None
    legs: tuple[tuple[float, float], tuple[float, float]] = ((0.0, 0.0), (0.0, 0.0))
    hands: tuple[tuple[float, float], tuple[float, float]] | None = None
    arms: tuple[tuple[float, float], tuple[float, float]] = ((10.0, 10.0), (10.0, 10.0))
    knee_bend: float = 1.0
    elbow_bend: float = 1.0
    head: float = 0.0           # the head tilted forward from the torso line (deg)


@dataclass(frozen=True)
class Reference:
    """How an exercise is shown: its key poses, the key cue, seconds down/up and held."""

    start: Key
    turn: Key
    cue: str
    view: str = "side"
    down_s: float = 1.2
    up_s: float = 1.0
    pause_s: float = 0.35       # at the start position and at the turn
    scale: float = SCALE        # body heights per image height (smaller for the tall ones)


def _d(deg: float) -> np.ndarray:
    """The unit vector ``deg`` from straight down, turning toward +x."""
    r = math.radians(deg)
    return np.array([math.sin(r), -math.cos(r)])


def _solve(root: np.ndarray, end: np.ndarray, l1: float, l2: float, bend: float) -> np.ndarray:
    """The middle joint of a two-link chain from ``root`` to ``end`` (stretched when too far)."""
    v = end - root
    d = float(np.hypot(*v))
    d = min(max(d, 1e-6), l1 + l2 - 1e-6)
    a = math.acos(max(-1.0, min(1.0, (l1 * l1 + d * d - l2 * l2) / (2 * l1 * d))))
    u = v / max(float(np.hypot(*v)), 1e-9)
    rot = a * (1 if bend > 0 else -1)   # counter-clockwise for +1: forward of a limb below
    c, s = math.cos(rot), math.sin(rot)
    return root + l1 * np.array([c * u[0] - s * u[1], s * u[0] + c * u[1]])


def _limb(root: np.ndarray, fixed: tuple[float, float] | None, angles: tuple[float, float],
          l1: float, l2: float, bend: float, elbow: bool) -> tuple[np.ndarray, np.ndarray]:
    if fixed is not None:
        end = np.asarray(fixed, dtype=float)
        mid = _solve(root, end, l1, l2, bend)
        # the end cannot be further than the chain reaches
        u = end - mid
        end = mid + u / max(float(np.hypot(*u)), 1e-9) * l2
        return mid, end
    upper, lower = angles
    mid = root + l1 * _d(upper)
    return mid, mid + l2 * _d(upper + (lower if elbow else -lower))


def _side_points(k: Key) -> dict[str, np.ndarray]:
    """Named 2-D points of the near (``n_``) and far (``f_``) side in body units."""
    hip = np.asarray(k.hip, dtype=float)
    up = np.array([math.sin(math.radians(k.trunk)), math.cos(math.radians(k.trunk))])
    sh = hip + TORSO * up
    face = np.array([up[1], -up[0]])   # the torso's direction turned toward where it faces
    pts: dict[str, np.ndarray] = {"hip": hip, "shoulder": sh}
    for i, side in enumerate(("n", "f")):
        knee, ankle = _limb(hip, k.feet[i] if k.feet else None, k.legs[i], THIGH, SHIN,
                            k.knee_bend, elbow=False)
        elbow, wrist = _limb(sh, k.hands[i] if k.hands else None, k.arms[i], UPPER_ARM, FOREARM,
                             k.elbow_bend, elbow=True)
        shin = ankle - knee
        shin /= max(float(np.hypot(*shin)), 1e-9)
        foot = np.array([-shin[1], shin[0]])    # the shin turned toward the toes
        pts |= {f"{side}_knee": knee, f"{side}_ankle": ankle, f"{side}_heel": ankle - FOOT_BACK
                * foot, f"{side}_toe": ankle + FOOT_FRONT * foot, f"{side}_elbow": elbow,
                f"{side}_wrist": wrist, f"{side}_hand": wrist + 0.04 * (wrist - elbow) / FOREARM}
    tilt = math.radians(k.head)
    head_up = np.array([up[0] * math.cos(tilt) + face[0] * math.sin(tilt),
                        up[1] * math.cos(tilt) + face[1] * math.sin(tilt)])
    pts["ear"] = sh + 0.10 * head_up
    pts["nose"] = pts["ear"] + 0.045 * np.array([head_up[1], -head_up[0]]) + 0.01 * head_up
    return pts


def _side_pose(k: Key) -> np.ndarray:
    p = _side_points(k)
    pose = np.zeros((33, 4), np.float32)
    depth = {"n": -0.04, "f": 0.04}

    def put(idx: int, xy: np.ndarray, side: str | None = None, vis: float = 0.99) -> None:
        pose[idx, :2] = xy
        pose[idx, 2] = depth[side] if side else 0.0
        pose[idx, 3] = vis if side != "f" else 0.9

    # left = near side, right = far side (a person facing the right of the image, left side seen)
    for side, li in (("n", 0), ("f", 1)):
        lr = (lambda a, b: a if li == 0 else b)
        off = np.array([0.004, 0.0]) if side == "f" else np.zeros(2)   # not exactly on top
        put(lr(L.LEFT_SHOULDER, L.RIGHT_SHOULDER), p["shoulder"] + off, side)
        put(lr(L.LEFT_HIP, L.RIGHT_HIP), p["hip"] + off, side)
        for name, a, b in (("elbow", L.LEFT_ELBOW, L.RIGHT_ELBOW),
                           ("wrist", L.LEFT_WRIST, L.RIGHT_WRIST),
                           ("knee", L.LEFT_KNEE, L.RIGHT_KNEE),
                           ("ankle", L.LEFT_ANKLE, L.RIGHT_ANKLE),
                           ("heel", L.LEFT_HEEL, L.RIGHT_HEEL),
                           ("toe", L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX)):
            put(lr(a, b), p[f"{side}_{name}"], side)
        for a, b in ((L.LEFT_PINKY, L.RIGHT_PINKY), (L.LEFT_INDEX, L.RIGHT_INDEX),
                     (L.LEFT_THUMB, L.RIGHT_THUMB)):
            put(lr(a, b), p[f"{side}_hand"], side)
        put(lr(L.LEFT_EAR, L.RIGHT_EAR), p["ear"] + off, side)
    for idx in (L.NOSE, L.LEFT_EYE_INNER, L.LEFT_EYE, L.LEFT_EYE_OUTER, L.RIGHT_EYE_INNER,
                L.RIGHT_EYE, L.RIGHT_EYE_OUTER, L.MOUTH_LEFT, L.MOUTH_RIGHT):
        put(idx, p["nose"] + (p["ear"] - p["nose"]) * (0.15 if idx != L.NOSE else 0.0))
    return pose


def _front_pose(k: Key) -> np.ndarray:
    """Facing the camera: ``legs``/``arms`` angles are spread out to the sides (deg from down),
    the trunk upright; the person's left on the image's right."""
    pose = np.zeros((33, 4), np.float32)
    hip_c = np.asarray(k.hip, dtype=float)
    sh_c = hip_c + np.array([0.0, TORSO])
    for sign, (sh_i, el_i, wr_i, hip_i, kn_i, an_i, he_i, to_i, hands, arm, leg) in (
            (1, (L.LEFT_SHOULDER, L.LEFT_ELBOW, L.LEFT_WRIST, L.LEFT_HIP, L.LEFT_KNEE,
                 L.LEFT_ANKLE, L.LEFT_HEEL, L.LEFT_FOOT_INDEX,
                 (L.LEFT_PINKY, L.LEFT_INDEX, L.LEFT_THUMB), k.arms[0], k.legs[0])),
            (-1, (L.RIGHT_SHOULDER, L.RIGHT_ELBOW, L.RIGHT_WRIST, L.RIGHT_HIP, L.RIGHT_KNEE,
                  L.RIGHT_ANKLE, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX,
                  (L.RIGHT_PINKY, L.RIGHT_INDEX, L.RIGHT_THUMB), k.arms[1], k.legs[1]))):
        sh = sh_c + np.array([sign * HALF_SHOULDERS, 0.0])
        hp = hip_c + np.array([sign * HALF_HIPS, 0.0])

        def out(deg: float) -> np.ndarray:
            r = math.radians(deg)
            return np.array([sign * math.sin(r), -math.cos(r)])

        el = sh + UPPER_ARM * out(arm[0])
        wr = el + FOREARM * out(arm[0] + arm[1])
        kn = hp + THIGH * out(leg[0])
        an = kn + SHIN * out(leg[0] - leg[1])
        for idx, xy in ((sh_i, sh), (el_i, el), (wr_i, wr), (hip_i, hp), (kn_i, kn), (an_i, an),
                        (he_i, an + np.array([0.0, -0.02])),
                        (to_i, an + np.array([sign * 0.02, -0.04]))):
            pose[idx, :2] = xy
        for h in hands:
            pose[h, :2] = wr + 0.04 * out(arm[0] + arm[1])
    head = sh_c + np.array([0.0, 0.12])
    for idx, dx, dy in ((L.NOSE, 0, 0), (L.LEFT_EYE_INNER, .01, .012), (L.LEFT_EYE, .02, .012),
                        (L.LEFT_EYE_OUTER, .03, .012), (L.RIGHT_EYE_INNER, -.01, .012),
                        (L.RIGHT_EYE, -.02, .012), (L.RIGHT_EYE_OUTER, -.03, .012),
                        (L.LEFT_EAR, .05, 0), (L.RIGHT_EAR, -.05, 0), (L.MOUTH_LEFT, .015, -.025),
                        (L.MOUTH_RIGHT, -.015, -.025)):
        pose[idx, :2] = head + np.array([dx, dy])
    pose[:, 3] = 0.99
    return pose


def _mix(a: Key, b: Key, w: float) -> Key:
    def lerp(x: Any, y: Any) -> Any:
        if x is None or y is None:
            return x if w < 0.5 else y
        if isinstance(x, tuple):
            return tuple(lerp(i, j) for i, j in zip(x, y))
        return x + (y - x) * w

    return Key(hip=lerp(a.hip, b.hip), trunk=lerp(a.trunk, b.trunk), feet=lerp(a.feet, b.feet),
               legs=lerp(a.legs, b.legs), hands=lerp(a.hands, b.hands), arms=lerp(a.arms, b.arms),
               knee_bend=a.knee_bend, elbow_bend=a.elbow_bend, head=lerp(a.head, b.head))


def _to_image(pose: np.ndarray, scale: float = SCALE) -> np.ndarray:
    """Body units (height 1, y up) to normalised image coordinates of a 4:3 frame."""
    out = pose.copy()
    w, h = IMAGE
    out[:, 0] = 0.5 + pose[:, 0] * scale * h / w
    out[:, 1] = GROUND - pose[:, 1] * scale
    out[:, 2] = pose[:, 2] * scale * h / w
    return out


def _ease(x: float) -> float:
    return 0.5 - 0.5 * math.cos(math.pi * min(max(x, 0.0), 1.0))


def frames(ref: Reference, reps: int = 1, fps: int = FPS) -> np.ndarray:
    """``reps`` loops of the reference: ``(T, 33, 4)`` float32 in normalised image coordinates."""
    loop = [ref.pause_s, ref.down_s, ref.pause_s, ref.up_s]
    total = sum(loop)
    n = int(round(total * fps))
    out = []
    make = _front_pose if ref.view == "front" else _side_pose
    for r in range(reps):
        for i in range(n):
            t = i / fps
            if t < loop[0]:
                w = 0.0
            elif t < loop[0] + loop[1]:
                w = _ease((t - loop[0]) / loop[1])
            elif t < loop[0] + loop[1] + loop[2]:
                w = 1.0
            else:
                w = 1.0 - _ease((t - loop[0] - loop[1] - loop[2]) / loop[3])
            out.append(_to_image(make(_mix(ref.start, ref.turn, w)), ref.scale))
    return np.stack(out).astype(np.float32)


STAND = ((0.0, ANKLE_H), (0.004, ANKLE_H))   # standing: the hips at ANKLE_H + THIGH + SHIN
ARMS_DOWN = ((8.0, 8.0), (6.0, 8.0))

REFERENCES: dict[str, Reference] = {
    "squat": Reference(
        Key(hip=(0.0, 0.53), trunk=6, feet=STAND, arms=((15, 5), (12, 5))),
        Key(hip=(-0.22, 0.30), trunk=40, feet=STAND, arms=((85, 5), (82, 5))),
        "Hips back and down to knee height, chest up, heels down."),
    "lunge": Reference(
        Key(hip=(0.0, 0.48), trunk=3, feet=((0.16, ANKLE_H), (-0.20, ANKLE_H + 0.03)),
            arms=ARMS_DOWN),
        Key(hip=(-0.02, 0.31), trunk=5, feet=((0.20, ANKLE_H), (-0.34, ANKLE_H + 0.04)),
            arms=ARMS_DOWN),
        "Step forward, drop the back knee toward the floor, front knee over the ankle.",
        down_s=1.1, up_s=1.1),
    "split_squat": Reference(
        Key(hip=(0.0, 0.47), trunk=3, feet=((0.22, ANKLE_H), (-0.30, ANKLE_H + 0.03)),
            arms=ARMS_DOWN),
        Key(hip=(-0.02, 0.30), trunk=5, feet=((0.22, ANKLE_H), (-0.30, ANKLE_H + 0.03)),
            arms=ARMS_DOWN),
        "Feet apart front and back: lower straight down, torso upright."),
    "push_up": Reference(
        Key(hip=(-0.21, 0.265), trunk=70, feet=((-0.68, 0.05), (-0.676, 0.05)),
            hands=((0.21, 0.0), (0.214, 0.0)), elbow_bend=-1, head=-5),
        Key(hip=(-0.17, 0.13), trunk=80, feet=((-0.68, 0.05), (-0.676, 0.05)),
            hands=((0.21, 0.0), (0.214, 0.0)), elbow_bend=-1, head=-5),
        "Chest to the floor, body straight from shoulders to heels.", down_s=1.1, up_s=0.9),
    "plank": Reference(
        Key(hip=(-0.22, 0.17), trunk=84, feet=((-0.69, 0.05), (-0.686, 0.05)),
            hands=((0.22, 0.01), (0.224, 0.01)), elbow_bend=-1, head=-5),
        Key(hip=(-0.22, 0.17), trunk=84, feet=((-0.69, 0.05), (-0.686, 0.05)),
            hands=((0.22, 0.01), (0.224, 0.01)), elbow_bend=-1, head=-5),
        "On the forearms: a straight line from shoulders to heels, hips level.",
        down_s=1.0, up_s=1.0, pause_s=1.0),
    "sit_up": Reference(
        Key(hip=(0.0, 0.07), trunk=-78, feet=((0.36, ANKLE_H), (0.364, ANKLE_H)),
            arms=((-150, 20), (-150, 20)), head=25),
        Key(hip=(0.0, 0.07), trunk=15, feet=((0.36, ANKLE_H), (0.364, ANKLE_H)),
            arms=((60, 20), (60, 20)), head=10),
        "Curl up until the chest meets the knees, then lower with control."),
    "biceps_curl": Reference(
        Key(hip=(0.0, 0.53), trunk=0, feet=STAND, arms=((4, 12), (2, 12))),
        Key(hip=(0.0, 0.53), trunk=0, feet=STAND, arms=((10, 135), (8, 135))),
        "Elbows pinned at your sides, curl all the way up, lower all the way down."),
    "shoulder_press": Reference(
        Key(hip=(0.0, 0.53), trunk=0, feet=STAND, arms=((95, 80), (93, 80))),
        Key(hip=(0.0, 0.53), trunk=0, feet=STAND, arms=((172, 5), (170, 5))),
        "Press straight overhead to locked elbows, ribs down."),
    "deadlift": Reference(      # counted from the floor: the start is the hinge
        Key(hip=(-0.14, 0.38), trunk=68, feet=STAND, arms=((2, 3), (0, 3)), head=-10),
        Key(hip=(0.0, 0.53), trunk=2, feet=STAND, arms=((2, 3), (1, 3))),
        "Hinge at the hips with a flat back, stand tall with hips through.",
        down_s=1.2, up_s=1.4),
    "bench_press": Reference(
        Key(hip=(0.0, 0.40), trunk=-90, legs=((60, 90), (58, 90)), arms=((178, 4), (176, 4))),
        Key(hip=(0.0, 0.40), trunk=-90, legs=((60, 90), (58, 90)), arms=((115, 95), (113, 95))),
        "Bar to the chest, then press to straight arms over the shoulders."),
    "pull_up": Reference(
        Key(hip=(0.0, 0.58), trunk=-3, legs=((5, 20), (3, 20)),
            hands=((0.04, 1.2), (0.044, 1.2)), elbow_bend=-1),
        Key(hip=(0.0, 0.85), trunk=-4, legs=((8, 25), (6, 25)),
            hands=((0.04, 1.2), (0.044, 1.2)), elbow_bend=-1),
        "From a full hang, pull until your chin clears the bar.", down_s=1.2, up_s=1.1,
        scale=0.62),
    "lat_pulldown": Reference(
        Key(hip=(0.0, 0.45), trunk=-10, legs=((85, 85), (83, 85)), arms=((172, 4), (170, 4))),
        Key(hip=(0.0, 0.45), trunk=-10, legs=((85, 85), (83, 85)), arms=((160, 120), (158, 120))),
        "Pull the bar to the top of the chest, elbows down and back."),
    "handstand_push_up": Reference(
        Key(hip=(0.0, 0.76), trunk=180, legs=((180, 0), (178, 0)),
            hands=((0.0, 0.0), (0.004, 0.0)), elbow_bend=1),
        Key(hip=(0.0, 0.58), trunk=180, legs=((180, 0), (178, 0)),
            hands=((0.0, 0.0), (0.004, 0.0)), elbow_bend=1),
        "Against a wall: lower the head toward the floor, press back to straight arms.",
        scale=0.62),
    "burpee": Reference(
        Key(hip=(0.0, 0.53), trunk=2, feet=STAND, arms=((10, 8), (8, 8))),
        Key(hip=(-0.2, 0.25), trunk=75, feet=((-0.55, 0.05), (-0.546, 0.05)),
            hands=((0.15, 0.0), (0.154, 0.0)), elbow_bend=-1),
        "Hands down, jump the feet back to a plank, jump back in and stand up.",
        down_s=1.0, up_s=1.0),
    "jumping_jack": Reference(
        Key(hip=(0.0, 0.53), trunk=0, legs=((3, 0), (3, 0)), arms=((12, 5), (12, 5))),
        Key(hip=(0.0, 0.47), trunk=0, legs=((16, 0), (16, 0)), arms=((165, 5), (165, 5))),
        "Jump the feet wide as the arms swing overhead, and back.", view="front",
        down_s=0.45, up_s=0.45, pause_s=0.1),
}


def reference(name: str, reps: int = 1) -> dict[str, Any]:
    """The reference of an exercise as the page and the API give it: the frames (rounded), fps,
    the key cue."""
    from repsense.engine.exercises import get_spec

    spec = get_spec(name)
    ref = REFERENCES.get(name)
    if ref is None:
        raise KeyError(name)
    poses = frames(ref, reps)
    return {"exercise": name, "display": spec.display, "cue": ref.cue, "view": ref.view,
            "hold": spec.is_hold, "fps": FPS, "width": IMAGE[0], "height": IMAGE[1],
            "frames": np.round(poses[:, :, :3], 4).tolist()}


__all__ = ["FPS", "IMAGE", "REFERENCES", "Key", "Reference", "frames", "reference"]
