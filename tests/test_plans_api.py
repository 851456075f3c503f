"""Plans in the store and over HTTP: the /api/plans round trip with its errors and the token, a
guided live session over the WebSocket that is stored with its plan result, and the progression
rules on stored sessions (both dialects)."""

from __future__ import annotations

import numpy as np
import pytest
from starlette.testclient import TestClient

from repsense.app.server import Settings, create_app
from repsense.engine.events import RepCompleted
from repsense.plans import Guide, parse_plan
from repsense.plans.progression import next_plan, suggestions
from repsense.pose import PoseRecording
from repsense.session import analyze_recording
from repsense.store import Store, StoreSink
from repsense.store.plans import add_plan, delete_plan, find_plan, plan_history, user_plans
from tests.conftest import ROOT
from tests.history_fixtures import db_url, postgres_server  # noqa: F401

SAMPLE = PoseRecording.load(ROOT / "repsense" / "samples" / "squats.npz")   # 5 good squats
EPOCH = 1_764_000_000_000
TOKEN = "s3cret"
ONE_STEP = {"name": "Quick squats", "steps": [{"exercise": "squat", "sets": 1, "reps": 5,
                                               "rest_s": 20}]}


@pytest.fixture
def app_client(tmp_path):
    settings = Settings(token=TOKEN, db_url=f"sqlite:///{tmp_path / 'h.db'}", profile="ann")
    with TestClient(create_app(settings)) as c:
        c.headers["Authorization"] = f"Bearer {TOKEN}"
        yield c


def test_the_plans_api_round_trip(app_client):
    c = app_client
    listed = c.get("/api/plans").json()["plans"]
    assert [p["id"] for p in listed] == ["beginner_full_body", "legs", "seven_minute",
                                         "upper_body"]
    assert all(p["builtin"] for p in listed)
    assert listed[0]["steps"][0] == {"exercise": "squat", "sets": 2, "reps": 10, "rest_s": 60.0,
                                     "display": "Squat", "hold": False}
    body = {"name": "Mine", "steps": [{"exercise": "squat", "sets": 1, "reps": 10, "rest_s": 20},
                                      {"exercise": "plank", "sets": 2, "hold_s": 30}]}
    r = c.post("/api/plans", json=body)
    assert r.status_code == 201
    pid = r.json()["id"]
    mine = c.get(f"/api/plans/{pid}").json()
    assert mine["name"] == "Mine" and not mine["builtin"]
    assert [s.get("reps") or s.get("hold_s") for s in mine["steps"]] == [10, 30.0]
    assert pid in [p["id"] for p in c.get("/api/plans").json()["plans"]]
    assert c.get("/api/plans?profile=bob").json()["plans"][-1]["id"] != pid   # per profile
    body["steps"][0]["reps"] = 12
    assert c.put(f"/api/plans/{pid}", json=body).status_code == 200
    assert c.get("/api/plans/Mine").json()["steps"][0]["reps"] == 12       # by name too
    assert c.delete(f"/api/plans/{pid}").json() == {"deleted": pid}
    assert c.delete(f"/api/plans/{pid}").status_code == 404
    assert c.get(f"/api/plans/{pid}").status_code == 404


@pytest.mark.parametrize("body,message", [
    ({"name": "x", "steps": [{"exercise": "sqat", "sets": 1, "reps": 5}]},
     "unknown exercise 'sqat'"),
    ({"name": "x", "steps": [{"exercise": "squat", "sets": 0, "reps": 5}]},
     "sets must be at least 1"),
    ({"name": "x", "steps": [{"exercise": "squat", "sets": 1, "reps": 5, "rest_s": -10}]},
     "rest_s cannot be negative"),
    ({"name": "x", "steps": [{"exercise": "plank", "sets": 1, "reps": 5}]},
     "plank is a timed hold"),
    ({"name": "x", "steps": []}, "at least one step"),
    ({"name": "Legs", "steps": [{"exercise": "squat", "sets": 1, "reps": 5}]},
     "a built-in plan is called 'Legs'"),
])
def test_a_bad_plan_is_a_400_with_the_parsers_message(app_client, body, message):
    r = app_client.post("/api/plans", json=body)
    assert r.status_code == 400 and r.json()["error"] == "bad_plan"
    assert message in r.json()["message"]


