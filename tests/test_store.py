"""The history store on SQLite and on a real PostgreSQL server: what a session leaves behind,
export -> import, idempotent import, interrupted sessions, and a SIGKILL in the middle of a live
session fed from a real clip."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from sqlalchemy import select

from repsense.engine.events import (ExerciseDetected, FormWarning, HoldUpdated, RepCompleted,
                                    SessionEnded, SetCompleted)
from repsense.pose import PoseRecording
from repsense.session import Session, analyze_recording
from repsense.store import Store, StoreSink
from repsense.store import schema as S
from repsense.store.db import HOST
from tests.conftest import ROOT
from tests.history_fixtures import db_url, postgres_server, squat_clips  # noqa: F401

SAMPLE = PoseRecording.load(ROOT / "repsense" / "samples" / "squats.npz")


def rep(i: int, t: int, exercise: str = "squat", faults: tuple[str, ...] = (),
        score: float | None = 90.0) -> RepCompleted:
    return RepCompleted(t, exercise=exercise, count=i, start_ms=t - 2000, end_ms=t,
                        bottom_ms=t - 1000, concentric_s=0.9, eccentric_s=1.1, rom_deg=85.5,
                        form_score=score, faults=faults,
                        fault_spans=tuple((t - 1500, t - 900) for _ in faults), rom_pct=71.0,
                        pause_s=0.2, good=not faults)


def workout() -> list[list]:
    """A session's event stream, frame by frame: squats with a fault, a cue, a set, a plank."""
    return [
        [ExerciseDetected(0, exercise="squat")],
        [rep(1, 2500)],
        [rep(2, 5000, faults=("knees_in", "shallow")), FormWarning(5000, exercise="squat",
                                                                   code="knees_in",
                                                                   message="Knees out", rep=2)],
        [rep(3, 7500, score=float("nan"))],
        [SetCompleted(27500, exercise="squat", reps=3, start_ms=500, end_ms=7500, good_reps=2,
                      tut_s=6.0)],
        [ExerciseDetected(30000, exercise="plank")],
        [HoldUpdated(32000, exercise="plank", held_s=1.0, holding=True, good_s=1.0)],
        [HoldUpdated(40000, exercise="plank", held_s=9.0, holding=True, good_s=8.0)],
        [HoldUpdated(41500, exercise="plank", held_s=9.5, holding=False, good_s=8.0)],
        [SessionEnded(42000, total_reps=3)],
    ]


def store_workout(store: Store, profile: str = "ann", session_id: str | None = None,
                  started_at: float = 1_790_000_000.0) -> str:
    sink = StoreSink(store, profile=profile, source="webcam", session_id=session_id,
                     started_at=started_at)
    for events in workout():
        sink.emit(events)
    sink.close()
    return sink.session_id


def test_a_session_is_stored_with_sets_reps_faults_holds_and_cues(db_url):
    with Store(db_url) as store:
        sid = store_workout(store)
        [listed] = store.list_sessions()
        assert listed["id"] == sid and listed["status"] == "ended" and listed["total_reps"] == 3
        assert listed["exercises"] == [{"name": "squat", "reps": 3, "good_reps": 2},
                                       {"name": "plank", "reps": 0, "good_reps": 0,
                                        "hold_s": 9.5}]
        doc = store.get_session(sid)
        assert [r["set_idx"] for r in doc["reps"]] == [1, 1, 1]
        assert doc["reps"][1]["faults"] == [{"code": "knees_in", "start_ms": 3500, "end_ms": 4100},
                                            {"code": "shallow", "start_ms": 3500, "end_ms": 4100}]
        assert doc["reps"][2]["form_score"] is None           # NaN is stored as unknown
        assert doc["sets"] == [{"idx": 1, "exercise": "squat", "reps": 3, "good_reps": 2,
                                "start_ms": 500, "end_ms": 7500, "tut_s": 6.0,
                                "rest_before_s": None}]
        assert doc["holds"] == [{"idx": 1, "exercise": "plank", "start_ms": 31000,
                                 "end_ms": 41500, "held_s": 9.5, "good_s": 8.0}]
        assert [c["message"] for c in doc["cues"]] == ["Knees out"]
        assert store.profiles() == [{"name": "ann", "sessions": 1}]
        assert store.list_sessions(profile="bob") == []


def test_a_real_analysis_is_stored_as_the_report_says(db_url):
    with Store(db_url) as store:
        sink = StoreSink(store, source="squats.npz", kind="recording", exercise="squat")
        analysis = analyze_recording(SAMPLE, "squat", sinks=[sink])
        doc = store.get_session(sink.session_id)
    assert doc["status"] == "ended"
    assert len(doc["reps"]) == analysis.report.total_reps == 5
    assert [(s["reps"], s["good_reps"]) for s in doc["sets"]] == \
        [(s.reps, s.good_reps) for s in analysis.report.sets]
    detail = analysis.report.exercises[0].reps_detail
    assert [round(r["end_ms"] / 1000, 3) for r in doc["reps"]] == [r.end_s for r in detail]


