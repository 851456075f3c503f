"""Counting whatever repeats: box-normalised poses, the auto mode's fall-back to the generic
counter, posture-gate notes, and the RepCount-A dev-half figures (docs/benchmarks.md).

The accuracy thresholds sit just under what the engine measures today, so a change that makes
counting worse fails here.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from bench.count_accuracy import REPCOUNT, repcount_recording, repcount_score, repcount_videos
from repsense.engine.events import ExerciseDetected, RepCompleted
from repsense.engine.signals import box_normalised
from repsense.engine.tracker import AUTO_SURE, Tracker
from repsense.pose import PoseRecording
from repsense.session import Session

SAMPLE = PoseRecording.load(pathlib.Path(__file__).resolve().parents[1] / "repsense" / "samples"
                            / "squats.npz")   # 5 squats filmed from the front, a camera's poses
needs_data = pytest.mark.skipif(not (REPCOUNT / "labels.csv").is_file(),
                                reason=f"real data not available at {REPCOUNT}")


class SaysAt:
    """A recogniser that announces one exercise at a given time (the tracker's interface)."""

    def __init__(self, at_ms: int, exercise: str, confidence: float) -> None:
        self.event = ExerciseDetected(at_ms, exercise, confidence)
        self.done = False

    def update(self, pose: np.ndarray, t: int) -> ExerciseDetected | None:
        if self.done or t < self.event.timestamp_ms:
            return None
        self.done = True
        return ExerciseDetected(t, self.event.exercise, self.event.confidence)


def run(tracker: Tracker, rec: PoseRecording) -> list:
    events = []
    for pose, t in zip(rec.landmarks, rec.timestamp_ms):
        events += tracker.update(pose, int(t))
    return events + tracker.finish()


def reps(events: list) -> list[RepCompleted]:
    return [e for e in events if isinstance(e, RepCompleted)]


# The sample keeps only the body's joints: face, hands and feet take their nearest body joint's
# place, so that (as in RepCount-A's poses) all 33 landmarks are there.
NEAREST = {**{j: 0 for j in range(1, 11)}, 13: 11, 15: 11, 14: 12, 16: 12, 17: 15, 19: 15,
           21: 15, 18: 16, 20: 16, 22: 16, 29: 27, 31: 27, 30: 28, 32: 28}   # in this order


def boxed(rec: PoseRecording) -> PoseRecording:
    """The recording min-max normalised per frame and axis, as RepCount-A publishes its poses."""
    lm = rec.landmarks.copy()
    for j, near in NEAREST.items():
        lm[:, j] = np.where(np.isnan(lm[:, j]), lm[:, near], lm[:, j])
    xy = lm[:, :, :2]
    lo, hi = np.nanmin(xy, axis=1, keepdims=True), np.nanmax(xy, axis=1, keepdims=True)
    lm[:, :, :2] = (xy - lo) / (hi - lo)
    lm[:, :, 3] = 1.0
    return PoseRecording(lm, rec.timestamp_ms)


def test_box_normalised_poses_are_told_from_camera_poses():
    seen = [p for p in boxed(SAMPLE).landmarks if not np.isnan(p[:, :2]).any()]
    assert len(seen) > 400 and all(box_normalised(p) for p in seen)
    camera = SAMPLE.landmarks.copy()
    for j, near in NEAREST.items():
        camera[:, j] = np.where(np.isnan(camera[:, j]), camera[:, near], camera[:, j])
    assert not any(box_normalised(p) for p in camera)
    tracker = Tracker("generic")
    run(tracker, boxed(SAMPLE))
    assert tracker.boxed


def test_generic_counter_counts_box_normalised_squats():
    assert len(reps(run(Tracker("generic"), boxed(SAMPLE)))) == 5
    assert len(reps(run(Tracker("generic", aspect=SAMPLE.aspect), SAMPLE))) == 5


def test_a_blocking_posture_gate_is_reported_with_its_condition_and_share():
    # Squats are upright: the push-up gate (body leaning 35 deg or more) blocks every frame.
    session = Session("push_up", aspect=SAMPLE.aspect)
    session.run(zip(SAMPLE.landmarks, SAMPLE.timestamp_ms))
    session.finish()
    report = session.report()
    assert report.total_reps == 0
    assert len(report.notes) == 1
    note = report.notes[0]
    assert note.startswith("push_up: body not horizontal in ") and "% of frames" in note
    assert "try --exercise generic" in note


def test_auto_hands_a_set_the_description_cannot_count_to_the_generic_counter():
    # Recognised (surely) as push-ups, but the person squats upright: the push-up gate blocks,
    # the generic counter sees the 5 reps, and takes the segment over, under the name given.
    tracker = Tracker("auto", aspect=SAMPLE.aspect, recognizer=SaysAt(1500, "push_up", 0.95))
    got = reps(run(tracker, SAMPLE))
    assert 4 <= len(got) <= 5 and {r.exercise for r in got} == {"push_up"}
    assert [h[0] for h in tracker.handovers] == ["push_up"]
    assert any("counted by the generic counter" in n for n in tracker.notes())


def test_auto_counts_an_unsure_recognition_with_the_generic_counter():
    tracker = Tracker("auto", aspect=SAMPLE.aspect,
                      recognizer=SaysAt(1500, "squat", AUTO_SURE - 0.1))
    got = reps(run(tracker, SAMPLE))
    assert len(got) == 5 and {r.exercise for r in got} == {"squat"}
    # the generic counter counts; the reps, the trace and the screens carry the segment's name
    assert tracker.exercise == "squat" and tracker.counter.spec.name == "generic"


def test_auto_counts_a_sure_recognition_with_its_description():
    tracker = Tracker("auto", aspect=SAMPLE.aspect, recognizer=SaysAt(1500, "squat", 0.95))
    got = reps(run(tracker, SAMPLE))
    assert len(got) == 5 and tracker.exercise == "squat" and not tracker.handovers


def test_auto_counts_box_normalised_poses_with_the_generic_counter_even_when_sure():
    # A box-normalised pose has no true angle or height for the squat description to read.
    tracker = Tracker("auto", recognizer=SaysAt(1500, "squat", 0.95))
    got = reps(run(tracker, boxed(SAMPLE)))
    assert len(got) == 5 and {r.exercise for r in got} == {"squat"}
    assert tracker.boxed and tracker.counter.spec.name == "generic"


# --- RepCount-A dev half (82 videos): figures of docs/benchmarks.md --------------------------

def _figures(mode: str) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    videos = repcount_videos()
    rows: dict[str, list[tuple[int, float]]] = {}
    for v in videos:
        rec = repcount_recording(v)
        session = Session(mode, aspect=rec.aspect)
        session.run(zip(rec.landmarks, rec.timestamp_ms))
        session.finish()
        rows.setdefault(v.cls, []).append((v.count, float(session.report().total_reps)))
    overall = repcount_score([r for rs in rows.values() for r in rs])
    return overall, {cls: repcount_score(rs) for cls, rs in rows.items()}


@needs_data
@pytest.mark.slow
def test_repcount_generic_counter():
    overall, per_class = _figures("generic")
    assert overall["n"] == 82
    assert overall["nmae"] <= GENERIC_MAX_NMAE, overall
    assert overall["obo"] >= GENERIC_MIN_OBO, overall


@needs_data
@pytest.mark.slow
def test_repcount_auto():
    overall, per_class = _figures("auto")
    assert overall["n"] == 82
    assert overall["nmae"] <= AUTO_MAX_NMAE, overall
    assert overall["obo"] >= AUTO_MIN_OBO, overall
    assert sum(s["obo"] == 0 for s in per_class.values()) <= AUTO_CLASSES_AT_OBO_0, per_class


# Just under the measured figures (docs/benchmarks.md, "Rep counting on RepCount-A").
# Measured: generic 0.332 / 0.561, auto 0.337 / 0.561 (nMAE / off-by-one; 0.561 is 46 of 82).
GENERIC_MAX_NMAE, GENERIC_MIN_OBO = 0.34, 0.55
AUTO_MAX_NMAE, AUTO_MIN_OBO = 0.345, 0.55
AUTO_CLASSES_AT_OBO_0 = 1   # "others": one video, 10 true, 7 counted


def test_the_trace_shows_the_generic_signal_the_first_reps_were_counted_on():
    # The generic signal is known once its window holds 1.5 s, then for the whole window at once;
    # the trace (and so the plot) gets those values too, not a gap under the first reps.
    tracker = Tracker("generic", aspect=SAMPLE.aspect, keep_trace=True)
    got = reps(run(tracker, SAMPLE))
    first = got[0]
    under = [s.values[0] for s in tracker.trace if first.start_ms <= s.timestamp_ms <= first.end_ms]
    assert under and not np.isnan(under).any()
    assert max(under) - min(under) >= 0.25   # the rep's depth (GENERIC_SPEC min_rom), on the plot