def test_other_refusals(app_client, tmp_path):
    c = app_client
    assert c.post("/api/plans", content=b"{not json").status_code == 400
    assert c.post("/api/plans", json=ONE_STEP).status_code == 201
    dup = c.post("/api/plans", json=ONE_STEP)
    assert dup.status_code == 400 and "already have a plan called" in dup.json()["message"]
    gone = c.delete("/api/plans/legs")
    assert gone.status_code == 400 and "built-in" in gone.json()["message"]
    assert c.put("/api/plans/legs", json=ONE_STEP).status_code == 400
    del c.headers["Authorization"]
    assert c.get("/api/plans").status_code == 401                # the token rules of every route
    assert c.post("/api/plans", json=ONE_STEP).status_code == 401
    with TestClient(create_app(Settings())) as bare:             # no history: built-ins only
        assert len(bare.get("/api/plans").json()["plans"]) == 4
        assert bare.post("/api/plans", json=ONE_STEP).status_code == 503


def _frames(rec: PoseRecording) -> list[dict]:
    out = []
    for i, (pose, t) in enumerate(zip(rec.landmarks, rec.timestamp_ms)):
        lm = None if np.isnan(pose[:, 0]).all() else np.nan_to_num(pose, nan=0.0).tolist()
        out.append({"t": EPOCH + int(t), "landmarks": lm, "seq": i})
    return out


def test_a_guided_live_session_leads_the_set_and_is_stored_with_its_plan(app_client):
    c = app_client
    pid = c.post("/api/plans", json=ONE_STEP).json()["id"]
    with c.websocket_connect("/ws") as ws:
        ws.send_json({"type": "start", "exercise": "auto", "plan": pid, "width": 640,
                      "height": 480})
        started = ws.receive_json()
        assert started["guide"]["title"] == "Squat · set 1 of 1"
        assert started["guide"]["progress"] == "0/5" and started["plan"]["name"] == "Quick squats"
        assert started["prompts"] == [{"kind": "go", "text": "Squat: 5 reps"}]
        progress, prompts, rest = [], [], []
        for f in _frames(SAMPLE):
            ws.send_json({"type": "pose", **f})
            frame = ws.receive_json()
            progress.append(frame["guide"]["progress"])
            prompts += frame["prompts"]
            rest.append(frame["guide"]["rest_left_s"])
        assert progress[-1] == "5/5" and progress.index("5/5") > progress.index("4/5")
        assert prompts[0]["kind"] == "set_done" and "Set done" in prompts[0]["text"]
        ws.send_json({"type": "plan", "action": "bogus"})
        assert ws.receive_json()["code"] == "bad_message"
        ws.send_json({"type": "end"})
        ended = ws.receive_json()
    assert ended["plan_result"]["steps"][0]["sets"][0]["done"] == 5
    assert ended["plan_result"]["adherence"] == 1.0
    nxt = c.get(f"/api/plans/{pid}/next").json()
    assert [s["adherence"] for s in nxt["sessions"]] == [1.0]
    assert nxt["sessions"][0]["session_id"] == started["session"]
    listed = c.get("/api/plans/sessions").json()["sessions"]
    assert listed[0]["plan_name"] == "Quick squats"


def test_the_rest_buttons_over_the_websocket(app_client):
    plan = {"name": "Two", "steps": [{"exercise": "squat", "sets": 2, "reps": 2, "rest_s": 60}]}
    pid = app_client.post("/api/plans", json=plan).json()["id"]
    with app_client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "start", "plan": pid, "targets": [1]})
        assert ws.receive_json()["guide"]["progress"] == "0/1"      # a target accepted: 1 rep
        for f in _frames(SAMPLE)[:140]:
            ws.send_json({"type": "pose", **f})
            frame = ws.receive_json()
            if frame["guide"]["phase"] == "rest":
                break
        assert frame["guide"]["phase"] == "rest"
        left = frame["guide"]["rest_left_s"]
        ws.send_json({"type": "plan", "action": "add_rest"})
        more = ws.receive_json()
        assert more["guide"]["rest_left_s"] == pytest.approx(left + 30, abs=0.5)
        assert more["prompts"] == [{"kind": "rest", "text": "30 more seconds"}]
        ws.send_json({"type": "plan", "action": "skip"})
        skipped = ws.receive_json()
        assert (skipped["guide"]["phase"], skipped["guide"]["set"]) == ("work", 2)
        ws.send_json({"type": "start", "plan": "nope"})
        assert ws.receive_json()["type"] == "error"
    with app_client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "start", "plan": "no such plan"})
        assert ws.receive_json() == {"type": "error", "code": "bad_message",
                                     "message": "no plan 'no such plan'"}
        ws.send_json({"type": "start", "plan": pid, "targets": [0]})
        assert "reps must be at least 1" in ws.receive_json()["message"]


