"""Rep counting from per-step class probabilities: a small state machine with hysteresis.

A rep is one entry into a rep's first half. The first-half probability must rise above
``enter_prob`` and stay there for ``min_first_steps`` steps to start a rep (this debounces single
confused steps at the edges of a rep); the rep's second half begins when the second-half
probability dominates, and the rep is complete when the phase falls back to break or a new first
half starts. Exercises are named by the mean probability over the rep's steps. A pause longer
than ``set_gap_ms`` closes the set.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from repsense.engine.events import Event, ExerciseDetected, RepCompleted, SetCompleted
from repsense.imu.features import EXERCISES

# Which half of a rep is the muscle-shortening (concentric) part, per exercise.
# Squat and burpee start by going down (eccentric); a sit-up starts by curling up (concentric).
FIRST_HALF_IS_CONCENTRIC = {"burpee": False, "squat": False, "sit_up": True}


@dataclass(frozen=True)
class CounterConfig:
    """Thresholds chosen on the leave-one-individual-out predictions (docs/imu.md has the sweep)."""

    enter_prob: float = 0.3
    exit_prob: float = 0.15
    min_first_steps: int = 3
    min_second_steps: int = 2
    set_gap_ms: int = 8000
    # Centred moving average over this many steps before counting (adds (n - 1) / 2 steps of delay).
    smooth_steps: int = 9


class ProbSmoother:
    """Centred moving average of probability vectors, streaming; edges repeat the end values."""

    def __init__(self, steps: int) -> None:
        if steps < 1 or steps % 2 == 0:
            raise ValueError(f"smooth_steps must be odd and >= 1, got {steps}")
        self.half = steps // 2
        self._buf: deque[tuple[np.ndarray, int]] = deque()
        self._started = False

    def update(self, probs: np.ndarray, timestamp_ms: int) -> list[tuple[np.ndarray, int]]:
        p = np.asarray(probs, dtype=np.float64)
        if not self._started:
            self._started = True
            for _ in range(self.half):
                self._buf.append((p, -1))
        self._buf.append((p, timestamp_ms))
        if len(self._buf) < 2 * self.half + 1:
            return []
        centre = self._buf[self.half][1]
        out = [(np.mean([q for q, _ in self._buf], axis=0), centre)]
        self._buf.popleft()
        return out

    def flush(self) -> list[tuple[np.ndarray, int]]:
        """The steps still waiting for later neighbours, padded with the final probabilities;
        then start afresh."""
        out: list[tuple[np.ndarray, int]] = []
        if self._buf:
            entries = list(self._buf)
            pending = len(entries) - self.half
            entries += [(entries[-1][0], -1)] * self.half
            for i in range(pending):
                window = entries[i:i + 2 * self.half + 1]
                out.append((np.mean([q for q, _ in window], axis=0), entries[i + self.half][1]))
        self._buf.clear()
        self._started = False
        return out


@dataclass
class _Rep:
    start_ms: int
    first_steps: int = 0
    second_steps: int = 0
    bottom_ms: int | None = None
    last_ms: int = 0
    ex_prob_sum: np.ndarray = field(default_factory=lambda: np.zeros(len(EXERCISES)))
    steps: int = 0

    def add(self, ex_p: np.ndarray, timestamp_ms: int, first: bool) -> None:
        if first:
            self.first_steps += 1
        else:
            self.second_steps += 1
        self.steps += 1
        self.ex_prob_sum += ex_p
        self.last_ms = timestamp_ms


class RepCounter:
    """Consumes one probability vector per step (classes of ``features.CLASSES``) and returns events."""

    def __init__(self, config: CounterConfig | None = None) -> None:
        self.config = config or CounterConfig()
        self._pending: _Rep | None = None       # first half seen, not yet confirmed
        self._rep: _Rep | None = None           # confirmed rep in progress
        self._in_first = False
        self._exercise: str | None = None       # exercise of the current set
        self._set_count = 0
        self._set_start_ms = 0
        self._last_rep_end_ms: int | None = None
        self.total_reps = 0

    def update(self, probs: np.ndarray, timestamp_ms: int) -> list[Event]:
        cfg = self.config
        p = np.asarray(probs, dtype=np.float64)
        p_first = float(p[1::2].sum())
        p_second = float(p[2::2].sum())
        ex_p = p[1::2] + p[2::2]
        events: list[Event] = []

        if self._last_rep_end_ms is not None and self._rep is None and self._pending is None \
                and timestamp_ms - self._last_rep_end_ms > cfg.set_gap_ms:
            events += self._close_set()

        if not self._in_first and p_first >= cfg.enter_prob:
            self._in_first = True
            events += self._finish_rep(timestamp_ms)
            self._pending = _Rep(start_ms=timestamp_ms)
        elif self._in_first and p_first < cfg.exit_prob:
            self._in_first = False

        if self._pending is not None:
            if self._in_first:
                self._pending.add(ex_p, timestamp_ms, first=True)
                if self._pending.first_steps >= cfg.min_first_steps:
                    self._rep, self._pending = self._pending, None
            else:
                self._pending = None          # too short to be a rep
        elif self._rep is not None:
            if self._in_first:
                self._rep.add(ex_p, timestamp_ms, first=True)
            elif p_second >= p_first and p_second >= p[0]:
                if self._rep.bottom_ms is None:
                    self._rep.bottom_ms = timestamp_ms
                self._rep.add(ex_p, timestamp_ms, first=False)
            elif p[0] > max(p_first, p_second):
                events += self._finish_rep(timestamp_ms)
        return events

    def _finish_rep(self, timestamp_ms: int) -> list[Event]:
        rep, self._rep = self._rep, None
        if rep is None:
            return []
        if rep.bottom_ms is None or rep.second_steps < self.config.min_second_steps:
            # A first half without a second one: the arm moved but no rep was completed.
            return []
        events: list[Event] = []
        probs = rep.ex_prob_sum / max(rep.steps, 1)
        k = int(np.argmax(probs))
        name = EXERCISES[k]
        if name != self._exercise:
            events += self._close_set()
            self._exercise = name
            self._set_start_ms = rep.start_ms
            events.append(ExerciseDetected(rep.start_ms, exercise=name,
                                           confidence=round(float(probs[k] / probs.sum()), 3)))
        end_ms = rep.last_ms
        first_s = (rep.bottom_ms - rep.start_ms) / 1000.0
        second_s = (end_ms - rep.bottom_ms) / 1000.0
        conc_first = FIRST_HALF_IS_CONCENTRIC[name]
        self._set_count += 1
        self.total_reps += 1
        self._last_rep_end_ms = end_ms
        events.append(RepCompleted(
            end_ms, exercise=name, count=self._set_count, start_ms=rep.start_ms, end_ms=end_ms,
            bottom_ms=rep.bottom_ms,
            concentric_s=round(first_s if conc_first else second_s, 3),
            eccentric_s=round(second_s if conc_first else first_s, 3),
            rom_deg=float("nan")))
        return events

    def _close_set(self) -> list[Event]:
        events: list[Event] = []
        if self._exercise is not None and self._set_count > 0 and self._last_rep_end_ms is not None:
            events.append(SetCompleted(self._last_rep_end_ms, exercise=self._exercise,
                                       reps=self._set_count, start_ms=self._set_start_ms,
                                       end_ms=self._last_rep_end_ms))
        self._exercise = None
        self._set_count = 0
        self._last_rep_end_ms = None
        return events

    def flush(self, timestamp_ms: int) -> list[Event]:
        """End of stream: complete a rep in progress and close the set."""
        events = self._finish_rep(timestamp_ms)
        self._pending = None
        self._in_first = False
        return events + self._close_set()


__all__ = ["CounterConfig", "ProbSmoother", "RepCounter", "FIRST_HALF_IS_CONCENTRIC"]
