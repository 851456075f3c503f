"""Per-step model inputs from raw IMU samples, and the label vocabulary of the step classifier.

The phone is strapped on differently from one session to the next (upside down, screen in or
out), which flips the signs of its axes. The inputs are therefore the three device-frame vectors
(gravity, user acceleration, rotation rate) — which training rotates at random so the model does
not learn one mounting — plus four quantities that no mounting changes: |acceleration|,
|rotation rate|, and both projected on gravity. Pitch, roll and yaw are left out: pitch and roll
are gravity again in another form, and yaw is a compass heading. ``(T, 12) -> (T, N_INPUTS)``.
"""

from __future__ import annotations

import numpy as np

from repsense.imu.recording import ImuRecording

EXERCISES: tuple[str, ...] = ("burpee", "squat", "sit_up")
# Step classes: break, then each exercise's first and second half of a rep.
CLASSES: tuple[str, ...] = ("break",) + tuple(f"{e}:{h}" for e in EXERCISES for h in ("first", "second"))
N_CLASSES = len(CLASSES)
N_INPUTS = 13
# Columns of the inputs that are device-frame 3-vectors (rotate together with the phone).
VECTOR_SLICES: tuple[slice, ...] = (slice(0, 3), slice(3, 6), slice(6, 9))


def step_inputs(samples: np.ndarray) -> np.ndarray:
    """``(T, 12)`` raw samples in ``recording.CHANNELS`` order -> ``(T, 13)`` float32 inputs:
    gravity xyz, acceleration xyz, rotation rate xyz, |acc|, |rot|, acc.gravity, rot.gravity."""
    s = np.asarray(samples, dtype=np.float32)
    g, a, w = s[:, 0:3], s[:, 3:6], s[:, 9:12]
    return np.concatenate([
        g, a, w,
        np.linalg.norm(a, axis=1, keepdims=True), np.linalg.norm(w, axis=1, keepdims=True),
        np.sum(a * g, axis=1, keepdims=True), np.sum(w * g, axis=1, keepdims=True),
    ], axis=1).astype(np.float32)


def step_labels(rec: ImuRecording) -> np.ndarray:
    """Class index per step from a labelled recording, ``(T,)`` int64."""
    if rec.exercise is None or rec.phase is None:
        raise ValueError(f"{rec.path} has no label columns")
    out = np.zeros(len(rec), dtype=np.int64)
    for i, name in enumerate(CLASSES[1:], start=1):
        ex, half = name.split(":")
        out[(rec.exercise == ex) & (rec.phase == half)] = i
    return out


def windows(x: np.ndarray, length: int, lookahead: int) -> np.ndarray:
    """Window per step: step t sees ``x[t + lookahead - length + 1 : t + lookahead + 1]``, edges
    padded by repeating the first/last row. ``(T, C)`` -> ``(T, length, C)`` (a view)."""
    before = length - 1 - lookahead
    padded = np.concatenate([np.repeat(x[:1], before, axis=0), x, np.repeat(x[-1:], lookahead, axis=0)])
    return np.lib.stride_tricks.sliding_window_view(padded, length, axis=0).transpose(0, 2, 1)


def exercise_of(class_idx: np.ndarray) -> np.ndarray:
    """Step class -> 0 break, 1 + exercise index."""
    return (np.asarray(class_idx) + 1) // 2


__all__ = ["EXERCISES", "CLASSES", "N_CLASSES", "N_INPUTS", "VECTOR_SLICES", "step_inputs", "step_labels", "windows",
           "exercise_of"]
