"""The IMU tracking engine: raw samples in, events out. Pure — no I/O — so a CSV replay and a live
MQTT stream run the very same code.

Samples may arrive at any rate and with jitter: they are averaged into 100 ms bins on a grid
anchored at the first sample; bins missing for up to ``MAX_FILL_MS`` are interpolated, a longer
silence ends the rep in progress and restarts the window (``PersonLost`` marks it). Each grid
step gets class probabilities from the step model once ``lookahead`` later steps are known, so
events lag the motion by ``lookahead`` steps plus half the probability smoothing (1.4 s with
the shipped model and settings).
"""

from __future__ import annotations

import math
from collections import deque
from typing import Sequence

import numpy as np

from repsense.engine.events import Event, PersonLost, SessionEnded
from repsense.imu.counter import CounterConfig, ProbSmoother, RepCounter
from repsense.imu.features import step_inputs
from repsense.imu.model import StepModel
from repsense.imu.recording import MAX_FILL_MS, N_CHANNELS, STEP_MS


class ImuTracker:
    """One wearer's workout from an IMU stream.

    ``update(sample, timestamp_ms)`` takes the 12 raw channels in ``recording.CHANNELS`` order
    (NaN for a missing value) and returns the events that became certain with it.
    """

    def __init__(self, model: StepModel | None = None, config: CounterConfig | None = None) -> None:
        self.model = model if model is not None else StepModel.load()
        self.counter = RepCounter(config)
        self.smoother = ProbSmoother(self.counter.config.smooth_steps)
        self._origin_ms: int | None = None
        self._bin: int | None = None              # index of the bin being filled
        self._bin_sum = np.zeros(N_CHANNELS)
        self._bin_n = 0
        self._last_row: np.ndarray | None = None  # last finished bin (raw channels)
        self._last_bin: int | None = None
        self._last_valid_ms: int | None = None
        self._rows: deque[np.ndarray] = deque(maxlen=self.model.length)  # model inputs
        self._times: deque[int] = deque(maxlen=self.model.length)
        self._steps_in_run = 0                    # grid steps since the window (re)started
        self.steps = 0
        self.valid_steps = 0

    # -- public -------------------------------------------------------------------------------

    def update(self, sample: Sequence[float] | np.ndarray, timestamp_ms: int) -> list[Event]:
        return self.update_many(np.asarray(sample, dtype=np.float64).reshape(1, N_CHANNELS),
                                np.asarray([timestamp_ms], dtype=np.int64))

    def update_many(self, samples: np.ndarray, timestamps_ms: np.ndarray) -> list[Event]:
        """Several samples at once (a replay); same events as calling ``update`` one by one, but
        the model runs over all new windows in one batch."""
        samples = np.asarray(samples, dtype=np.float64).reshape(-1, N_CHANNELS)
        timestamps_ms = np.asarray(timestamps_ms, dtype=np.int64).reshape(-1)
        if len(samples) != len(timestamps_ms):
            raise ValueError(f"{len(samples)} samples but {len(timestamps_ms)} timestamps")
        events: list[Event] = []
        pending: list[tuple[np.ndarray, int]] = []
        for row, t in zip(samples, timestamps_ms):
            events += self._add_sample(row, int(t), pending)
        events += self._run(pending)
        return events

    def finish(self, timestamp_ms: int | None = None) -> list[Event]:
        """End of stream: classify the last steps, complete a rep in progress, close the session."""
        pending: list[tuple[np.ndarray, int]] = []
        events = self._close_bin(pending)
        events += self._run(pending)
        events += self._drain()
        events += self._count(self.smoother.flush())
        end = timestamp_ms if timestamp_ms is not None else (self._last_valid_ms or 0)
        events += self.counter.flush(end)
        events.append(SessionEnded(end, total_reps=self.counter.total_reps))
        return events

    # -- binning ------------------------------------------------------------------------------

    def _add_sample(self, row: np.ndarray, t: int, pending: list[tuple[np.ndarray, int]]) -> list[Event]:
        if not np.isfinite(row).all():
            return []                             # a missing sample is a gap; filled or reset later
        events: list[Event] = []
        if self._origin_ms is None:
            self._origin_ms = t
        if self._last_valid_ms is not None and t <= self._last_valid_ms:
            return []                             # out of order or repeated: drop it
        if self._last_valid_ms is not None and t - self._last_valid_ms > MAX_FILL_MS:
            events += self._close_bin(pending)
            events += self._run(pending)
            events += self._drain()
            events += self._count(self.smoother.flush())
            events += self.counter.flush(self._last_valid_ms)
            events.append(PersonLost(t, last_seen_ms=self._last_valid_ms))
            self._restart(t)
        b = int(math.floor((t - self._origin_ms) / STEP_MS + 0.5))
        if self._bin is not None and b != self._bin:
            events += self._close_bin(pending)
        self._bin = b
        self._bin_sum += row
        self._bin_n += 1
        self._last_valid_ms = t
        return events

    def _restart(self, t: int) -> None:
        self._origin_ms = t
        self._bin = None
        self._bin_sum[:] = 0
        self._bin_n = 0
        self._last_row = None
        self._last_bin = None
        self._rows.clear()
        self._times.clear()
        self._steps_in_run = 0

    def _close_bin(self, pending: list[tuple[np.ndarray, int]]) -> list[Event]:
        if self._bin is None or self._bin_n == 0 or self._origin_ms is None:
            return []
        row = self._bin_sum / self._bin_n
        b = self._bin
        if self._last_row is not None and self._last_bin is not None and b > self._last_bin + 1:
            for k in range(self._last_bin + 1, b):  # short gap: interpolate the missing bins
                a = (k - self._last_bin) / (b - self._last_bin)
                self._push(self._last_row + a * (row - self._last_row), k, pending)
                self.steps += 1
        self._push(row, b, pending)
        self.steps += 1
        self.valid_steps += 1
        self._last_row, self._last_bin = row, b
        self._bin, self._bin_sum, self._bin_n = None, np.zeros(N_CHANNELS), 0
        return []

    def _push(self, raw: np.ndarray, b: int, pending: list[tuple[np.ndarray, int]]) -> None:
        x = step_inputs(raw[None, :])[0]
        pending.append((x, (self._origin_ms or 0) + b * STEP_MS))

    # -- model --------------------------------------------------------------------------------

    def _run(self, pending: list[tuple[np.ndarray, int]]) -> list[Event]:
        """Append new steps to the window and classify every step whose lookahead is complete."""
        if not pending:
            return []
        L, n = self.model.lookahead, self.model.length
        wins: list[np.ndarray] = []
        stamps: list[int] = []
        for x, t in pending:
            if not self._rows:
                for _ in range(n - 1 - L):         # pad the start by repeating the first step
                    self._rows.append(x)
                    self._times.append(t)
            self._rows.append(x)
            self._times.append(t)
            self._steps_in_run += 1
            if self._steps_in_run > L:
                wins.append(np.stack(self._rows))
                stamps.append(self._times[n - 1 - L])
        pending.clear()
        return self._classify(wins, stamps)

    def _drain(self) -> list[Event]:
        """Classify the last ``lookahead`` steps by padding with the final step (stream end or gap)."""
        if not self._rows:
            return []
        L, n = self.model.lookahead, self.model.length
        todo = min(L, self._steps_in_run)
        rows, times = list(self._rows), list(self._times)
        wins, stamps = [], []
        for k in range(todo, 0, -1):
            # windows whose centre step is `k` steps before the end, padded with the last row
            padded = rows + [rows[-1]] * (L - k + 1)
            wins.append(np.stack(padded[-n:]))
            stamps.append(times[len(times) - k])
        self._rows.clear()
        self._times.clear()
        self._steps_in_run = 0
        return self._classify(wins, stamps)

    def _classify(self, wins: list[np.ndarray], stamps: list[int]) -> list[Event]:
        if not wins:
            return []
        probs = self.model.predict_proba(np.stack(wins))
        smoothed: list[tuple[np.ndarray, int]] = []
        for p, t in zip(probs, stamps):
            smoothed += self.smoother.update(p, t)
        return self._count(smoothed)

    def _count(self, steps: list[tuple[np.ndarray, int]]) -> list[Event]:
        events: list[Event] = []
        for p, t in steps:
            events += self.counter.update(p, t)
        return events


__all__ = ["ImuTracker"]
