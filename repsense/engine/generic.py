"""The class-agnostic motion signal: the main direction in which the body moves, as one number.

Over a sliding window of recent poses (centred on the hips, scaled by the body's median size in
the window, see ``body_spread``), the first
principal component of the joint positions is the direction of the repeated movement, whatever
the exercise; projecting the current pose onto it gives a signal that rises and falls once per
rep, which the ordinary rep counter counts. The component's sign is kept continuous from frame
to frame, and is first chosen so that the pose the set starts from (the rest pose) is high.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from repsense.engine.signals import body_spread, centred_body

WINDOW_MS = 4000
MIN_WINDOW_MS = 1500
MIN_JOINTS = 8
# The signal starts once the window moves this much along its main direction (std, body sizes),
# so the direction is that of the exercise and not of noise while standing still.
MIN_MOTION = 0.08


class MotionSignal:
    """Streaming projection of the body onto its main direction of motion (in body sizes)."""

    def __init__(self, aspect: float = 1.0, window_ms: int = WINDOW_MS) -> None:
        self.aspect = aspect
        self.window_ms = window_ms
        self._window: deque[tuple[int, np.ndarray, float]] = deque()
        self._axis: np.ndarray | None = None

    def reset(self) -> None:
        self._window.clear()
        self._axis = None

    def update(self, pose: np.ndarray, t: int) -> list[tuple[int, float]]:
        """Feed one pose; return the (timestamp_ms, value) samples now known. Until the window
        holds MIN_WINDOW_MS of poses nothing is known; then the whole window comes at once, so the
        first reps are counted too, only later."""
        body = centred_body(pose, self.aspect)
        if body is None:
            return []
        spread = body_spread(body)
        if not spread > 0:
            return []
        self._window.append((t, body.ravel(), spread))
        while t - self._window[0][0] > self.window_ms:
            self._window.popleft()
        if t - self._window[0][0] < MIN_WINDOW_MS:
            return []
        x = np.stack([f for _, f, _ in self._window]) / np.median([s for _, _, s in self._window])
        seen = ~np.isnan(x).any(axis=0)
        if seen.sum() < 2 * MIN_JOINTS:
            return []
        xs = x[:, seen]
        mean = xs.mean(axis=0)
        centred = xs - mean
        # first principal direction from the covariance (at most 26 x 26)
        vals, vecs = np.linalg.eigh(centred.T @ centred)
        first = self._axis is None
        if first and np.sqrt(max(float(vals[-1]), 0.0) / len(xs)) < MIN_MOTION:
            return []   # nothing moves yet: no direction to follow
        axis = np.zeros(x.shape[1])
        axis[seen] = vecs[:, -1]
        if first:
            # A set starts from its rest pose: make the window's first half second the high side.
            proj = centred @ vecs[:, -1]
            head = [i for i, (ts, _, _) in enumerate(self._window) if ts - self._window[0][0] <= 500]
            if float(np.mean(proj[head])) < 0:
                axis = -axis
        elif float(axis @ self._axis) < 0:  # type: ignore[operator]
            axis = -axis
        self._axis = axis
        values = centred @ axis[seen]
        if first:
            return [(ts, float(v)) for (ts, _, _), v in zip(self._window, values)]
        return [(t, float(values[-1]))]
