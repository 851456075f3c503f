"""The class-agnostic motion signal: the main direction in which the body moves, as one number.

Over a sliding window of recent poses (centred on the hips, scaled by the body's median size in
the window, see ``body_spread``), the first principal component of the joint positions is the
direction of the repeated movement, whatever the exercise; projecting the current pose onto it
gives a signal that rises and falls once per rep, which the ordinary rep counter counts. The
component's sign is kept continuous from frame to frame, and is first chosen so that the pose the
set starts from (the rest pose) is high.

Camera poses give the signal in body sizes. Poses min-max normalised to their own box per frame
(RepCount-A's published poses, ``signals.box_normalised``) have no true body size: stretching
both axes to 0..1 turns a small movement into a large one and back. For them the signal is scaled
to the movement's own amplitude once that exceeds ``MotionParams.amp_ref``, so a small movement
keeps the absolute floor that stops noise from counting and a large one is counted relative to
its size. On camera poses the same scaling cost the short dev clips (2-4 reps, set-up and
walking in the window) more than it gained, so it is off there (docs/benchmarks.md).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from repsense.engine.signals import body_spread, centred_body
from repsense.engine.specs import GENERIC, CountSpec, ExerciseSpec, SignalSpec

MIN_JOINTS = 8


@dataclass(frozen=True)
class MotionParams:
    """How the generic signal is built. Chosen by cross-validation on RepCount-A by video
    (bench/count_accuracy.py --repcount --folds 5, docs/benchmarks.md)."""

    window_ms: int = 4000       # poses the main direction is taken from
    min_window_ms: int = 1500   # nothing is known before the window holds this much
    # The signal starts once the window moves this much along its main direction (std, body
    # sizes), so the direction is that of the exercise and not of noise while standing still.
    min_motion: float = 0.08
    # Box-normalised poses: peak-to-peak amplitude (body sizes) above which the signal is scaled
    # to the movement's own amplitude (0: never, the signal stays in body sizes). With the
    # generic min_rom of 0.25, 0.35 asks a rep for 0.25 / 0.35 = 70% of the amplitude.
    amp_ref: float = 0.35


class MotionSignal:
    """Streaming projection of the body onto its main direction of motion (in body sizes, or in
    amplitudes for large movements; see MotionParams)."""

    def __init__(self, aspect: float = 1.0, window_ms: int | None = None,
                 params: MotionParams = MotionParams()) -> None:
        self.aspect = aspect
        self.params = params
        self.window_ms = params.window_ms if window_ms is None else window_ms
        self._window: deque[tuple[int, np.ndarray, float]] = deque()
        self._axis: np.ndarray | None = None

    def reset(self) -> None:
        self._window.clear()
        self._axis = None

    def update(self, pose: np.ndarray, t: int, boxed: bool = False) -> list[tuple[int, float]]:
        """Feed one pose (``boxed``: the input is box-normalised); return the (timestamp_ms,
        value) samples now known. Until the window holds ``min_window_ms`` of poses nothing is
        known; then the whole window comes at once, so the first reps are counted too, only
        later."""
        prm = self.params
        body = centred_body(pose, self.aspect)
        if body is None:
            return []
        spread = body_spread(body)
        if not spread > 0:
            return []
        self._window.append((t, body.ravel(), spread))
        while t - self._window[0][0] > self.window_ms:
            self._window.popleft()
        if t - self._window[0][0] < prm.min_window_ms:
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
        std = float(np.sqrt(max(float(vals[-1]), 0.0) / len(xs)))
        if first and std < prm.min_motion:
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
        amp = 2.0 * np.sqrt(2.0) * std      # peak to peak of a sine with this std
        if prm.amp_ref > 0 and amp > prm.amp_ref and boxed:
            values = values * (prm.amp_ref / amp)
        if first:
            return [(ts, float(v)) for (ts, _, _), v in zip(self._window, values)]
        return [(t, float(values[-1]))]


# The class-agnostic counter: the body along its main direction of motion (body sizes, or the
# movement's own amplitude when it is large), counted by the ordinary rep counter, which also
# counts the reps a regular run hid (up to 6 in one interval, counting.Rhythm: a shallow swing in
# a fast set, a pose gap). Parameters chosen by cross-validation on RepCount-A, by video
# (docs/benchmarks.md).
GENERIC_SPEC = ExerciseSpec(
    name=GENERIC, display="repetition",
    signal=SignalSpec(type="motion"),
    count=CountSpec(rest="high", min_rom=0.25, min_rep_s=0.3, max_rep_s=6.0,
                    start_fraction=0.3, return_fraction=0.5, min_phase_s=0.1, fill_missed=6),
    max_travel_speed=1.0,
    extra={"motion": MotionParams(amp_ref=0.35)},
)
