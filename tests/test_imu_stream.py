"""ImuTracker on a misbehaving sensor (dropouts, repeats, reordering, NaN, a restarted clock), with a
tiny random step model: no data, no torch. Real recordings are in test_imu_accuracy.py."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from repsense.engine.events import PersonLost, SessionEnded
from repsense.imu.decoding import DecoderConfig
from repsense.imu.features import N_CLASSES, N_INPUTS
from repsense.imu.model import StepModel
from repsense.imu.tracker import ImuTracker

DURATIONS = ((8, 250), (12, 19), (22, 29), (10, 16), (10, 16), (16, 22), (13, 21))
LOGGER = "repsense.imu.tracker"


def tiny_model(lag: int = 5) -> StepModel:
    rng = np.random.default_rng(0)
    length = 8
    spec = [{"type": "conv", "pad": 1}, {"type": "relu"}, {"type": "flatten"}, {"type": "linear"}]
    weights = {"w0": rng.normal(size=(4, N_INPUTS, 3)).astype(np.float32), "b0": np.zeros(4, np.float32),
               "w3": rng.normal(size=(N_CLASSES, 4 * length)).astype(np.float32),
               "b3": np.zeros(N_CLASSES, np.float32)}
    return StepModel(spec, weights, np.zeros(N_INPUTS, np.float32), np.ones(N_INPUTS, np.float32), length, 2,
                     {"decoder": DecoderConfig(DURATIONS, lag=lag).to_dict()})


def samples(n: int, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 12))


class Stream:
    """A tracker fed one sample at a time, recording its events and the labelled step times."""

    def __init__(self) -> None:
        self.labelled: list[int] = []
        self.tracker = ImuTracker(tiny_model(), on_label=lambda t, c: self.labelled.append(t))
        self.events: list = []

    def feed(self, rows: np.ndarray, times: list[int] | np.ndarray) -> "Stream":
        for row, t in zip(rows, times):
            self.events += self.tracker.update(row, int(t))
        return self

    def finish(self) -> "Stream":
        self.events += self.tracker.finish()
        return self


def test_every_step_is_labelled_once_in_time_order_with_the_documented_latency() -> None:
    s = Stream()
    rows = samples(100)
    for k, (row, t) in enumerate(zip(rows, 1000 + 100 * np.arange(100))):
        s.feed(row[None], [t])
        # the label of a step is final lookahead + lag = 2 + 5 steps later (the bin closes one later)
        assert len(s.labelled) == max(0, k - 7)
    assert s.tracker.latency_ms == 700
    s.finish()
    assert s.labelled == list(1000 + 100 * np.arange(100))
    assert isinstance(s.events[-1], SessionEnded)


def test_nan_samples_are_dropped_logged_and_filled(caplog: pytest.LogCaptureFixture) -> None:
    rows = samples(250)
    rows[30:34, 4] = np.nan                     # 0.4 s of samples without yAcceleration
    rows[50, :] = np.nan
    rows[200, :] = np.nan                       # 7 s after the last line: counted, not told
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        s = Stream().feed(rows, 100 * np.arange(250)).finish()
    assert [r.getMessage() for r in caplog.records] == [
        "imu stream: sample at 3000 ms has no value for yAcceleration; dropped",
        "imu stream: dropped 4 sample(s) (no value) since 3000 ms",          # at 13000 ms: 10 s later
        "imu stream: dropped 1 sample(s) (no value) since 13000 ms"]         # when the stream ends
    assert s.labelled == list(100 * np.arange(250))    # the dropped steps are interpolated
    assert not any(isinstance(e, PersonLost) for e in s.events)


def test_repeated_and_late_samples(caplog: pytest.LogCaptureFixture) -> None:
    rows = samples(160)
    times = list(100 * np.arange(160))
    order = list(range(160))
    order[40], order[41] = 41, 40               # samples 40 and 41 swapped: 40 comes too late
    order[140], order[141] = 141, 140
    order.insert(21, 20)                        # sample 20 sent twice
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        s = Stream()
        s.feed(rows[order], [times[i] for i in order])
        s.feed(rows[:1], [10040])               # 5.9 s late (a redelivered message): dropped
        s.feed(rows[1:2] + 1, [15940])          # 40 ms before the last sample, in its open step: used
        s.finish()
    assert [r.getMessage() for r in caplog.records] == [
        "imu stream: sample at 2000 ms repeats the timestamp of the one before; dropped",
        "imu stream: dropped 1 sample(s) (out of order) since 2000 ms",           # at 12000 ms: 10 s later
        "imu stream: dropped 1 sample(s) (out of order), 1 sample(s) (far in the past) since 12000 ms"]
    assert s.labelled == times and not any(isinstance(e, PersonLost) for e in s.events)


def test_a_long_silence_ends_the_run_and_counting_resumes(caplog: pytest.LogCaptureFixture) -> None:
    times = np.concatenate([100 * np.arange(50), 8000 + 100 * np.arange(50)])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        s = Stream().feed(samples(100), times).finish()
    assert [r.getMessage() for r in caplog.records] == [
        "imu stream: no valid sample for 3.1 s (4900 -> 8000 ms); the rep in progress is completed and "
        "counting starts afresh"]
    (lost,) = [e for e in s.events if isinstance(e, PersonLost)]
    assert lost.last_seen_ms == 4900 and lost.timestamp_ms == 8000
    assert s.labelled == list(times)            # both runs labelled whole, the second from its own start


def test_a_restarted_sensor_clock_ends_the_run_and_counting_resumes(caplog: pytest.LogCaptureFixture) -> None:
    times = np.concatenate([3_600_000 + 100 * np.arange(50), 100 * np.arange(50)])
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        s = Stream().feed(samples(100), times).finish()
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "imu stream: sample at 0 ms is 3604.9 s older than the last one; dropped",
        "imu stream: the sensor clock went back 3604.5 s (3604900 -> 400 ms), a restarted sensor; the rep "
        "in progress is completed and counting starts afresh"]
    (lost,) = [e for e in s.events if isinstance(e, PersonLost)]
    assert lost.last_seen_ms == 3_604_900 and lost.timestamp_ms == 400
    # the first CLOCK_RESTART_SAMPLES - 1 samples on the new clock are lost, the rest counted
    assert s.labelled == list(times[:50]) + list(times[54:])
