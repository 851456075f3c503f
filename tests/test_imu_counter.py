"""Table tests for the IMU rep counter: decoded step-class sequences -> expected events."""

from __future__ import annotations

import math

import numpy as np
import pytest

from repsense.engine.events import ExerciseDetected, RepCompleted, SetCompleted
from repsense.imu.counter import RepCounter, count_labels
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


def one_hot(classes: list[int], p: float = 0.9) -> np.ndarray:
    out = np.full((len(classes), len(CLASSES)), (1 - p) / (len(CLASSES) - 1))
    out[np.arange(len(classes)), classes] = p
    return out


def run(classes: list[int]) -> list:
    return count_labels(np.array(classes), one_hot(classes), 100 * np.arange(len(classes)))


@pytest.mark.parametrize("classes, expected", [
    (steps((B, 50)), []),
    (steps((B, 20), *reps(SQ1, SQ2, 5), (B, 20)), [("squat", 5)]),
    (steps((B, 20), *reps(SU1, SU2, 3, pause=0), (B, 20)), [("sit_up", 3)]),  # no pause between reps
    (steps((B, 20), *reps(BU1, BU2, 4), (B, 300), *reps(SQ1, SQ2, 6)), [("burpee", 4), ("squat", 6)]),
    # a change of exercise without a pause closes the set
    (steps(*reps(SQ1, SQ2, 2, pause=0), *reps(SU1, SU2, 2)), [("squat", 2), ("sit_up", 2)]),
    # two sets of the same exercise, 20 s apart, are two sets; 7 s apart, one
    (steps(*reps(SQ1, SQ2, 3), (B, 200), *reps(SQ1, SQ2, 2)), [("squat", 3), ("squat", 2)]),
    (steps(*reps(SQ1, SQ2, 3), (B, 62), *reps(SQ1, SQ2, 2)), [("squat", 5)]),
    # a first half without its second half is not a rep, nor a second half without a first
    (steps((B, 10), (SQ1, 15), (B, 30)), []),
    (steps((B, 10), (SQ2, 15), (B, 30)), []),
    (steps((B, 10), (SQ1, 12), (SU2, 12), (B, 30)), []),
    # a stream that ends inside a rep's second half completes that rep
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


def test_a_rep_is_reported_on_the_step_after_it() -> None:
    counter = RepCounter()
    classes = steps((B, 3), (SQ1, 5), (SQ2, 5), (B, 3))
    when = [i for i, c in enumerate(classes)
            if any(isinstance(e, RepCompleted) for e in counter.update(c, one_hot([c])[0], 100 * i))]
    assert when == [13]


def test_confidence_is_the_exercise_share_of_the_probability() -> None:
    classes = steps((B, 5), (SQ1, 10), (SQ2, 10), (B, 5))
    probs = np.zeros((len(classes), len(CLASSES)))
    probs[:, B] = 0.2
    probs[:, SQ1] = probs[:, SQ2] = 0.3
    probs[:, SU1] = 0.2                  # squat 0.6 against sit-up 0.2 on every rep step
    events = count_labels(np.array(classes), probs, 100 * np.arange(len(classes)))
    (det,) = [e for e in events if isinstance(e, ExerciseDetected)]
    assert det.exercise == "squat" and det.confidence == pytest.approx(0.75)


def test_counts_number_reps_within_a_set() -> None:
    events = run(steps(*reps(SQ1, SQ2, 3), (B, 200), *reps(SU1, SU2, 2)))
    counts = [(e.exercise, e.count) for e in events if isinstance(e, RepCompleted)]
    assert counts == [("squat", 1), ("squat", 2), ("squat", 3), ("sit_up", 1), ("sit_up", 2)]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="step class"):
        RepCounter().update(7, np.zeros(len(CLASSES)), 0)
    with pytest.raises(ValueError, match="must match"):
        count_labels(np.zeros(3, int), np.zeros((2, len(CLASSES))), np.arange(3))
