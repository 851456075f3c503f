"""The history API over generated sessions (both dialects): what each call answers, how fast, and
the insights' words on a table made to say them."""

from __future__ import annotations

import statistics
import time
from datetime import date, datetime, timedelta, timezone

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from bench.history_scale import api_paths, generate
from repsense.app import history
from repsense.store import Store
from repsense.store.progress import Progress, Row
from tests.history_fixtures import db_url, postgres_server  # noqa: F401

NOW = datetime(2026, 12, 2, 18, 0, tzinfo=timezone.utc).timestamp()


@pytest.fixture
def generated(db_url):  # type: ignore[no-untyped-def]
    doc = generate(sessions=200, reps_per_session=40, seed=3, end=NOW)
    store = Store(db_url)
    assert store.import_doc(doc) == (200, 0)
    yield store, doc
    store.close()


def client(store: Store) -> TestClient:
    return TestClient(Starlette(routes=history.routes(store)))


def test_every_call_of_the_page_answers_within_200_ms_uncached(generated, monkeypatch):
    store, _ = generated
    monkeypatch.setattr(history, "CACHE", False)     # every call loads its own table
    with client(store) as c:
        c.get("/api/history/profiles")               # the first request sets up the client
        for path in api_paths("ann") + api_paths(None):
            # the median of 5 calls, as bench/history_scale.py reports it: one call on this
            # shared 2-core machine can wait for a core (a 208 ms single call failed CI once)
            took = []
            for _ in range(5):
                t0 = time.perf_counter()
                r = c.get(path)
                took.append((time.perf_counter() - t0) * 1000)
                assert r.status_code == 200, (path, r.text[:200])
            assert statistics.median(took) < 200, f"{path}: {sorted(took)} ms"


def test_the_answers_agree_with_the_data(generated):
    store, doc = generated
    ann = [s for s in doc["sessions"] if s["profile"] == "ann"]
    with client(store) as c:
        assert c.get("/api/history/profiles").json() == {
            "profiles": [{"name": "ann", "sessions": 100}, {"name": "bob", "sessions": 100}]}
        listed = c.get("/api/history/sessions?profile=ann&limit=5").json()["sessions"]
        assert [s["id"] for s in listed] == [s["id"] for s in ann[::-1][:5]]
        assert listed[0]["total_reps"] == 40 and sum(e["reps"] for e in listed[0]["exercises"]) == 40

        for period in ("day", "week"):
            vol = c.get(f"/api/history/volume?profile=ann&period={period}").json()
            assert sum(r["reps"] for rows in vol["exercises"].values() for r in rows) == \
                sum(len(s["reps"]) for s in ann)
            assert sum(r["sets"] for rows in vol["exercises"].values() for r in rows) == \
                sum(len(s["sets"]) for s in ann)
        week = c.get("/api/history/volume?profile=ann&period=week").json()
        assert all(date.fromisoformat(r["period"]).weekday() == 0
                   for rows in week["exercises"].values() for r in rows)

        bests = c.get("/api/history/bests?profile=ann").json()["exercises"]
        squat_sets = [st["reps"] for s in ann for st in s["sets"] if st["exercise"] == "squat"]
        assert bests["squat"]["most_reps_in_a_set"]["value"] == max(squat_sets)
        holds = [h["held_s"] for s in ann for h in s["holds"]]
        assert bests["plank"]["longest_hold_s"]["value"] == round(max(holds), 1)

        trends = c.get("/api/history/trends?profile=ann&exercise=squat").json()["exercises"]
        assert list(trends) == ["squat"]
        squat_sessions = [s for s in ann if any(r["exercise"] == "squat" for r in s["reps"])]
        assert len(trends["squat"]) == len(squat_sessions)
        # the generator makes range grow and faults get rarer: the trend shows it
        first, last = trends["squat"][:10], trends["squat"][-10:]
        assert sum(r["rom_pct"] for r in last) > sum(r["rom_pct"] for r in first)

        faults = c.get("/api/history/faults?profile=ann&sessions=5").json()
        recent = faults["recent"]["squat"]
        assert recent["sessions"] == 5
        n = sum(1 for s in squat_sessions[-5:] for r in s["reps"] if r["exercise"] == "squat"
                and any(f["code"] == "knees_cave" for f in r["faults"]))
        knees = [f for f in recent["faults"] if f["code"] == "knees_cave"]
        assert (knees[0]["reps"] if knees else 0) == n

        streaks = c.get("/api/history/streaks?profile=ann").json()
        assert streaks["active_days"] >= 20 and streaks["longest_days"] >= 2

        insights = c.get("/api/history/insights?profile=ann").json()["insights"]
        assert insights and all(i["text"].endswith(".") for i in insights)

        one = c.get(f"/api/history/sessions/{ann[0]['id']}").json()
        assert len(one["reps"]) == 40 and one["sets"] == ann[0]["sets"]
        assert c.get("/api/history/sessions/nope").status_code == 404
        assert c.get("/api/history/volume?period=month").status_code == 400
        assert c.get("/api/history/sessions?limit=0").status_code == 400
        assert c.get("/api/history/sessions?since=yesterday").status_code == 400

        exported = c.get("/api/history/export?format=json")
        assert exported.text == store.export_json()
        assert c.post("/api/history/import", content=exported.text).json() == \
            {"added": 0, "skipped": 200}
        assert c.get("/api/history/export?format=csv&profile=bob").text.count("\n") == 1 + 100 * 40


