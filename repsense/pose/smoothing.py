"""Landmark jitter smoothing (One-Euro filter) and visibility gating.

The One-Euro filter (Casiez et al., CHI 2012) is a low-pass filter whose cut-off rises with speed:
still joints are smoothed hard, fast joints follow with little lag, which is what counting fast
reps needs. Time steps come from the frames' own timestamps.
"""

from __future__ import annotations

import math

import numpy as np

from repsense.pose import POSE_SHAPE

# A joint the model reports with lower visibility than this must not drive a count.
MIN_VISIBILITY = 0.5


def _alpha(cutoff_hz: np.ndarray | float, dt_s: float) -> np.ndarray | float:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz))
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """One-Euro filter over the x, y, z of a ``(33, 4)`` pose; visibility passes through.

    A landmark that goes missing (NaN) restarts its filter when it comes back, and a gap longer
    than ``reset_after_ms`` restarts all of them.
    """

    def __init__(self, min_cutoff_hz: float = 1.5, beta: float = 8.0, d_cutoff_hz: float = 1.0,
                 reset_after_ms: int = 1000) -> None:
        self.min_cutoff_hz = min_cutoff_hz
        self.beta = beta
        self.d_cutoff_hz = d_cutoff_hz
        self.reset_after_ms = reset_after_ms
        self._x: np.ndarray | None = None
        self._dx = np.zeros((POSE_SHAPE[0], 3))
        self._t_ms: int | None = None

    def reset(self) -> None:
        self._x = None
        self._t_ms = None

    def __call__(self, pose: np.ndarray, timestamp_ms: int) -> np.ndarray:
        raw = pose[:, :3].astype(np.float64)
        if self._x is None or self._t_ms is None or timestamp_ms - self._t_ms > self.reset_after_ms \
                or timestamp_ms <= self._t_ms:
            self._x = raw.copy()
            self._dx = np.zeros_like(raw)
            self._t_ms = timestamp_ms
            return pose.astype(np.float32, copy=True)
        dt = (timestamp_ms - self._t_ms) / 1000.0
        self._t_ms = timestamp_ms
        restart = np.isnan(self._x) & ~np.isnan(raw)
        self._x[restart] = raw[restart]
        self._dx[restart] = 0.0
        dx = (raw - self._x) / dt
        a_d = _alpha(self.d_cutoff_hz, dt)
        dx_hat = np.where(np.isnan(dx), self._dx, a_d * dx + (1 - a_d) * self._dx)
        speed = np.linalg.norm(np.nan_to_num(dx_hat), axis=1, keepdims=True)
        a = _alpha(self.min_cutoff_hz + self.beta * speed, dt)
        x_hat = a * raw + (1 - a) * self._x
        self._x = np.where(np.isnan(raw), np.nan, x_hat)
        self._dx = dx_hat
        out = pose.astype(np.float32, copy=True)
        out[:, :3] = self._x
        return out


def gate_visibility(pose: np.ndarray, min_visibility: float = MIN_VISIBILITY) -> np.ndarray:
    """A copy of ``pose`` with joints below ``min_visibility`` set to NaN (all four values)."""
    out = pose.copy()
    out[~(pose[:, 3] >= min_visibility)] = np.nan
    return out
