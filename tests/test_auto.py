"""Auto mode's rules for taking what the recogniser says (engine/tracker.py, AUTO_EVIDENCE_MS):
a change is taken only once the recogniser has said it for AUTO_EVIDENCE_MS, so a moment of doubt
never splits a set, a first rep is never given to an exercise the recogniser named for a moment,
and a rep goes to one exercise only. Driven by a scripted recogniser over a real recording
(repsense/samples/squats.npz: 5 squats filmed from the front, a camera's poses).
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from repsense.engine.events import ExerciseDetected, RepCompleted
from repsense.engine.tracker import AUTO_EVIDENCE_MS, Tracker
from repsense.pose import PoseRecording
from repsense.sinks.report import segments_from_events

SAMPLE = PoseRecording.load(pathlib.Path(__file__).resolve().parents[1] / "repsense" / "samples"
                            / "squats.npz")


class Script:
    """A recogniser that changes its mind at given times: [(ms, exercise, confidence)]."""

    def __init__(self, changes: list[tuple[int, str, float]]) -> None:
        self.changes = list(changes)
        self.current = ("idle", 0.0)

    def update(self, pose: np.ndarray, t: int) -> ExerciseDetected | None:
        if self.changes and t >= self.changes[0][0]:
            _, name, conf = self.changes.pop(0)
            self.current = (name, conf)
            return ExerciseDetected(t, name, conf)
        return None


def run(script: list[tuple[int, str, float]]) -> list:
    tracker = Tracker("auto", aspect=SAMPLE.aspect, recognizer=Script(script))
    events = []
    for pose, t in zip(SAMPLE.landmarks, SAMPLE.timestamp_ms):
        events += tracker.update(pose, int(t))
    return events + tracker.finish()


def detected(events: list) -> list[str]:
    return [e.exercise for e in events if isinstance(e, ExerciseDetected)]


def reps(events: list) -> list[RepCompleted]:
    return [e for e in events if isinstance(e, RepCompleted)]


def test_the_sample_is_five_squats() -> None:
    events = run([(1500, "squat", 0.95)])
    assert detected(events) == ["squat"] and len(reps(events)) == 5


def test_a_moment_of_doubt_does_not_split_the_set() -> None:
    # unsure for 1.2 s in the middle of the set (the live jumping-jack split of issue 20)
    events = run([(1500, "squat", 0.95), (7000, "unknown", 0.3), (8200, "squat", 0.9)])
    assert detected(events) == ["squat"]
    got = reps(events)
    assert len(got) == 5 and {r.exercise for r in got} == {"squat"}
    assert [(s.name, s.reps) for s in segments_from_events(events)] == [("squat", 5)]


def test_a_first_rep_is_not_given_to_an_exercise_named_for_a_moment() -> None:
    # the recogniser says pull-up first, then squat for the rest (the first-rep pull-up of issue 20)
    events = run([(1500, "pull_up", 0.8), (2600, "squat", 0.95)])
    assert detected(events) == ["squat"]
    assert len(reps(events)) == 5 and {r.exercise for r in reps(events)} == {"squat"}


def test_a_change_that_holds_is_taken_and_no_rep_is_counted_twice() -> None:
    # squats, then from 9 s on the recogniser is sure of something it cannot count with a
    # description: the change is taken AUTO_EVIDENCE_MS later, the reps around it go to one
    # exercise each
    events = run([(1500, "squat", 0.95), (9000, "unknown", 0.3)])
    assert detected(events) == ["squat", "unknown"]
    taken = next(e for e in events if isinstance(e, ExerciseDetected) and e.exercise == "unknown")
    assert taken.timestamp_ms >= 9000 + AUTO_EVIDENCE_MS
    got = sorted(reps(events), key=lambda r: r.start_ms)
    assert 4 <= len(got) <= 5
    assert all(a.end_ms <= b.start_ms for a, b in zip(got, got[1:]))   # no rep twice


def test_a_short_clip_is_counted_under_what_the_recogniser_said_last() -> None:
    # the recogniser names the exercise too late for the evidence to build up before the end
    end = int(SAMPLE.timestamp_ms[-1])
    events = run([(end - AUTO_EVIDENCE_MS // 2, "squat", 0.95)])
    assert detected(events) == ["squat"]
    # the reps of the poses kept for replay (REPLAY_MS + AUTO_EVIDENCE_MS), in the session total
    assert len(reps(events)) == 2 and events[-1].total_reps == 2


# --- real recordings: the dev clips (slow: conftest.dev_runs runs the pose model over them once) --

# The plank's front view is read as handstand push-ups for longer than AUTO_EVIDENCE_MS
# (a recognition miss, docs/recognition.md): its report has a handstand segment inside the plank.
SPLIT_BY_RECOGNITION = {"MrPose_plank.mp4"}


@pytest.mark.slow
def test_every_dev_clip_is_reported_as_one_exercise(dev_runs) -> None:  # type: ignore[no-untyped-def]
    """Each dev clip is one set of one exercise: its auto report counts reps under one name
    (before the evidence rule MrPose_squat was "squat 2 / squat 7" across a moment of doubt at a
    camera cut, MrPose_pushup "handstand push-up 2 / push-up 7", AI-Gym-Tracker_bicep
    "biceps curl 1 / generic 2 / biceps curl 1", PushUp-Counter_pushup "push-up 9 / generic 1 /
    push-up 3"), and those clips are now counted within one."""
    from repsense.session import analyze_recording

    for name, (clip, _, saved) in dev_runs.items():
        if name in SPLIT_BY_RECOGNITION or clip.span_only:
            continue
        report = analyze_recording(PoseRecording.load(saved), "auto").report
        counted = [(e.name, e.reps) for e in report.exercises if e.reps]
        assert len(counted) <= 1, (name, counted)
        if name in ("MrPose_squat.mp4", "MrPose_pushup.mp4", "AI-Gym-Tracker_bicep.mp4",
                    "PushUp-Counter_pushup.mp4"):
            assert counted[0][0] == clip.exercise and abs(counted[0][1] - clip.count) <= 1, counted
