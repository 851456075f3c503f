"""Rep counting from the step decoder's labels: one rep per decoded first half followed by its
second half.

The step decoder (``decoding.py``) already forces every rep into break -> first half -> second half
-> break with plausible durations, so counting needs no thresholds of its own: a rep starts on the
first step of a first half, its bottom is the first step of the second half, and it is complete on
the first step after the second half. A rep's exercise is the one its labels name; the confidence
reported with ``ExerciseDetected`` is that exercise's share of the exercise probability over the
rep's steps. A change of exercise or more than ``set_gap_ms`` without a rep closes the set.

Counting the labels, not the probabilities, makes the live count the batch count by construction:
``count_labels`` over ``StepModel.predict_steps`` gives the events ``ImuTracker`` streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from repsense.engine.events import Event, ExerciseDetected, RepCompleted, SetCompleted
from repsense.imu.features import EXERCISES, N_CLASSES

# Which half of a rep is the muscle-shortening (concentric) part, per exercise.
# Squat and burpee start by going down (eccentric); a sit-up starts by curling up (concentric).
FIRST_HALF_IS_CONCENTRIC = {"burpee": False, "squat": False, "sit_up": True}


@dataclass(frozen=True)
class CounterConfig:
    set_gap_ms: int = 8000  # this long without a rep closes the set


@dataclass
class _Rep:
    first_class: int          # the decoded first-half class (1, 3 or 5)
    start_ms: int
    bottom_ms: int | None = None
    last_ms: int = 0
    ex_prob_sum: np.ndarray = field(default_factory=lambda: np.zeros(len(EXERCISES)))


class RepCounter:
    """Consumes one decoded step (class of ``features.CLASSES`` and its probabilities) at a time,
    in time order, and returns the events it completes."""

    def __init__(self, config: CounterConfig | None = None) -> None:
        self.config = config or CounterConfig()
        self._rep: _Rep | None = None
        self._exercise: str | None = None       # exercise of the current set
        self._set_count = 0
        self._set_start_ms = 0
        self._last_rep_end_ms: int | None = None
        self.total_reps = 0

    @property
    def exercise(self) -> str | None:
        """The exercise of the set in progress (None between sets)."""
        return self._exercise

    @property
    def set_count(self) -> int:
        """Reps of the set in progress."""
        return self._set_count

    def update(self, label: int, probs: np.ndarray, timestamp_ms: int) -> list[Event]:
        if not 0 <= label < N_CLASSES:
            raise ValueError(f"step class must be in 0..{N_CLASSES - 1}, got {label}")
        events: list[Event] = []
        rep = self._rep
        if rep is not None and not (label == rep.first_class + 1
                                    or (label == rep.first_class and rep.bottom_ms is None)):
            events += self._finish_rep()          # the rep ended with the step before
            rep = None
        if self._rep is None and self._last_rep_end_ms is not None \
                and timestamp_ms - self._last_rep_end_ms > self.config.set_gap_ms:
            events += self._close_set()
        if label == 0:
            return events
        if rep is None:
            if label % 2 == 0:
                return events                   # a second half without its first: not a rep
            rep = self._rep = _Rep(first_class=label, start_ms=timestamp_ms)
        if label == rep.first_class + 1 and rep.bottom_ms is None:
            rep.bottom_ms = timestamp_ms
        p = np.asarray(probs, dtype=np.float64)
        rep.ex_prob_sum += p[1::2] + p[2::2]
        rep.last_ms = timestamp_ms
        return events

    def _finish_rep(self) -> list[Event]:
        rep, self._rep = self._rep, None
        if rep is None or rep.bottom_ms is None:
            return []                           # a first half without a second half
        name = EXERCISES[(rep.first_class - 1) // 2]
        events: list[Event] = []
        if name != self._exercise:
            events += self._close_set()
            self._exercise = name
            self._set_start_ms = rep.start_ms
            share = rep.ex_prob_sum / max(float(rep.ex_prob_sum.sum()), 1e-12)
            events.append(ExerciseDetected(rep.start_ms, exercise=name,
                                           confidence=round(float(share[EXERCISES.index(name)]), 3)))
        first_s = (rep.bottom_ms - rep.start_ms) / 1000.0
        second_s = (rep.last_ms - rep.bottom_ms) / 1000.0
        conc_first = FIRST_HALF_IS_CONCENTRIC[name]
        self._set_count += 1
        self.total_reps += 1
        self._last_rep_end_ms = rep.last_ms
        events.append(RepCompleted(
            rep.last_ms, exercise=name, count=self._set_count, start_ms=rep.start_ms, end_ms=rep.last_ms,
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

    def flush(self) -> list[Event]:
        """End of a stream (or of a run before a gap): complete the rep in progress, close the set."""
        return self._finish_rep() + self._close_set()


def count_labels(labels: np.ndarray, probs: np.ndarray, timestamps_ms: np.ndarray,
                 config: CounterConfig | None = None) -> list[Event]:
    """The events of a whole decoded sequence: labels ``(T,)``, probabilities ``(T, N_CLASSES)``,
    timestamps ``(T,)``."""
    labels, timestamps_ms = np.asarray(labels), np.asarray(timestamps_ms)
    if not len(labels) == len(probs) == len(timestamps_ms):
        raise ValueError(f"{len(labels)} labels, {len(probs)} probability rows and "
                         f"{len(timestamps_ms)} timestamps: they must match")
    counter = RepCounter(config)
    events: list[Event] = []
    for c, p, t in zip(labels, probs, timestamps_ms):
        events += counter.update(int(c), p, int(t))
    return events + counter.flush()


__all__ = ["CounterConfig", "RepCounter", "count_labels", "FIRST_HALF_IS_CONCENTRIC"]