def _row(day: int, rom_pct: float, reps: int = 10, knees: int = 0, score: float = 80.0,
         exercise: str = "squat") -> Row:
    started = datetime(2026, 11, 9, 18, tzinfo=timezone.utc).timestamp() + day * 86400
    return Row(f"s{day}", started, exercise, reps, reps - knees, reps * 2.0, score, 90.0,
               rom_pct, 0.9, 1.1, 2.0, 1, reps, faults={"knees_cave": knees} if knees else {})


def test_insights_say_what_changed_in_plain_words():
    # three weeks of squats: depth from 70% to 78.4% of full (+12%), knees caving on 3 of every
    # 10 reps in the last 5 sessions, trained the last 4 days in a row
    rows = [_row(0, 70.0), _row(2, 70.0), _row(7, 74.0), _row(9, 74.0),
            _row(17, 78.4, knees=3), _row(19, 78.4, knees=3), _row(20, 78.4, knees=3),
            _row(21, 78.4, knees=3), _row(22, 78.4, knees=3)]
    p = Progress(rows)
    today = date(2026, 12, 1)
    texts = [i["text"] for i in p.insights(today)]
    assert "Your squat depth improved 12% over 3 weeks." in texts
    assert "Knees caved in on 30% of your squats in your last 5 sessions." in texts
    assert "You have trained 4 days in a row - your longest streak yet." in texts
    streaks = p.streaks(today)
    assert (streaks["current_days"], streaks["longest_days"], streaks["active_days"]) == (4, 4, 9)
    assert p.streaks(today + timedelta(days=5))["current_days"] == 0
    assert "Your last session was 5 days ago." in \
        [i["text"] for i in p.insights(today + timedelta(days=5))]
    bests = p.bests()["exercises"]["squat"]
    assert bests["most_reps_in_a_set"]["value"] == 10
    # days follow the caller's clock: 18:00 UTC is the next day at UTC+8
    assert Progress(rows, tz_offset_min=480).volume()["exercises"]["squat"][0]["period"] == \
        "2026-11-10"


def test_a_live_web_session_is_stored_and_listed(tmp_path):
    """The web app with a database URL in its settings (what `repsense serve` gives it)."""
    from repsense.app.server import Settings, create_app
    from repsense.pose import PoseRecording
    from tests.conftest import ROOT

    sample = PoseRecording.load(ROOT / "repsense" / "samples" / "squats.npz")
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'h.db'}", profile="gym")
    with TestClient(create_app(settings)) as c:
        with c.websocket_connect("/ws") as ws:
            ws.send_json({"type": "start", "exercise": "squat", "width": 640, "height": 480,
                          "source": "test camera"})
            sid = ws.receive_json()["session"]
            for pose, t in zip(sample.landmarks, sample.timestamp_ms):
                ws.send_json({"type": "pose", "t": int(t) + 1_000_000,
                              "landmarks": pose.tolist()})
                ws.receive_json()
            ws.send_json({"type": "end"})
            while ws.receive_json()["type"] != "ended":
                pass
        listed = c.get("/api/history/sessions?profile=gym").json()["sessions"]
        one = c.get(f"/api/history/sessions/{sid}").json()
    assert [s["id"] for s in listed] == [sid]
    assert listed[0]["status"] == "ended" and listed[0]["source"] == "test camera"
    assert listed[0]["exercises"][0]["name"] == "squat" and listed[0]["total_reps"] >= 4
    assert len(one["reps"]) == listed[0]["total_reps"] and len(one["sets"]) == 1