def test_export_then_import_into_an_empty_database_gives_the_same_export(db_url, tmp_path):
    with Store(db_url) as store:
        store_workout(store, "ann", started_at=1_790_000_000.0)
        store_workout(store, "bob", started_at=1_790_100_000.0)
        analyze_recording(SAMPLE, "squat", sinks=[StoreSink(store, profile="ann")])
        first = store.export_json()
        csv_text = store.export_csv()
    other = f"sqlite:///{tmp_path / 'other.db'}"
    with Store(other) as copy:
        assert copy.import_doc(json.loads(first)) == (3, 0)
        assert copy.export_json() == first                   # byte for byte
        assert copy.import_doc(json.loads(first)) == (0, 3)  # importing twice adds nothing
        assert copy.export_json() == first
        assert copy.export_csv() == csv_text
    assert csv_text.count("\n") == 1 + 3 + 3 + 5


def test_the_schema_is_made_by_the_migrations_and_opening_again_changes_nothing(db_url):
    with Store(db_url) as store:
        with store.engine.connect() as conn:
            version = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        store_workout(store)
    with Store(db_url) as again:
        assert len(again.list_sessions()) == 1
    assert version == "0003"


def test_migration_0002_fills_the_derived_tables_from_the_rows_already_stored(db_url):
    with Store(db_url) as store:
        store_workout(store)
        before = store.list_sessions()
        store.migrate("0001", down=True)
    with Store(db_url) as store:                      # upgrades on open
        assert store.list_sessions() == before
        with store.engine.connect() as conn:
            faults = conn.execute(select(S.session_faults.c.code, S.session_faults.c.reps)).all()
    assert sorted(faults) == [("knees_in", 1), ("shallow", 1)]


def test_a_session_whose_process_died_is_marked_interrupted_on_the_next_open(db_url):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    with Store(db_url) as store:
        with store.engine.begin() as conn:
            Store.ensure_profile(conn, "default")
            conn.execute(S.sessions.insert().values(
                id="deadbeef", profile="default", kind="live", source="", exercise_option="auto",
                started_at=100.0, heartbeat_at=160.0, status="live", total_reps=0, host=HOST,
                pid=int(dead)))
            conn.execute(S.sessions.insert().values(
                id="alive", profile="default", kind="live", source="", exercise_option="auto",
                started_at=time.time(), heartbeat_at=time.time(), status="live", total_reps=0,
                host=HOST, pid=os.getpid()))
    with Store(db_url) as store:
        by_id = {s["id"]: s for s in store.list_sessions()}
    assert by_id["deadbeef"]["status"] == "interrupted"
    assert by_id["deadbeef"]["ended_at"] == "1970-01-01T00:02:40+00:00"   # its last heartbeat
    assert by_id["alive"]["status"] == "live"


def test_an_imu_run_is_stored_with_its_sets(tmp_path):
    from repsense.store.sink import store_events

    events = [ExerciseDetected(0, exercise="squat"), rep(1, 2500), rep(2, 5000),
              SetCompleted(5000, exercise="squat", reps=2, start_ms=500, end_ms=5000),
              SessionEnded(9000, total_reps=2)]
    with Store(f"sqlite:///{tmp_path / 'h.db'}") as store:
        sid = store_events(store, events, kind="imu", source="arm.csv", profile="ann")
        doc = store.get_session(sid)
    assert (doc["kind"], doc["status"], doc["total_reps"]) == ("imu", "ended", 2)
    assert doc["sets"][0]["good_reps"] is None and [r["set_idx"] for r in doc["reps"]] == [1, 1]


def test_a_failing_database_drops_the_sink_and_the_session_goes_on(tmp_path, caplog):
    with Store(f"sqlite:///{tmp_path / 'h.db'}") as store:
        sink = StoreSink(store)
        session = Session("squat", aspect=SAMPLE.aspect, sinks=[sink], session_id=sink.session_id)
        half = len(SAMPLE.landmarks) // 2
        session.run(zip(SAMPLE.landmarks[:half], SAMPLE.timestamp_ms[:half]))
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE session_stats")      # the database breaks
        deadline = time.monotonic() + 10
        while sink.error is None and time.monotonic() < deadline:
            session.feed(SAMPLE.landmarks[half], int(SAMPLE.timestamp_ms[half]))
            half += 1
            time.sleep(0.05)
        session.run(zip(SAMPLE.landmarks[half:], SAMPLE.timestamp_ms[half:]))
        session.finish()
    assert sink.error is not None and sink not in session.sinks
    assert len(session.reps) == 5                                  # counting went on


def test_a_session_that_ends_with_nothing_in_it_is_not_kept(db_url):
    with Store(db_url) as store:
        empty = StoreSink(store)
        empty.emit([ExerciseDetected(0, exercise="squat")])
        empty.close()
        kept = StoreSink(store, keep_empty=True)
        kept.close()
        assert [s["id"] for s in store.list_sessions()] == [kept.session_id]


