"""The page's teach API: learn from a live session's recorded poses or an uploaded recording,
look at the plot, save, and find the exercise in /api/exercises."""

from __future__ import annotations

import numpy as np
import pytest
from starlette.testclient import TestClient

from repsense.app.server import Settings, create_app
from repsense.pose import PoseRecording

@pytest.fixture
def client(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REPSENSE_EXERCISES", str(tmp_path / "exercises"))
    with TestClient(create_app(Settings())) as c:
        yield c


def _frames(rec: PoseRecording) -> list[dict]:
    return [{"t": int(t), "landmarks": None if np.isnan(p[:, 0]).all() else p.tolist()}
            for p, t in zip(rec.landmarks, rec.timestamp_ms)]


def test_teach_from_a_recorded_live_set_then_save(client, measured_squats):
    rec = PoseRecording.load(measured_squats)
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "start", "exercise": "generic", "width": 640, "height": 360})
        sid = ws.receive_json()["session"]
        ws.send_json({"type": "record", "on": True})
        assert ws.receive_json()["type"] == "recording"
        ws.send_json({"type": "poses", "frames": _frames(rec)[:100]})   # an earlier recording
        ws.receive_json()
        ws.send_json({"type": "record", "on": False})
        ws.receive_json()
        ws.send_json({"type": "record", "on": True})
        first = ws.receive_json()["frames"]
        assert first == 100
        later = [dict(f, t=f["t"] + 20_000) for f in _frames(rec)]
        ws.send_json({"type": "poses", "frames": later})
        ws.receive_json()
        ws.send_json({"type": "record", "on": False})
        ws.receive_json()
        answer = client.post(f"/api/teach?sid={sid}&name=Box Squat&from_frame={first}").json()
        nothing = client.post(f"/api/teach?sid={sid}&name=x&from_frame=10000")
        assert nothing.status_code == 400 and "nothing was recorded" in nothing.json()["error"]
    assert answer["name"] == "box_squat" and answer["reps"] == 5, answer
    assert "knee" in answer["signal"] and 'name = "box_squat"' in answer["text"]
    png = client.get(answer["plot"])
    assert png.status_code == 200 and png.content[:4] == b"\x89PNG"
    assert "box_squat" not in {e["name"] for e in client.get("/api/exercises").json()}
    assert client.post(answer["save"]).json()["saved"] == "box_squat"
    listed = {e["name"]: e for e in client.get("/api/exercises").json()}
    assert listed["box_squat"]["taught"] is True and listed["squat"]["taught"] is False
    assert client.post(answer["save"]).status_code == 409          # already there
    assert client.post(answer["save"] + "?overwrite=1").status_code == 200


def test_teach_from_an_uploaded_recording_and_the_refusals(client, measured_squats):
    body = measured_squats.read_bytes()
    ok = client.post("/api/teach?name=my_squat&start=0&end=9", content=body)
    assert ok.status_code == 200 and ok.json()["reps"] == 2, ok.json()
    one = client.post("/api/teach?name=my_squat&start=0&end=4.2", content=body)
    assert one.status_code == 400 and "only one clear rep" in one.json()["error"]
    junk = client.post("/api/teach?name=my_squat", content=b"junk")
    assert junk.status_code == 400 and "pose recording" in junk.json()["error"], junk.json()
    assert client.post("/api/teach?name=squat", content=body).status_code == 400
    assert client.post("/api/teach", content=body).status_code == 400
    assert client.post("/api/teach?name=x&sid=nope").status_code == 404
    assert client.post("/api/teach/nope/save").status_code == 404
