"""The IMU tracking engine: raw samples in, events out. Pure — no I/O but log lines — so a CSV
replay and a live MQTT stream run the very same code, and it gives what the batch path gives.

Samples may arrive at any rate and with jitter: they are averaged into 100 ms bins on a grid
anchored at the first sample; bins missing for up to ``MAX_FILL_MS`` are interpolated. Each grid
step gets class probabilities from the step model's stream (``StepModel.stream``, equal to
``predict_sequence``) once ``model.lookahead`` later steps are known (2 s), the step decoder
(``decoding.StepDecoder``, the one ``StepModel.predict_steps`` runs) makes its label final ``lag``
steps later (2 s), and the counter counts the decoded labels. So a step's label is final 4 s after
the motion and a rep is reported 4.1 s after its last step, and on a recording without gaps the
stream's labels and events are those of the batch path (``predict_steps`` +
``counter.count_labels``).

A sensor that misbehaves is logged (``logging`` channel ``repsense.imu.tracker``: a dropped sample
with what was wrong with it, at most one such line every 10 s of stream time, the samples dropped
in between counted in the next line or when the run ends), never fatal:
a sample with a NaN is dropped (its step is filled from its neighbours, or the gap rule applies);
a repeated timestamp is dropped; a sample older than the last one is added to its 100 ms step if
that step is still open, else dropped; a silence of more than ``MAX_FILL_MS``, or the clock going
back by more than that for ``CLOCK_RESTART_SAMPLES`` samples in a row (a restarted sensor), ends
the run — the rep in progress is completed, the set closed, ``PersonLost`` emitted — and counting
resumes with the next samples.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from typing import Callable, Sequence

import numpy as np

from repsense.engine.events import Event, PersonLost, SessionEnded
from repsense.errors import InputError
from repsense.imu.counter import CounterConfig, RepCounter
from repsense.imu.decoding import StepDecoder
from repsense.imu.features import step_inputs
from repsense.imu.model import StepModel
from repsense.imu.recording import CHANNELS, MAX_FILL_MS, N_CHANNELS, STEP_MS

log = logging.getLogger(__name__)
DROP_LOG_EVERY_MS = 10_000  # at most one line about dropped samples this often (stream time)
# This many samples in a row, in order among themselves but more than MAX_FILL_MS older than the
# last accepted one, are a restarted sensor clock (fewer: late samples, dropped).
CLOCK_RESTART_SAMPLES = 5


class ImuTracker:
    """One wearer's workout from an IMU stream.

    ``update(sample, timestamp_ms)`` takes the 12 raw channels in ``recording.CHANNELS`` order
    (NaN for a missing value) and returns the events that became certain with it. ``on_label``,
    if given, is called with ``(timestamp_ms, step class)`` as each step's decoded label becomes
    final.
    """

    def __init__(self, model: StepModel | None = None, config: CounterConfig | None = None,
                 on_label: Callable[[int, int], None] | None = None) -> None:
        self.model = model if model is not None else StepModel.load()
        decoder = self.model.decoder()
        if decoder is None:
            raise InputError("the IMU model file has no step decoder settings; rebuild it with 'repsense imu train'")
        self.decoder = StepDecoder(decoder)
        self.counter = RepCounter(config)
        self.on_label = on_label
        self._origin_ms: int | None = None
        self._bin: int | None = None              # index of the bin being filled
        self._bin_sum = np.zeros(N_CHANNELS)
        self._bin_n = 0
        self._last_row: np.ndarray | None = None  # last finished bin (raw channels)
        self._last_bin: int | None = None
        self._last_valid_ms: int | None = None
        self.stream = self.model.stream()       # the model, one step at a time
        self._unclassified: deque[int] = deque()  # times of the steps waiting for their lookahead
        self._undecided: deque[tuple[np.ndarray, int]] = deque()  # steps the decoder has not labelled yet
        self._dropped: dict[str, int] = {}        # samples dropped since the last log line, by reason
        self._drop_line_ms: int | None = None     # stream time of the last log line about dropped samples
        self._behind: list[int] = []              # consecutive samples far older than the last one
        self.steps = 0
        self.valid_steps = 0
        self._last_label: int | None = None

    @property
    def latency_ms(self) -> int:
        """How long after a step its label is final: the model's lookahead plus the decoder's lag."""
        return (self.model.lookahead + self.decoder.config.lag) * STEP_MS

    # -- the session's Engine interface (repsense.session.Engine) ---------------------------------
    kind = "imu"
    ordered = False   # late, repeated and restarted-clock samples are sorted out here (see above)

    @staticmethod
    def check(sample: Sequence[float] | np.ndarray) -> np.ndarray:
        """A sample as the tracker takes it, float64 ``(12,)`` (NaN: no value); InputError
        otherwise."""
        try:
            arr = np.asarray(sample, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError("a motion sample is 12 numbers") from None
        if arr.shape != (N_CHANNELS,):
            raise InputError(f"a motion sample is {N_CHANNELS} numbers in the order "
                             f"{', '.join(CHANNELS)}; got shape {arr.shape}")
        return arr

    @staticmethod
    def present(sample: np.ndarray) -> bool:
        return bool(np.isfinite(sample).all())

    @property
    def total_reps(self) -> int:
        return self.counter.total_reps

    @property
    def exercise(self) -> str:
        """The exercise of the set in progress, ``idle`` between sets."""
        return self.counter.exercise or "idle"

    @property
    def phase(self) -> str:
        """The latest final step label: ``rest``, or the first or second half of a rep."""
        if self._last_label is None or self._last_label == 0:
            return "rest"
        return "first_half" if self._last_label % 2 else "second_half"

    def live_state(self) -> tuple[str, str, int, tuple[str, ...]]:
        return self.exercise, self.phase, self.counter.set_count, ()

    def notes(self) -> list[str]:
        return []

    # -- public -------------------------------------------------------------------------------

    def update(self, sample: Sequence[float] | np.ndarray, timestamp_ms: int) -> list[Event]:
        return self.update_many(np.asarray(sample, dtype=np.float64).reshape(1, N_CHANNELS),
                                np.asarray([timestamp_ms], dtype=np.int64))

    def update_many(self, samples: np.ndarray, timestamps_ms: np.ndarray) -> list[Event]:
        """Several samples at once (a replay or a batch message): the events of calling
        ``update`` on each in turn."""
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
        """End of stream: classify and label the last steps, complete a rep in progress, close
        the session."""
        events = self._end_run()
        end = timestamp_ms if timestamp_ms is not None else (self._last_valid_ms or 0)
        events.append(SessionEnded(end, total_reps=self.counter.total_reps))
        return events

    # -- binning ------------------------------------------------------------------------------

    def _drop(self, reason: str, message: str, t: int) -> list[Event]:
        """Count a sample dropped at stream time ``t``; log what was wrong with it unless a line was
        logged less than ``DROP_LOG_EVERY_MS`` ago (then it is counted in the next line)."""
        if self._drop_line_ms is None or t - self._drop_line_ms >= DROP_LOG_EVERY_MS:
            earlier = f", and {self._drop_summary()} since the last line" if self._dropped else ""
            log.warning("imu stream: %s; dropped%s", message, earlier)
            self._dropped.clear()
            self._drop_line_ms = t
        else:
            self._dropped[reason] = self._dropped.get(reason, 0) + 1
        return []

    def _drop_summary(self) -> str:
        return ", ".join(f"{n} sample(s) ({why})" for why, n in self._dropped.items())

    def _report_drops(self, t: int, end: bool = False) -> None:
        """Log the samples dropped since the last line, at most every ``DROP_LOG_EVERY_MS`` (and
        when a run ends)."""
        if not self._dropped or self._drop_line_ms is None:
            return
        if end or t - self._drop_line_ms >= DROP_LOG_EVERY_MS:
            log.warning("imu stream: dropped %s since %d ms", self._drop_summary(), self._drop_line_ms)
            self._dropped.clear()
            self._drop_line_ms = t

    def _add_sample(self, row: np.ndarray, t: int, pending: list[tuple[np.ndarray, int]]) -> list[Event]:
        if not np.isfinite(row).all():
            bad = [CHANNELS[i] for i in np.flatnonzero(~np.isfinite(row))]
            what = "in any channel" if len(bad) == N_CHANNELS else "for " + ", ".join(bad)
            return self._drop("no value", f"sample at {t} ms has no value {what}", t)
        events: list[Event] = []
        last = self._last_valid_ms
        if last is not None and t <= last:
            if last - t > MAX_FILL_MS:
                # far in the past: one late sample (a redelivered message), or a restarted sensor
                # clock if the samples that follow stay in the past too
                behind = self._behind
                self._behind = behind + [t] if behind and t > behind[-1] else [t]
                if len(self._behind) < CLOCK_RESTART_SAMPLES:
                    return self._drop("far in the past", f"sample at {t} ms is {(last - t) / 1000:.1f} s older "
                                                         f"than the last one", last)
                log.warning("imu stream: the sensor clock went back %.1f s (%d -> %d ms), a restarted sensor; "
                            "the rep in progress is completed and counting starts afresh", (last - t) / 1000,
                            last, t)
                self._dropped.pop("far in the past", None)
                events += self._restart(t, pending)
            elif t == last:
                return self._drop("repeated", f"sample at {t} ms repeats the timestamp of the one before", t)
            elif self._bin is None or self._bin_of(t) != self._bin:
                return self._drop("out of order", f"sample at {t} ms came after one at {last} ms, too late "
                                                  f"for its 100 ms step", last)
            else:
                self._bin_sum += row              # late, but its step is still open: use it
                self._bin_n += 1
                return []
        self._behind = []
        self._report_drops(t)
        if last is not None and t - last > MAX_FILL_MS:
            log.warning("imu stream: no valid sample for %.1f s (%d -> %d ms); the rep in progress is "
                        "completed and counting starts afresh", (t - last) / 1000, last, t)
            events += self._restart(t, pending)
        if self._origin_ms is None:
            self._origin_ms = t
        b = self._bin_of(t)
        if self._bin is not None and b != self._bin:
            self._close_bin(pending)
        self._bin = b
        self._bin_sum += row
        self._bin_n += 1
        self._last_valid_ms = t
        return events

    def _bin_of(self, t: int) -> int:
        assert self._origin_ms is not None
        return int(math.floor((t - self._origin_ms) / STEP_MS + 0.5))

    def _restart(self, t: int, pending: list[tuple[np.ndarray, int]]) -> list[Event]:
        """End the run at the last valid sample (PersonLost) and start a new one at ``t``."""
        self._close_bin(pending)
        events = self._run(pending)
        last = self._last_valid_ms
        events += self._end_run()
        events.append(PersonLost(t, last_seen_ms=last if last is not None else t))
        self._origin_ms = t
        self._bin = None
        self._last_row = None
        self._last_bin = None
        self._last_valid_ms = t
        return events

    def _close_bin(self, pending: list[tuple[np.ndarray, int]]) -> None:
        if self._bin is None or self._bin_n == 0 or self._origin_ms is None:
            return
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

    def _push(self, raw: np.ndarray, b: int, pending: list[tuple[np.ndarray, int]]) -> None:
        x = step_inputs(raw[None, :])[0]
        pending.append((x, (self._origin_ms or 0) + b * STEP_MS))

    # -- model, decoder, counter --------------------------------------------------------------

    def _run(self, pending: list[tuple[np.ndarray, int]]) -> list[Event]:
        """Feed new steps to the model and the decoder; count the steps whose labels are final."""
        events: list[Event] = []
        for x, t in pending:
            self._unclassified.append(t)
            p = self.stream.push(x)
            if p is not None:
                events += self._decode(p)
        pending.clear()
        return events

    def _end_run(self) -> list[Event]:
        """The end of a run of samples (stream end, long gap): classify the last ``lookahead``
        steps (the model pads the end with the final step), label the steps the decoder still
        holds, complete the rep in progress and close the set."""
        pending: list[tuple[np.ndarray, int]] = []
        self._close_bin(pending)
        events = self._run(pending)
        for p in self.stream.finish():
            events += self._decode(p)
        events += self._label(self.decoder.flush())
        self._report_drops(self._last_valid_ms or 0, end=True)
        self._drop_line_ms = None
        return events + self.counter.flush()

    def _decode(self, p: np.ndarray) -> list[Event]:
        self._undecided.append((p, self._unclassified.popleft()))
        return self._label(self.decoder.update(p))

    def _label(self, labels: list[int]) -> list[Event]:
        """Count the steps whose labels became final (the oldest undecided ones)."""
        events: list[Event] = []
        for c in labels:
            p, t = self._undecided.popleft()
            self._last_label = c
            if self.on_label is not None:
                self.on_label(t, c)
            events += self.counter.update(c, p, t)
        return events


__all__ = ["ImuTracker"]
