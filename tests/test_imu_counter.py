"""Table tests for the IMU rep counter: step-class sequences -> expected events."""

from __future__ import annotations

import math

import numpy as np
import pytest

from repsense.engine.events import ExerciseDetected, RepCompleted, SetCompleted
from repsense.imu.counter import CounterConfig, RepCounter
from repsense.imu.features import CLASSES

B, SQ1, SQ2, SU1, SU2, BU1, BU2 = (CLASSES.index(c) for c in (
    "break", "squat:first", "squat:second", "sit_up:first", "sit_up:second", "burpee:first", "burpee:second"))


def steps(*runs: tuple[int, int]) -> list[int]:
    """(class, n_steps) runs -> one class per 100 ms step."""
    return [c for c, n in runs for _ in range(n)]


def reps(first: int, second: int, n: int, pause: int = 8, a: int = 12, b: int = 12) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for _ in range(n):
        out += [(first, a), (second, b), (B, pause)]
    return out


def run(classes: list[int], confidence: float = 0.9, cfg: CounterConfig | None = None) -> list:
    """Each step gives its class ``confidence`` and the rest to break (break steps: 0.9 break)."""
    counter = RepCounter(cfg)
    events = []
    for i, c in enumerate(classes):
        p = np.zeros(len(CLASSES))
        if c == B:
            p[:] = 0.1 / (len(CLASSES) - 1)
            p[B] = 0.9
        else:
            p[c], p[B] = confidence, 1 - confidence
        events += counter.update(p, i * 100)
    return events + counter.flush(len(classes) * 100)


@pytest.mark.parametrize("classes, expected", [
    (steps((B, 50)), []),
    (steps((B, 20), *reps(SQ1, SQ2, 5), (B, 20)), [("squat", 5)]),
    (steps((B, 20), *reps(SU1, SU2, 3, pause=0), (B, 20)), [("sit_up", 3)]),  # no pause between reps
    (steps((B, 20), *reps(BU1, BU2, 4), (B, 300), *reps(SQ1, SQ2, 6)), [("burpee", 4), ("squat", 6)]),
    # two sets of the same exercise, 20 s apart, are two sets
    (steps(*reps(SQ1, SQ2, 3), (B, 200), *reps(SQ1, SQ2, 2)), [("squat", 3), ("squat", 2)]),
    # one-step flickers into a first half are not reps (hysteresis + minimum duration)
    (steps((B, 10), (SQ1, 1), (B, 10), (SQ1, 2), (B, 10)), []),
    # a first half without a second half is not a rep
    (steps((B, 10), (SQ1, 15), (B, 30)), []),
    # the last rep is completed at the end of the stream
    (steps((B, 10), *reps(SQ1, SQ2, 2), (SQ1, 10), (SQ2, 10)), [("squat", 3)]),
])
def test_sets_from_step_classes(classes: list[int], expected: list[tuple[str, int]]) -> None:
    events = run(classes)
    sets = [(e.exercise, e.reps) for e in events if isinstance(e, SetCompleted)]
    assert sets == expected
    rep_events = [e for e in events if isinstance(e, RepCompleted)]
    assert len(rep_events) == sum(n for _, n in expected)
    detected = [e.exercise for e in events if isinstance(e, ExerciseDetected)]
    assert detected == [name for name, _ in expected]


def test_rep_timing_and_phases() -> None:
    events = run(steps((B, 10), (SQ1, 14), (SQ2, 16), (B, 10)))
    (rep,) = [e for e in events if isinstance(e, RepCompleted)]
    assert rep.start_ms == 1000 and rep.bottom_ms == 2400
    assert rep.end_ms == 3900 and rep.timestamp_ms == rep.end_ms
    # squat: the first half goes down (eccentric), the second comes up (concentric)
    assert rep.eccentric_s == pytest.approx(1.4) and rep.concentric_s == pytest.approx(1.5)
    assert math.isnan(rep.rom_deg) and rep.count == 1
    (rep,) = [e for e in run(steps((B, 10), (SU1, 14), (SU2, 16), (B, 10))) if isinstance(e, RepCompleted)]
    assert rep.concentric_s == pytest.approx(1.4)  # a sit-up curls up first


@pytest.mark.parametrize("p_first, expected", [(0.35, 0), (0.45, 3)])
def test_first_half_must_reach_enter_prob(p_first: float, expected: int) -> None:
    """enter_prob 0.4: a first half at 0.35 is never entered, 0.45 is (second halves are clear)."""
    counter = RepCounter(CounterConfig(enter_prob=0.4, exit_prob=0.25))
    events = []
    for i, c in enumerate(steps(*reps(SQ1, SQ2, 3))):
        p = np.zeros(len(CLASSES))
        p[c] = p_first if c == SQ1 else 0.9
        p[B] += 1 - p.sum()
        events += counter.update(p, i * 100)
    events += counter.flush(10**6)
    assert len([e for e in events if isinstance(e, RepCompleted)]) == expected


def test_counts_number_reps_within_a_set() -> None:
    events = run(steps(*reps(SQ1, SQ2, 3), (B, 200), *reps(SU1, SU2, 2)))
    counts = [(e.exercise, e.count) for e in events if isinstance(e, RepCompleted)]
    assert counts == [("squat", 1), ("squat", 2), ("squat", 3), ("sit_up", 1), ("sit_up", 2)]
