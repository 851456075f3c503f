"""Counting on the real labelled dev clips, through the real pose model and the real CLI.

Thresholds sit just under what the counter measures today (docs/benchmarks.md), so a counter
that gets worse fails here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.count_accuracy import score
from repsense.cli import main

pytestmark = pytest.mark.slow

# Clips off by more than one with the exercise given, each with its reason (docs/benchmarks.md).
# The test fails when one of them starts passing, so the list stays true. None today: the far
# arm of aiTrainer_curls1 (hidden behind the body) and the feet of FormFit_squat2 (below the
# frame) are read from the joints the model still places (tracker.LOOSE_VISIBILITY).
KNOWN_MISSES: dict[str, str] = {}


def predicted(report: dict, hold: bool) -> float:
    if hold:
        return sum(e.get("hold_s") or 0.0 for e in report["exercises"])
    return float(report["total_reps"])


def test_accuracy_over_all_dev_clips(dev_runs):
    rows = [(clip, predicted(report, clip.hold)) for clip, report, _ in dev_runs.values()]
    s = score(rows)
    assert s["clips"] == 71
    assert s["off_by_one"] >= 0.98, s
    assert s["nmae"] <= 0.05, s
    assert s["exact"] >= 0.85, s


@pytest.mark.parametrize("clip_set, min_off_by_one, min_exact, max_nmae", [
    ("old", 1.0, 0.95, 0.01),      # the 18 dev clips of issue 13
    ("new", 0.95, 0.80, 0.04),     # the 20 clips of issue 20 (variants, views, places)
    ("ucfrep", 0.97, 0.80, 0.08),
])
def test_accuracy_per_clip_set(dev_runs, clip_set, min_off_by_one, min_exact, max_nmae):
    rows = [(c, predicted(r, c.hold)) for c, r, _ in dev_runs.values() if c.set == clip_set]
    s = score(rows)
    assert s["off_by_one"] >= min_off_by_one and s["exact"] >= min_exact, s
    assert s["nmae"] <= max_nmae, s


@pytest.mark.parametrize("exercise, min_off_by_one, max_nmae", [
    ("squat", 1.0, 0.02),
    ("jumping_jack", 1.0, 0.05),
    ("handstand_push_up", 0.9, 0.20),
    ("push_up", 1.0, 0.02),
    ("biceps_curl", 1.0, 0.02),
    ("lunge", 1.0, 0.05),
    ("deadlift", 1.0, 0.02),
    ("bench_press", 1.0, 0.02),     # filmed from its foot end: the tilt check is evidence
])
def test_accuracy_per_exercise(dev_runs, exercise, min_off_by_one, max_nmae):
    rows = [(c, predicted(r, c.hold)) for c, r, _ in dev_runs.values() if c.exercise == exercise]
    s = score(rows)
    assert s["off_by_one"] >= min_off_by_one and s["nmae"] <= max_nmae, s


def test_each_clip_within_one(dev_runs):
    wrong = {}
    for name, (clip, report, _) in dev_runs.items():
        pred = predicted(report, clip.hold)
        tolerance = 0.1 * clip.count if clip.hold else 1.0
        if abs(pred - clip.count) > tolerance:
            wrong[name] = (clip.count, pred)
    assert set(wrong) == set(KNOWN_MISSES), wrong


def test_plank_hold_time(dev_runs):
    clip, report, _ = dev_runs["MrPose_plank.mp4"]
    (plank,) = report["exercises"]
    assert plank["name"] == "plank" and plank["reps"] == 0
    assert plank["hold_s"] == pytest.approx(clip.count, rel=0.05)
    # the clock starts when the plank does (lying prone and the knee plank before it do not count)
    assert plank["start_s"] == pytest.approx(clip.start_s, abs=1.0)


def test_replay_gives_the_same_counts_as_the_video(dev_runs, tmp_path, capsys):
    for name, (clip, report, saved) in dev_runs.items():
        assert main(["analyze", str(saved), "--exercise", clip.counted_as, "--json", "-"]) == 0
        replay = json.loads(capsys.readouterr().out)["inputs"][0]
        assert replay["exercises"] == report["exercises"], name


def test_replay_does_not_load_the_pose_model(dev_runs):
    clip, _, saved = dev_runs["MrPose_squat.mp4"]
    code = (
        "import sys; from repsense.cli import main; "
        f"rc = main(['analyze', {str(saved)!r}, '--exercise', 'squat']); "
        "assert 'mediapipe' not in sys.modules, 'the pose model was loaded'; sys.exit(rc)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr
    assert "squat: 9 reps" in done.stdout


# Parts of the dev clips where nobody exercises: set-up, walking, lying down, title cards.
IDLE_PARTS = [
    ("test_video_squat.mp4", "squat", 9.4, None),              # walks toward the camera, out
    ("test_video_squat.mp4", "squat", 0.0, 1.6),               # stands still
    ("PushUp-Counter_pushup4.mp4", "push_up", 0.0, 2.7),       # kneels, walks into the plank
    ("PushUp-Counter_pushup4.mp4", "push_up", 18.4, None),     # drops to the knees
    ("MrPose_plank.mp4", "push_up", 0.0, 12.6),                # lies prone, knee plank
    ("MrPose_plank.mp4", "plank", 0.0, 12.6),
    ("MrPose_squat2.mp4", "squat", 0.0, 6.5),                  # logo, stands still
    ("MrPose_jacks.mp4", "jumping_jack", 22.5, None),          # fade out, disclaimer, logo
    ("aiTrainer_squats.mp4", "squat", 12.0, None),             # stands after the last rep
]


@pytest.mark.parametrize("name, exercise, start, end", IDLE_PARTS)
def test_idle_parts_count_nothing(dev_runs, capsys, name, exercise, start, end):
    _, _, saved = dev_runs[name]
    argv = ["analyze", str(saved), "--exercise", exercise, "--json", "-", "--start", str(start)]
    if end is not None:
        argv += ["--end", str(end)]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out)["inputs"][0]
    assert report["total_reps"] == 0
    assert all((e.get("hold_s") or 0) < 1.0 for e in report["exercises"])


def test_annotated_video_and_plot(dev_runs, tmp_path, capsys):
    import cv2

    clip, report, saved = dev_runs["exercises_deadlift.mp4"]
    video, plot = tmp_path / "annotated.mp4", tmp_path / "signal.png"
    assert main(["analyze", str(clip.path), "--exercise", "deadlift", "--annotate", str(video),
                 "--plot", str(plot), "--json", "-"]) == 0
    again = json.loads(capsys.readouterr().out)["inputs"][0]
    assert again["exercises"] == report["exercises"]
    cap = cv2.VideoCapture(str(video))
    frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = cap.read()
    cap.release()
    assert ok and frame.shape[:2] == (720, 1280)
    assert frames == again["frames"]   # one annotated frame per frame the pose model saw
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_generic_counter_on_the_dev_clips(dev_runs):
    """The counter without an exercise description, replayed over the same recordings."""
    from repsense.session import analyze_recording
    from repsense.pose import PoseRecording

    rows = []
    for clip, _, saved in dev_runs.values():
        if clip.hold:
            continue
        rows.append((clip, float(analyze_recording(PoseRecording.load(saved), "generic").report.total_reps)))
    s = score(rows)
    assert s["off_by_one"] >= 0.82 and s["nmae"] <= 0.20, s
