"""Browser motion events -> the model's samples (repsense.imu.browser): known cases (flat, upright,
upside down, rotating at a known rate), the angle ranges, the 10 Hz resampling, and real recordings
replayed as browser events at a phone's rate counting what `repsense imu analyze` counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from conftest import require_data
from repsense.engine.events import RepCompleted
from repsense.imu.analysis import run_recording
from repsense.imu.browser import (G, MotionResampler, attitude_from_orientation, events_from_sample,
                                  gravity_from_attitude, raw_row)
from repsense.imu.recording import ImuRecording, load_csv
from repsense.imu.tracker import ImuTracker
from repsense.session import Session


def row(t=0.0, acc=(0, 0, 0), incl=(0, 0, G), rate=(0, 0, 0), orient=(0, 0, 0)):
    return [t, *acc, *incl, *rate, *orient]


def channels(r):
    return MotionResampler().channels(r)


def test_flat_screen_up_is_gravity_down_and_no_attitude() -> None:
    # W3C: a phone lying flat screen-up reads accelerationIncludingGravity z = +9.81;
    # Core Motion: gravity (0, 0, -1) g, pitch = roll = 0.
    x = channels(row())
    np.testing.assert_allclose(x[0:3], [0, 0, -1], atol=1e-9)
    np.testing.assert_allclose(x[3:12], 0, atol=1e-9)


def test_upright_portrait_is_pitch_plus_90() -> None:
    # held upright facing the user: y up the screen points up, the reaction to gravity is +y
    x = channels(row(incl=(0, G, 0), orient=(30, 90, 0)))
    np.testing.assert_allclose(x[0:3], [0, -1, 0], atol=1e-9)
    assert x[6] == pytest.approx(math.pi / 2)
    np.testing.assert_allclose(gravity_from_attitude(x[6], x[7]), x[0:3], atol=1e-9)


def test_tilted_past_upright_uses_core_motion_ranges() -> None:
    # top up, tilted 30 degrees past upright (the screen turned towards the floor): the browser
    # gives beta = 120 (its gamma stays in [-90, 90)); Core Motion gives pitch = 60 and
    # roll = 180 for the same attitude
    pitch, roll, yaw = attitude_from_orientation(10, 120, 0)
    assert math.degrees(pitch) == pytest.approx(60)
    assert abs(math.degrees(roll)) == pytest.approx(180)
    assert math.degrees(yaw) == pytest.approx(-170)
    g = np.array(gravity_from_attitude(pitch, roll))
    incl = -G * g
    x = channels(row(incl=tuple(incl), orient=(10, 120, 0)))
    np.testing.assert_allclose(x[0:3], g, atol=1e-9)
    assert x[1] < -0.8 and x[2] > 0.4    # gravity along -y (top up) and +z (screen down)


def _rot(axis: str, a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return {"x": np.array([[1, 0, 0], [0, c, -s], [0, s, c]]),
            "y": np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]]),
            "z": np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])}[axis]


def test_attitude_is_the_same_rotation_in_both_ranges() -> None:
    rng = np.random.default_rng(3)
    for _ in range(200):
        alpha, beta, gamma = rng.uniform(0, 360), rng.uniform(-180, 180), rng.uniform(-90, 90)
        pitch, roll, yaw = attitude_from_orientation(alpha, beta, gamma)
        assert -math.pi / 2 <= pitch <= math.pi / 2
        w3c = _rot("z", math.radians(alpha)) @ _rot("x", math.radians(beta)) @ _rot("y", math.radians(gamma))
        cm = _rot("z", yaw) @ _rot("x", pitch) @ _rot("y", roll)
        np.testing.assert_allclose(cm, w3c, atol=1e-9)


def test_rotating_at_a_known_rate() -> None:
    # 90 °/s about z (alpha), 45 °/s about x (beta), -30 °/s about y (gamma) -> rad/s in x, y, z
    x = channels(row(rate=(90, 45, -30)))
    np.testing.assert_allclose(x[9:12], [math.pi / 4, -math.pi / 6, math.pi / 2], atol=1e-12)


def test_shaking_flat_phone_splits_gravity_and_user_acceleration() -> None:
    # accelerating up at 0.5 g: acceleration z = -(-G * 0.5)... the browser reports +0.5 G upward
    # as acceleration z = +4.9 (W3C), which is Core Motion userAcceleration z = -0.5 g
    x = channels(row(acc=(0, 0, 0.5 * G), incl=(0, 0, 1.5 * G)))
    np.testing.assert_allclose(x[0:3], [0, 0, -1], atol=1e-9)
    np.testing.assert_allclose(x[3:6], [0, 0, -0.5], atol=1e-9)


def test_without_linear_acceleration_gravity_comes_from_orientation_or_a_low_pass() -> None:
    nan3 = (math.nan,) * 3
    x = channels(row(acc=nan3, incl=(0, G, 0), orient=(0, 90, 0)))
    np.testing.assert_allclose(x[0:6], [0, -1, 0, 0, 0, 0], atol=1e-9)
    r = MotionResampler()
    for k in range(200):   # 4 s at 50 Hz, flat; then a brief jolt hardly moves gravity
        r.channels(row(t=20.0 * k, acc=nan3, orient=nan3))
    x = r.channels(row(t=4000, acc=nan3, incl=(0, 0, 2 * G), orient=nan3))
    assert x[2] == pytest.approx(-1.0 - (1 - math.exp(-20 / 500)), abs=1e-6)
    assert x[5] < -0.9 and x[8] == 0.0 and np.isfinite(x).all()


def test_resampler_puts_jittery_events_on_the_10_hz_grid() -> None:
    rng = np.random.default_rng(0)
    t = 1000.0 + np.cumsum(rng.uniform(10, 24, size=400))   # ~60 Hz with jitter
    r = MotionResampler()
    out = []
    for k, tk in enumerate(t):
        out += r.push(row(t=tk, rate=(tk / 100.0, 0, 0), orient=(0, 0, 0)))
    out += r.flush()
    times = np.array([tt for _, tt in out])
    assert np.all(np.diff(times) == 100) and times[0] == round(t[0])
    assert len(out) == pytest.approx((t[-1] - t[0]) / 100, abs=1.5)
    # the z rotation rate rises linearly with time: each step's mean is its centre's value
    z = np.degrees([s[11] for s, _ in out])
    np.testing.assert_allclose(z[1:-1], times[1:-1] / 100.0, atol=0.2)
    assert r.push(row(t=t[-1])) == [] and r.dropped == 1


def test_resampler_averages_roll_and_yaw_on_the_circle() -> None:
    r = MotionResampler()
    for k in range(4):
        # gamma +5/-5 with beta 170: Core Motion roll is 175 / -175 degrees; their mean is 180,
        # not 0 (and yaw 180 + 179 / 180 - 179: -1 / 1, mean 0)
        r.push(row(t=10.0 * k, orient=(179 if k % 2 else -179, 170, 5 if k % 2 else -5)))
    [(s, _)] = r.flush()
    assert abs(s[7]) == pytest.approx(math.pi) and s[6] == pytest.approx(math.radians(10))
    assert s[8] == pytest.approx(0, abs=1e-9)


def _recording_rows(rec: ImuRecording, rate_hz: float, seed: int = 0) -> list[list[float]]:
    """The recording as a phone's browser would report it: events at ``rate_hz`` with jitter,
    the 10 Hz channels linearly interpolated (angles through the gravity-free identity)."""
    rng = np.random.default_rng(seed)
    t0, t1 = float(rec.timestamp_ms[0]), float(rec.timestamp_ms[-1])
    step = 1000.0 / rate_hz
    times = t0 + np.cumsum(rng.uniform(0.7 * step, 1.3 * step, size=int((t1 - t0) / step)))
    times = times[times < t1]
    ts = rec.timestamp_ms.astype(np.float64)
    s = rec.samples.astype(np.float64)
    idx = np.clip(np.searchsorted(ts, times) - 1, 0, len(ts) - 2)
    w = ((times - ts[idx]) / (ts[idx + 1] - ts[idx]))[:, None]
    lin = s[idx] * (1 - w) + s[idx + 1] * w
    near = np.where(w[:, 0] < 0.5, idx, idx + 1)
    lin[:, 6:9] = s[near, 6:9]     # angles: the nearest sample (no interpolation across ±pi)
    return [raw_row(t, events_from_sample(x)) for t, x in zip(times, lin)]


def test_recording_round_trips_through_browser_events() -> None:
    path = require_data("exermote", "2017-04-22_15-22-00_Individual_1.csv")
    rec = load_csv(path)
    r = MotionResampler()
    got = np.stack([r.channels(raw_row(0.0, events_from_sample(x))) for x in rec.samples[:3000]])
    want = rec.samples[:3000].astype(np.float64)
    np.testing.assert_allclose(got[:, [0, 1, 2, 3, 4, 5, 6, 9, 10, 11]],
                               want[:, [0, 1, 2, 3, 4, 5, 6, 9, 10, 11]], atol=1e-5)
    # roll and yaw: equal on the circle
    for i in (7, 8):
        d = np.angle(np.exp(1j * (got[:, i] - want[:, i])))
        assert np.abs(d).max() < 1e-5


@pytest.mark.parametrize("rate_hz", [60.0, 100.0])
def test_recording_replayed_as_browser_events_counts_like_analyze(rate_hz: float) -> None:
    path = require_data("exermote", "2017-04-22_15-22-00_Individual_1.csv")
    rec = load_csv(path)
    part = slice(0, 1200)
    sub = ImuRecording(rec.path, rec.samples[part], rec.timestamp_ms[part], rec.valid[part], 10.0)
    expected = [e for e in run_recording(sub) if isinstance(e, RepCompleted)]
    assert len(expected) >= 10
    session = Session(engine=ImuTracker())
    r = MotionResampler()
    for raw in _recording_rows(sub, rate_hz):
        for sample, t in r.push(raw):
            session.feed(sample, t)
    for sample, t in r.flush():
        session.feed(sample, t)
    session.finish()
    assert abs(len(session.reps) - len(expected)) <= 1
    assert [e.exercise for e in session.reps][:5] == [e.exercise for e in expected][:5]
