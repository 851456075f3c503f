"""Table tests: signal sequences -> expected reps, for the counter's state machine."""

from __future__ import annotations

import math

import numpy as np
import pytest

from repsense.engine.counting import HoldTimer, RepCounter
from repsense.engine.exercises import CountSpec

SQUAT = CountSpec(rest="high", min_rom=40.0, min_rep_s=0.6, max_rep_s=8.0)
JACKS = CountSpec(rest="low", min_rom=60.0, min_rep_s=0.35, max_rep_s=4.0)


def waypoints(points: list[tuple[float, float]], fps: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """A signal through (time_s, value) points, linearly interpolated at ``fps``."""
    ts = np.arange(points[0][0], points[-1][0] + 1e-9, 1.0 / fps)
    vals = np.interp(ts, [p[0] for p in points], [p[1] for p in points])
    return (ts * 1000).round().astype(int), vals


def run(spec: CountSpec, ts: np.ndarray, vals: np.ndarray) -> list:
    counter = RepCounter(spec)
    return [r for t, v in zip(ts, vals) if (r := counter.update(float(v), int(t))) is not None]


def squats(n: int, period: float = 2.0, top: float = 170, bottom: float = 90, lead: float = 1.0):
    pts = [(0.0, top), (lead, top)]
    for i in range(n):
        t0 = lead + i * period
        pts += [(t0 + period / 2, bottom), (t0 + period, top)]
    pts.append((pts[-1][0] + 1.0, top))
    return pts


@pytest.mark.parametrize("points, spec, expected", [
    (squats(3), SQUAT, 3),
    (squats(5, period=1.0), SQUAT, 5),                                  # fast reps
    (squats(4, period=0.7), SQUAT, 4),                                  # very fast, 0.7 s each
    (squats(2, bottom=140), SQUAT, 0),                                  # 30 deg: too shallow
    (squats(2, bottom=128), SQUAT, 2),                                  # 42 deg: just deep enough
    (squats(2, period=20.0), SQUAT, 0),                                 # 20 s: too slow for a rep
    ([(0, 170), (1, 170), (1.2, 90), (1.4, 170), (3, 170)], SQUAT, 0),  # 0.4 s spike: too short
    ([(0, 20), (0.5, 170), (1.0, 20), (1.5, 170), (2.0, 20), (2.5, 20)], JACKS, 2),
    ([(0, 90), (5, 90)], SQUAT, 0),                                     # still: nothing
])
def test_counts(points, spec, expected):
    ts, vals = waypoints(points)
    assert len(run(spec, ts, vals)) == expected


def test_hovering_at_a_threshold_never_counts():
    # A signal that wobbles +-15 deg around any level, forever, is not a rep.
    ts = np.arange(0, 20000, 33)
    for level in (100, 130, 150):
        vals = level + 15 * np.sin(ts / 1000 * 2 * np.pi * 1.2)
        assert run(SQUAT, ts, vals) == []


def test_hovering_at_the_bottom_counts_one_rep():
    pts = [(0, 170), (1, 170), (2, 90)]
    pts += [(2 + 0.3 * i, 90 + (12 if i % 2 else 0)) for i in range(1, 12)]
    pts += [(6, 170), (7, 170)]
    ts, vals = waypoints(pts)
    assert len(run(SQUAT, ts, vals)) == 1


def test_setup_motion_before_the_first_rep_is_not_counted():
    # Walking in: the knee swings 25 deg at 1 Hz for 4 s, then 2 real squats.
    ts1 = np.arange(0, 4000, 33)
    walk = 160 + 12.5 * np.sin(ts1 / 1000 * 2 * np.pi)
    ts2, sq = waypoints([(p[0] + 4.033, p[1]) for p in squats(2)])
    reps = run(SQUAT, np.concatenate([ts1, ts2]), np.concatenate([walk, sq]))
    assert len(reps) == 2
    assert reps[0].start_ms >= 4000


def test_missing_frames_inside_a_rep_keep_the_rep():
    ts, vals = waypoints(squats(3))
    vals = vals.copy()
    vals[(ts > 1500) & (ts < 1900)] = np.nan   # 0.4 s with the knee not visible, mid-rep
    assert len(run(SQUAT, ts, vals)) == 3


def test_a_long_gap_drops_the_rep_in_progress():
    ts, vals = waypoints([(0, 170), (1, 170), (1.8, 90), (2.0, 90)])
    ts2, vals2 = waypoints([(12.0, 90), (12.8, 170), (13.5, 170)])
    assert run(SQUAT, np.concatenate([ts, ts2]), np.concatenate([vals, vals2])) == []


def test_uneven_frame_times_count_the_same():
    rng = np.random.default_rng(0)
    ts, vals = waypoints(squats(4), fps=120)
    keep = np.sort(rng.choice(len(ts), size=len(ts) // 6, replace=False))  # ~20 fps, jittered
    assert len(run(SQUAT, ts[keep], vals[keep])) == 4


def test_rep_timing_and_rom():
    ts, vals = waypoints(squats(1, period=2.0, top=170, bottom=90, lead=1.0))
    (rep,) = run(SQUAT, ts, vals)
    assert rep.start_ms == pytest.approx(1000, abs=40)
    assert rep.bottom_ms == pytest.approx(2000, abs=40)
    assert rep.rom == pytest.approx(80, abs=1)
    # ends once 70% of the way back up: 90 + 0.7*80 = 146 deg, at 2.7 s
    assert rep.end_ms == pytest.approx(2700, abs=40)


def test_nan_only_input_never_counts():
    counter = RepCounter(SQUAT)
    assert all(counter.update(math.nan, t) is None for t in range(0, 10000, 33))


@pytest.mark.parametrize("frames, expected_held", [
    ([(True, 10.0)], 10.0),                          # 10 s in position
    ([(True, 0.8)], 0.0),                            # too short to start
    ([(True, 5.0), (False, 0.5), (True, 5.0)], 10.5),  # a short break is part of the hold
    ([(True, 5.0), (False, 3.0), (True, 5.0)], 10.0),  # a long break is not
])
def test_hold_timer(frames, expected_held):
    timer = HoldTimer(enter_s=1.0, grace_s=1.0)
    t = 0
    for in_pos, seconds in frames:
        for _ in range(int(round(seconds * 30))):
            t += 33
            timer.update(in_pos, t)
    assert timer.held_s == pytest.approx(expected_held, abs=0.15)


def test_a_return_that_wobbles_on_is_not_a_second_rep():
    # The rep ends once the signal is back return_fraction of the way (125); it turns down at once
    # and dips by more than min_rom before reaching the top: it never got back near rest, so this
    # is the same movement going on, not a new rep.
    spec = CountSpec(rest="high", min_rom=40.0, min_rep_s=0.3, max_rep_s=8.0, return_fraction=0.5)
    pts = [(0.0, 170), (1.0, 170), (2.0, 80), (2.5, 126), (2.55, 110), (3.0, 84), (3.8, 170),
           (4.8, 170)]
    reps = run(spec, *waypoints(pts))
    assert len(reps) == 1, [(r.start_ms, r.end_ms) for r in reps]


def test_rhythm_counts_the_reps_a_regular_run_hid():
    from repsense.engine.counting import Rhythm

    rhythm = Rhythm(max_missed=3)
    ends = [1000, 2000, 3000, 4000, 5000, 7000, 8000, 11100, 12000]
    assert [rhythm.observe(t) for t in ends] == [0, 0, 0, 0, 0, 1, 0, 2, 0]


def test_rhythm_fills_nothing_without_a_rhythm():
    from repsense.engine.counting import Rhythm

    irregular = Rhythm(max_missed=3)
    assert sum(irregular.observe(t) for t in [0, 700, 2500, 2900, 5000, 9000]) == 0
    capped = Rhythm(max_missed=1)   # a gap of 4 intervals is a pause, not 3 missed reps
    assert sum(capped.observe(t) for t in [0, 1000, 2000, 3000, 7000]) == 0
    paused = Rhythm(max_missed=3)   # still between two reps: a rest, whatever its length
    assert [paused.observe(t, moved=t != 6000) for t in [0, 1000, 2000, 3000, 4000, 6000]] == [0] * 6