def test_emit_does_not_wait_for_the_database(tmp_path):
    with Store(f"sqlite:///{tmp_path / 'h.db'}") as store:
        sink = StoreSink(store)
        lock = store.engine.connect()
        lock.exec_driver_sql("BEGIN IMMEDIATE")          # another writer holds the database
        t0 = time.perf_counter()
        for i in range(1, 200):
            sink.emit([rep(i, 3000 * i)])
        took = time.perf_counter() - t0
        lock.rollback()
        lock.close()
        sink.close()
        assert store.list_sessions()[0]["total_reps"] == 199
    assert took < 0.05


# --- sets on real clips -------------------------------------------------------------------------

def joined(recordings: list[PoseRecording], gap_s: float) -> PoseRecording:
    """Recordings one after the other with ``gap_s`` of nobody in view between them."""
    parts, times, offset = [], [], 0
    for i, rec in enumerate(recordings):
        if i:
            step = int(np.median(np.diff(rec.timestamp_ms)))
            gap = np.arange(offset + step, offset + int(gap_s * 1000), step)
            parts.append(np.full((len(gap), 33, 4), np.nan, np.float32))
            times.append(gap)
            offset = int(gap[-1]) + step
        t = rec.timestamp_ms - rec.timestamp_ms[0] + offset
        parts.append(rec.landmarks)
        times.append(t)
        offset = int(t[-1])
    return PoseRecording(np.concatenate(parts), np.concatenate(times).astype(np.int64),
                         recordings[0].image_size, "joined", recordings[0].source_fps)


@pytest.mark.slow
def test_two_real_clips_with_25_s_away_between_them_are_two_sets(squat_clips, tmp_path):
    recs = [PoseRecording.load(p) for p in squat_clips]
    alone = [analyze_recording(r, "squat").report.total_reps for r in recs]
    with Store(f"sqlite:///{tmp_path / 'h.db'}") as store:
        sink = StoreSink(store, kind="recording", exercise="squat")
        analysis = analyze_recording(joined(recs, 25.0), "squat", sinks=[sink])
        doc = store.get_session(sink.session_id)
    sets = analysis.report.sets
    assert [s.reps for s in sets] == alone and min(alone) >= 2
    assert sets[1].rest_before_s is not None and sets[1].rest_before_s >= 25.0
    assert [s["reps"] for s in doc["sets"]] == alone
    assert [r["set_idx"] for r in doc["reps"]] == [1] * alone[0] + [2] * alone[1]
    # and a single clip is one set
    assert len(analyze_recording(recs[0], "squat").report.sets) == 1


# --- the crash test -----------------------------------------------------------------------------

CHILD = textwrap.dedent("""
    import sys, time
    import numpy as np
    from repsense.engine.events import RepCompleted
    from repsense.pose import PoseRecording
    from repsense.session import Session
    from repsense.store import Store, StoreSink

    url, path, speed = sys.argv[1], sys.argv[2], float(sys.argv[3])
    rec = PoseRecording.load(path)
    store = Store(url)
    sink = StoreSink(store, source="crash-test", kind="live", exercise="squat")
    session = Session("squat", aspect=rec.aspect, sinks=[sink], session_id=sink.session_id)
    print("SESSION", sink.session_id, flush=True)
    span = int(rec.timestamp_ms[-1] - rec.timestamp_ms[0]) + 100
    t0 = time.monotonic()
    for loop in range(100):             # the clip again and again, at `speed` times real time
        for pose, t in zip(rec.landmarks, rec.timestamp_ms):
            t = int(t - rec.timestamp_ms[0]) + loop * span
            wait = t / 1000 / speed - (time.monotonic() - t0)
            if wait > 0:
                time.sleep(wait)
            for e in session.feed(pose, t):
                if isinstance(e, RepCompleted):
                    print("REP", time.time(), flush=True)
""")


def test_a_killed_live_session_keeps_every_rep_older_than_a_second(db_url, squat_clips, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, db_url, str(squat_clips[0]), "3"],
                             stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    reps_at: list[float] = []
    try:
        session_id = child.stdout.readline().split()[1]
        while len(reps_at) < 7:
            line = child.stdout.readline()
            assert line, "the child stopped before the kill"
            reps_at.append(float(line.split()[1]))
        time.sleep(0.6)
    finally:
        killed_at = time.time()
        child.send_signal(signal.SIGKILL)
        child.wait()
    reps_at += [float(line.split()[1]) for line in child.stdout.read().splitlines()
                if line.startswith("REP")]
    child.stdout.close()
    older = sum(t < killed_at - 1.0 for t in reps_at)
    assert older >= 6
    with Store(db_url) as store:
        doc = store.get_session(session_id)
        if store.dialect == "sqlite":
            with store.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        with store.engine.connect() as conn:
            n = conn.execute(select(S.sessions.c.status).where(S.sessions.c.id == session_id)) \
                .scalar()
    assert n == "interrupted" and doc["status"] == "interrupted"
    assert older <= len(doc["reps"]) <= len(reps_at)
    assert [r["idx"] for r in doc["reps"]] == list(range(1, len(doc["reps"]) + 1))
