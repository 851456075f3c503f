"""Landmarks sent as JSON by a browser or a camera node: one pose per message, checked here."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from repsense.errors import InputError
from repsense.pose import POSE_SHAPE, missing_pose


def pose_from_json(value: Any) -> np.ndarray:
    """A pose ``(33, 4)`` from 33 rows of ``[x, y, z, visibility]`` (or ``[x, y, z]``: all
    visible); None or all-NaN rows: nobody in view. Raises InputError saying what is wrong."""
    if value is None:
        return missing_pose()
    try:
        arr = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError, OverflowError):
        raise InputError("landmarks must be 33 rows of 4 numbers [x, y, z, visibility]") from None
    if arr.shape == (POSE_SHAPE[0], 3):
        arr = np.concatenate([arr, np.ones((POSE_SHAPE[0], 1), np.float32)], axis=1)
    if arr.shape != POSE_SHAPE:
        raise InputError(f"landmarks must have shape {POSE_SHAPE}, got {arr.shape}")
    if np.isinf(arr).any():
        raise InputError("landmarks must be finite numbers")
    if np.isnan(arr[:, :2]).all():
        return missing_pose()
    return arr


def time_from_json(value: Any) -> float:
    """A time in milliseconds: a finite number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"t must be a time in milliseconds, got {value!r}"[:200])
    return float(value)


__all__ = ["pose_from_json", "time_from_json"]
