"""Table tests of the cue policy: sequences of observed problems -> the cues said, and when."""

from __future__ import annotations

import numpy as np
import pytest

from repsense.engine.coaching import (CLEAR_S, COOLDOWN_S, MIN_GAP_S, NOT_FOUND_S, PENDING_S, REPEAT_S,
                               CameraCheck, CueScheduler, Observation)
from repsense.engine.exercises import get_spec
from repsense.pose import Landmark as L
from repsense.pose import missing_pose

S = 1000  # ms


def run(seen: list[tuple[int, str, str]], until_ms: int, step_ms: int = 100) -> list[tuple[int, str]]:
    """Feed observations (t_ms, code, severity) in time order, poll every ``step_ms``; return
    the cues said as (t_ms, code)."""
    sched = CueScheduler()
    said = []
    todo = sorted(seen)
    for t in range(0, until_ms + 1, step_ms):
        while todo and todo[0][0] <= t:
            t_obs, code, severity = todo.pop(0)
            sched.observe(Observation(code, code, severity, t_obs))
        said += [(t, o.code) for o in sched.poll(t)]
    return said


def every(code: str, start_s: float, end_s: float, severity: str = "warning",
          step_s: float = 0.5) -> list[tuple[int, str, str]]:
    return [(int(t * S), code, severity) for t in np.arange(start_s, end_s, step_s)]


CASES = {
    "said at once, not repeated while it persists": (
        every("a", 1, 20), 20 * S, [(1 * S, "a")]),
    "a fault that never clears is recalled after REPEAT_S": (
        every("a", 1, 1 + REPEAT_S + 2), int((3 + REPEAT_S) * S),
        [(1 * S, "a"), (int((1 + REPEAT_S) * S), "a")]),
    "back after clearing but within the cooldown: silent": (
        every("a", 1, 2) + every("a", 2 + CLEAR_S + 0.5, 2 + CLEAR_S + 1.5),
        int((4 + CLEAR_S) * S), [(1 * S, "a")]),
    "back after clearing and after the cooldown: said again": (
        every("a", 1, 2) + every("a", 1 + COOLDOWN_S + 1, 1 + COOLDOWN_S + 2),
        int((4 + COOLDOWN_S) * S), [(1 * S, "a"), (int((2 + COOLDOWN_S) * S), "a")]),
    "most severe first, the other after the gap": (   # (the info one is observed first)
        [(1 * S, "a_minor", "info"), (1 * S, "b_major", "critical")], 10 * S,
        [(1 * S, "b_major"), (int((1 + MIN_GAP_S) * S), "a_minor")]),
    "a one-off fault that waited too long is dropped": (
        [(1 * S, "x", "critical"), (int(1.1 * S), "y", "warning"), (int(1.2 * S), "z", "info"),
         (int(1.3 * S), "w", "info")],
        int((2 + PENDING_S) * S + 3 * MIN_GAP_S * S),
        [(1 * S, "x"), (int((1 + MIN_GAP_S) * S), "y"), (int((1 + 2 * MIN_GAP_S) * S), "z")]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_cue_policy(name):
    seen, until, expected = CASES[name]
    assert run(seen, until) == expected


def test_camera_cues_are_said_once_until_they_clear():
    sched = CueScheduler()
    cam = CameraCheck()
    spec = get_spec("squat")
    said = []
    for t in range(0, 60 * S, 100):     # nobody in view for a minute
        for obs in cam.update(missing_pose(), t, spec, None):
            sched.observe(obs)
        said += [(t, o.code) for o in sched.poll(t)]
    assert said == [(int(NOT_FOUND_S * S), "not_found")]


def _pose(view: str, hide_ankles: bool = False) -> np.ndarray:
    """A standing pose seen from the side (shoulders overlap) or the front."""
    pose = np.zeros((33, 4), np.float32)
    pose[:, 3] = 1.0
    half = 0.0 if view == "side" else 0.08
    for (left, right), y in (((L.LEFT_SHOULDER, L.RIGHT_SHOULDER), 0.3),
                             ((L.LEFT_HIP, L.RIGHT_HIP), 0.55),
                             ((L.LEFT_KNEE, L.RIGHT_KNEE), 0.72),
                             ((L.LEFT_ANKLE, L.RIGHT_ANKLE), 0.9),
                             ((L.LEFT_ELBOW, L.RIGHT_ELBOW), 0.42),
                             ((L.LEFT_WRIST, L.RIGHT_WRIST), 0.52)):
        pose[left, :2] = (0.5 - half, y)
        pose[right, :2] = (0.5 + half, y)
    pose[L.NOSE, :2] = (0.5, 0.22)
    if hide_ankles:
        pose[[L.LEFT_ANKLE, L.RIGHT_ANKLE]] = np.nan
    return pose


@pytest.mark.parametrize("exercise, view, hide_ankles, expected", [
    ("push_up", "front", False, ["turn_side"]),     # push-ups are judged side-on
    ("push_up", "side", False, []),
    ("squat", "front", True, ["step_back"]),        # squat needs the ankles in view
    ("squat", "front", False, []),
])
def test_camera_checks(exercise, view, hide_ankles, expected):
    cam = CameraCheck()
    spec = get_spec(exercise)
    codes = []
    for t in range(0, 5 * S, 100):
        pose = _pose(view, hide_ankles)
        codes += [o.code for o in cam.update(pose, t, spec, view)]
    assert sorted(set(codes)) == expected


def test_a_fault_held_through_a_long_plank_is_recalled_not_repeated():
    """Hips low for 40 s of a side-view plank: said when it starts, recalled once after REPEAT_S."""
    from repsense.engine.events import FormWarning
    from repsense.engine.tracker import Tracker

    pose = np.full((33, 4), np.nan, np.float32)
    for lm, (x, y) in {L.LEFT_SHOULDER: (0.3, 0.5), L.RIGHT_SHOULDER: (0.3, 0.5),
                       L.LEFT_HIP: (0.5, 0.53), L.RIGHT_HIP: (0.5, 0.53),   # hips sagging
                       L.LEFT_KNEE: (0.65, 0.53), L.RIGHT_KNEE: (0.65, 0.53),
                       L.LEFT_ANKLE: (0.8, 0.5), L.RIGHT_ANKLE: (0.8, 0.5),
                       L.LEFT_ELBOW: (0.3, 0.62), L.RIGHT_ELBOW: (0.3, 0.62),
                       L.LEFT_WRIST: (0.2, 0.62), L.RIGHT_WRIST: (0.2, 0.62),
                       L.NOSE: (0.25, 0.48)}.items():
        pose[lm] = (x, y, 0.0, 1.0)
    tracker = Tracker("plank", aspect=1.0)
    cues = [e for k in range(0, 40 * 15) for e in tracker.update(pose, k * 67)
            if isinstance(e, FormWarning)]
    assert [c.code for c in cues] == ["hips_low", "hips_low"]
    assert (cues[1].timestamp_ms - cues[0].timestamp_ms) == pytest.approx(REPEAT_S * S, abs=200)
