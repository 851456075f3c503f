"""Geometry on poses, vectorised over any leading axes (a frame ``(33, 4)`` or a sequence ``(T, 33, 4)``).

Coordinates are normalised to the image (x by width, y by height), so angles need the aspect ratio
(width / height) to be true angles. ``use_z`` adds MediaPipe's relative depth, which has the scale of x.
"""

from __future__ import annotations

import numpy as np

from repsense.pose import Landmark


def to_metric(pose: np.ndarray, aspect: float = 1.0, use_z: bool = False) -> np.ndarray:
    """Points ``(..., 33, 2|3)`` on a common scale (image height = 1): x and z times ``aspect``."""
    xy = pose[..., :2].astype(np.float64)
    scale = np.array([aspect, 1.0])
    if not use_z:
        return xy * scale
    z = pose[..., 2:3].astype(np.float64) * aspect
    return np.concatenate([xy * scale, z], axis=-1)


def angle_deg(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle ABC in degrees at vertex ``b`` for points ``(..., D)``; NaN where a point is missing
    or two points coincide."""
    ba = a - b
    bc = c - b
    nba = np.linalg.norm(ba, axis=-1)
    nbc = np.linalg.norm(bc, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.sum(ba * bc, axis=-1) / (nba * nbc)
    cos = np.where((nba > 0) & (nbc > 0), cos, np.nan)
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def joint_angle_deg(pose: np.ndarray, a: Landmark, b: Landmark, c: Landmark,
                    aspect: float = 1.0, use_z: bool = False) -> np.ndarray:
    """Angle at landmark ``b`` between ``a`` and ``c`` in degrees, for ``(..., 33, 4)`` poses."""
    p = to_metric(pose, aspect, use_z)
    return angle_deg(p[..., a, :], p[..., b, :], p[..., c, :])


def vertical_angle_deg(pose: np.ndarray, a: Landmark, b: Landmark, aspect: float = 1.0) -> np.ndarray:
    """Angle in degrees between the segment a->b and the image's vertical (0 = upright, 90 = level)."""
    p = to_metric(pose, aspect)
    d = p[..., b, :] - p[..., a, :]
    with np.errstate(invalid="ignore"):
        return np.degrees(np.arctan2(np.abs(d[..., 0]), np.abs(d[..., 1])))


def midpoint(pose: np.ndarray, a: Landmark, b: Landmark) -> np.ndarray:
    return (pose[..., a, :2] + pose[..., b, :2]) / 2.0


def torso_length(pose: np.ndarray, aspect: float = 1.0) -> np.ndarray:
    """Shoulder-centre to hip-centre distance, the body's scale (image heights)."""
    p = to_metric(pose, aspect)
    sh = (p[..., Landmark.LEFT_SHOULDER, :] + p[..., Landmark.RIGHT_SHOULDER, :]) / 2.0
    hp = (p[..., Landmark.LEFT_HIP, :] + p[..., Landmark.RIGHT_HIP, :]) / 2.0
    return np.linalg.norm(sh - hp, axis=-1)