def test_the_demo_is_not_kept_in_the_history(tmp_path):
    """The page's demo replays the bundled squats through the live path: it is counted and
    summed up like a session, but no one trained, so the history keeps nothing of it."""
    from repsense.app.server import Settings, create_app
    from repsense.pose import PoseRecording
    from tests.conftest import ROOT

    sample = PoseRecording.load(ROOT / "repsense" / "samples" / "squats.npz")
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'h.db'}", profile="gym")
    with TestClient(create_app(settings)) as c:
        with c.websocket_connect("/ws") as ws:
            ws.send_json({"type": "start", "exercise": "squat", "source": "demo (bundled sample recording)",
                          "demo": True})
            ws.receive_json()
            frames = [{"t": int(t) + 1_000_000, "landmarks": pose.round(4).tolist()}
                      for pose, t in zip(sample.landmarks, sample.timestamp_ms)]
            for i in range(0, len(frames), 200):          # as the page batches them
                ws.send_json({"type": "poses", "frames": frames[i:i + 200]})
                assert ws.receive_json()["type"] == "frame"
            ws.send_json({"type": "end"})
            while (msg := ws.receive_json())["type"] != "ended":
                pass
        listed = c.get("/api/history/sessions").json()["sessions"]
        streaks = c.get("/api/history/streaks").json()
        bests = c.get("/api/history/bests").json()
    assert msg["summary"]["total_reps"] == 5           # counted and summed up on the page ...
    assert listed == []                                # ... and kept nowhere
    assert streaks["active_days"] == 0 and streaks["current_days"] == 0, streaks
    assert bests == {"exercises": {}}, bests


def test_a_live_session_is_stored_under_the_profile_the_page_sends(tmp_path):
    from repsense.app.server import Settings, create_app
    from repsense.pose import PoseRecording
    from tests.conftest import ROOT

    settings = Settings(db_url=f"sqlite:///{tmp_path / 'h.db'}", profile="gym")
    with TestClient(create_app(settings)) as c:
        with c.websocket_connect("/ws") as ws:
            ws.send_json({"type": "start", "exercise": "squat", "profile": "../../etc"})
            assert ws.receive_json()["code"] == "bad_message"
            ws.send_json({"type": "start", "exercise": "squat", "profile": "ann"})
            sid = ws.receive_json()["session"]
            sample = PoseRecording.load(ROOT / "repsense" / "samples" / "squats.npz")
            frames = [{"t": int(t) + 1_000_000, "landmarks": pose.tolist()}
                      for pose, t in zip(sample.landmarks, sample.timestamp_ms)]
            for i in range(0, len(frames), 250):          # under the 1 MB message limit
                ws.send_json({"type": "poses", "frames": frames[i:i + 250]})
                assert ws.receive_json()["type"] == "frame"
            ws.send_json({"type": "end"})
            while ws.receive_json()["type"] != "ended":
                pass
        ann = c.get("/api/history/sessions?profile=ann").json()["sessions"]
        gym = c.get("/api/history/sessions?profile=gym").json()["sessions"]
    assert [s["id"] for s in ann] == [sid] and gym == []


def test_an_uploaded_video_is_stored(tmp_path):
    from repsense.app.server import Settings, create_app
    from tests.conftest import require_data

    clip = require_data("videos", "clips", "test_video_squat.mp4")
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'h.db'}", work_dir=tmp_path / "work")
    with TestClient(create_app(settings)) as c:
        job = c.post("/api/analyze?name=my%20squats.mp4&exercise=squat",
                     content=clip.read_bytes()).json()["job"]
        deadline = time.monotonic() + 300
        while (status := c.get(f"/api/analyze/{job}").json())["status"] not in ("done", "failed"):
            assert time.monotonic() < deadline
            time.sleep(0.5)
        [listed] = c.get("/api/history/sessions").json()["sessions"]
    assert status["status"] == "done"
    assert (listed["source"], listed["profile"], listed["status"]) == \
        ("my squats.mp4", "default", "ended")
    assert listed["total_reps"] == status["report"]["total_reps"] == 3