# --- progression on stored sessions ----------------------------------------------------------

def _run(store: Store, plan, started_at: float, profile: str = "ann", bad: bool = False) -> dict:
    """One guided session of ``plan`` stored: the real sample (5 good squats), or 5 squats with
    bad form."""
    guide = Guide(plan)
    sink = StoreSink(store, profile=profile, started_at=started_at, plan_result=guide.result,
                     exercise="squat")
    if not bad:
        analyze_recording(SAMPLE, guide=guide, sinks=[sink])
    else:
        for i in range(5):
            t = 3000 * (i + 1)
            ev = RepCompleted(t, exercise="squat", count=i + 1, start_ms=t - 2000, end_ms=t,
                              bottom_ms=t - 1000, concentric_s=1.0, eccentric_s=1.0, rom_deg=50.0,
                              form_score=40.0, faults=("not_deep",), good=i < 2)
            guide.update([ev], t)
            sink.emit([ev])
        guide.finish(16_000)
        sink.close()
    return guide.result()


def test_progression_suggests_more_after_two_good_sessions_and_staying_when_form_drops(db_url):
    with Store(db_url) as store:
        pid = add_plan(store, parse_plan(ONE_STEP), "ann")
        plan = find_plan(store, pid, "ann")
        assert plan is not None and [p.id for p in user_plans(store, "ann")] == [pid]
        assert suggestions(plan, plan_history(store, pid, "ann")) == []
        _run(store, plan, 1000.0)
        assert suggestions(plan, plan_history(store, pid, "ann")) == []    # one session only
        _run(store, plan, 2000.0)
        history = plan_history(store, pid, "ann")
        assert [h["adherence"] for h in history] == [1.0, 1.0]
        found = suggestions(plan, history)
        assert [(s["kind"], s["target"], s["suggested"]) for s in found] == [("more", 5, 6)]
        assert found[0]["text"] == ("Squat: every set done with good form two sessions running. "
                                    "Try 6 reps (from 5 reps).")
        ignored, _ = next_plan(plan, history)
        assert ignored.steps[0].reps == 5
        accepted, _ = next_plan(plan, history, accepted=True)
        assert accepted.steps[0].reps == 6
        result = _run(store, accepted, 3000.0)             # 5 of 6: the target stays raised
        assert result["adherence"] == pytest.approx(5 / 6, abs=1e-3) and not result["complete"]
        history = plan_history(store, pid, "ann")
        carried, found = next_plan(plan, history)
        assert carried.steps[0].reps == 6 and found == []
        _run(store, carried, 4000.0, bad=True)             # 2 good reps of 5: form dropped
        found = suggestions(plan, plan_history(store, pid, "ann"))
        assert [(s["kind"], s["suggested"]) for s in found] == [("stay", 6)]
        assert "form dropped last time (40% good)" in found[0]["text"]
        assert plan_history(store, pid, "bob") == []        # per profile
        assert delete_plan(store, pid, "ann")
        assert len(plan_history(store, pid, "ann")) == 4    # the sessions stay in the history


def test_a_guided_session_exports_and_imports_with_its_plan_result(tmp_path):
    import json

    with Store(f"sqlite:///{tmp_path / 'a.db'}") as store:
        plan = find_plan(store, "legs", "ann")
        result = _run(store, plan, 1000.0)
        _run(store, parse_plan(ONE_STEP), 2000.0)   # not a stored plan: kept under its name
        analyze_recording(SAMPLE, "squat", sinks=[StoreSink(store, profile="ann")])  # no plan
        exported = store.export_json()
    doc = json.loads(exported)
    assert [("plan" in s) for s in doc["sessions"]] == [True, True, False]
    assert doc["sessions"][0]["plan"] == result
    with Store(f"sqlite:///{tmp_path / 'b.db'}") as copy:
        assert copy.import_doc(doc) == (3, 0)
        assert copy.export_json() == exported
        assert [h["plan_id"] for h in plan_history(copy, None, "ann")] == ["Quick squats", "legs"]
