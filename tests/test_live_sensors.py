"""The phone as the wearable, server side: `sensors` sessions over the live protocol (raw browser
motion rows -> the IMU engine), their place in the history, and camera and phone in one session
(repsense.pairing)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from conftest import require_data
from repsense.app.live import ProtocolError, SessionManager
from repsense.engine.events import ExerciseDetected, RepCompleted
from repsense.imu.analysis import run_recording
from repsense.imu.browser import G
from repsense.imu.recording import ImuRecording, load_csv
from repsense.pairing import CAMERA, PHONE, PairedEngine
from repsense.pose import PoseRecording
from repsense.session import Session, analyze_recording
from test_imu_browser import _recording_rows

SAMPLE = Path(__file__).resolve().parents[1] / "repsense" / "samples" / "squats.npz"
RECORDING = "2017-04-22_15-22-00_Individual_1.csv"


def _part(n: int = 1200) -> ImuRecording:
    rec = load_csv(require_data("exermote", RECORDING))
    return ImuRecording(rec.path, rec.samples[:n], rec.timestamp_ms[:n], rec.valid[:n], 10.0)


def _send_rows(live, rows, batch: int = 15) -> list[dict]:
    frames = []
    for i in range(0, len(rows), batch):
        frames += live.handle({"type": "motion", "samples": rows[i:i + batch], "seq": i})
    return frames


def test_sensor_session_counts_what_imu_analyze_counts() -> None:
    sub = _part()
    expected = [e for e in run_recording(sub) if isinstance(e, RepCompleted)]
    manager = SessionManager()
    live, started = manager.start({"type": "start", "mode": "sensors"})
    assert started["state"]["kind"] == "imu" and started["mode"] == "sensors"
    frames = _send_rows(live, _recording_rows(sub, 60.0))
    assert all(f["type"] == "frame" for f in frames)
    assert frames[-1]["sensor"]["events"] > 6000 and frames[-1]["sensor"]["dropped"] == 0
    counted_live = frames[-1]["state"]["total_reps"]
    [ended] = live.handle({"type": "end"})
    assert ended["type"] == "ended"
    total = ended["state"]["total_reps"]
    assert abs(total - len(expected)) <= 1 and counted_live <= total
    reps = [e for f in frames + [ended] for e in f["events"] if e["type"] == "RepCompleted"]
    assert len(reps) == total and {r["exercise"] for r in reps} <= {"burpee", "squat", "sit_up"}
    # session times are relative to the first sample
    assert 0 <= reps[0]["start_ms"] < 120_000
    assert ended["summary"]["total_reps"] == total


def test_bad_motion_messages_are_refused_and_change_nothing() -> None:
    live, _ = SessionManager().start({"type": "start", "mode": "sensors"})
    for bad in ({"type": "motion"}, {"type": "motion", "samples": [[1, 2, 3]]},
                {"type": "motion", "samples": [[None] + [0] * 12]},
                {"type": "motion", "samples": [["x"] * 13]}):
        with pytest.raises(ProtocolError) as err:
            live.handle(bad)
        assert err.value.code == "bad_motion"
    assert live.session.frames == 0
    with pytest.raises(ProtocolError):
        live.handle({"type": "pose", "t": 1, "landmarks": None})
    with pytest.raises(ProtocolError):
        live.handle({"type": "record", "on": True})


def test_a_phone_that_sleeps_loses_nothing_counted() -> None:
    """Twenty seconds without samples in the middle (the phone slept): the reps before the gap are
    completed at once, counting resumes after it, the stream ends cleanly."""
    sub = _part()
    rows = _recording_rows(sub, 50.0)
    t0 = rows[0][0]
    cut = [r for r in rows if r[0] - t0 < 55_000] + \
        [[r[0] + 20_000, *r[1:]] for r in rows if r[0] - t0 >= 65_000]
    live, _ = SessionManager().start({"type": "start", "mode": "sensors"})
    frames = _send_rows(live, cut)
    events = [e for f in frames for e in f["events"]]
    assert any(e["type"] == "PersonLost" for e in events)
    [ended] = live.handle({"type": "end"})
    before = [e for e in run_recording(ImuRecording(sub.path, sub.samples[:550], sub.timestamp_ms[:550],
                                                    sub.valid[:550], 10.0)) if isinstance(e, RepCompleted)]
    assert ended["state"]["total_reps"] >= len(before)


def test_a_sensor_session_is_stored_as_imu(tmp_path) -> None:
    from repsense.app.history import History
    from repsense.store import Store

    history = History(Store(f"sqlite:///{tmp_path / 'h.db'}"), "me")
    manager = SessionManager([history.live_sink])
    live, _ = manager.start({"type": "start", "mode": "sensors"})
    _send_rows(live, _recording_rows(_part(900), 60.0))
    [ended] = live.handle({"type": "end"})
    assert ended["state"]["total_reps"] > 0
    [stored] = history.store.list_sessions()
    assert stored["kind"] == "imu" and stored["total_reps"] == ended["state"]["total_reps"]
    history.close()


# --- camera and phone together --------------------------------------------------------------

class Scripted:
    """A stand-in engine for the merge rule: gives the scripted events at their times."""

    def __init__(self, kind: str, script: dict[int, list], latency_ms: int = 0) -> None:
        self.kind, self.script, self.latency_ms = kind, script, latency_ms
        self.ordered = kind == "pose"
        self.total_reps = 0
        self.exercise = "auto"

    def check(self, sample):
        return np.asarray(sample, dtype=np.float64)

    def present(self, sample) -> bool:
        return True

    def update(self, sample, t):
        return self.script.get(t, [])

    def finish(self):
        return []

    def live_state(self):
        return ("squat", "rest", 0, ())

    def notes(self):
        return []


def rep(start: int, end: int, exercise: str = "squat") -> RepCompleted:
    return RepCompleted(end, exercise=exercise, count=1, start_ms=start, end_ms=end,
                        bottom_ms=(start + end) // 2, concentric_s=1.0, eccentric_s=1.0,
                        rom_deg=math.nan)


def run_pair(camera_script, phone_script, until: int = 20_000, phone_lag: int = 4500):
    eng = PairedEngine(Scripted("pose", camera_script), Scripted("imu", phone_script),
                       sensor_lag_ms=phone_lag)
    session = Session(engine=eng)
    pose, motion = np.zeros((33, 4)), np.zeros(12)
    for t in range(0, until, 100):
        session.feed(pose, t)
        session.feed(motion, t)
    session.finish()
    return session, eng


def test_pair_counts_each_rep_once_from_the_more_sure_source() -> None:
    camera = {0: [ExerciseDetected(0, exercise="squat", confidence=0.9)],
              2000: [rep(0, 2000)], 4500: [rep(2500, 4500)]}
    # the phone: the same two reps 4 s late, and one the camera missed (out of view)
    phone = {100: [ExerciseDetected(100, exercise="squat", confidence=0.6)],
             6100: [rep(100, 2100)], 8600: [rep(2600, 4600)], 12000: [rep(7000, 8500)]}
    session, eng = run_pair(camera, phone)
    reps = session.reps
    assert [(r.start_ms, r.count) for r in reps] == [(0, 1), (2500, 2), (7000, 3)]
    assert [eng.counted_by[(r.start_ms, r.end_ms)] for r in reps] == [CAMERA, CAMERA, PHONE]
    assert eng.duplicates == 2 and session.tracker.total_reps == 3
    assert "2 rep(s) counted by the camera, 1 by the phone" in session.report().notes[-1]
    [s] = session.report().sets
    assert s.reps == 3


def test_pair_takes_the_phone_when_it_is_more_sure() -> None:
    camera = {0: [ExerciseDetected(0, exercise="squat", confidence=0.4)],
              2000: [rep(0, 2000)], 4500: [rep(2500, 4500)]}
    phone = {100: [ExerciseDetected(100, exercise="burpee", confidence=0.95)],
             6100: [rep(100, 2100, "burpee")], 8600: [rep(2600, 4600, "burpee")]}
    session, eng = run_pair(camera, phone)
    assert [(r.exercise, eng.counted_by[(r.start_ms, r.end_ms)]) for r in session.reps] == \
        [("burpee", PHONE), ("burpee", PHONE)]


def test_a_phone_joins_a_camera_session_over_the_protocol() -> None:
    rec = PoseRecording.load(SAMPLE)
    alone = analyze_recording(rec, "squat")
    n = len([e for e in alone.events if isinstance(e, RepCompleted)])
    assert n >= 3
    manager = SessionManager()
    cam, _ = manager.start({"type": "start", "exercise": "squat", "width": rec.image_size[0],
                            "height": rec.image_size[1]})
    phone, started = manager.start({"type": "start", "mode": "sensors", "session": cam.id})
    assert phone is cam and started["resumed"] and cam.session.kind == "pair"
    t0 = 1_700_000_000_000
    events = []
    flat = [0.0, 0.0, 0.0, 0.0, 0.0, G, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]   # a phone lying still
    for pose, t in zip(rec.landmarks, rec.timestamp_ms.tolist()):
        seen = not np.isnan(pose[:, 0]).all()
        frames = cam.handle({"type": "pose", "t": t0 + t,
                             "landmarks": pose.tolist() if seen else None})
        frames += phone.handle({"type": "motion", "samples": [[t0 + t + 0.5, *flat]]})
        events += [e for f in frames for e in f["events"]]
    [ended] = cam.handle({"type": "end"})
    events += ended["events"]
    reps = [e for e in events if e["type"] == "RepCompleted"]
    assert len(reps) == n and all(r["counted_by"] == CAMERA for r in reps)
    assert ended["state"]["total_reps"] == n
