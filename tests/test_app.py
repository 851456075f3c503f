"""The web app's protocol and API in-process (Starlette's test client), and `repsense serve` as a
real server on 127.0.0.1: messages in, events out; every malformed message gets an error frame."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from starlette.testclient import TestClient

from repsense.app.live import DETACHED_TTL_S, MAX_TEXT_BYTES, SessionManager
from repsense.app.server import Settings, create_app
from repsense.pose import PoseRecording
from repsense.session import analyze_recording

from conftest import ROOT, free_port, require_data

SAMPLE = ROOT / "repsense" / "samples" / "squats.npz"
EPOCH = 1_764_000_000_000   # the page sends Date.now(): large client times


def _frames(rec: PoseRecording, start: int = 0, stop: int | None = None) -> list[dict]:
    out = []
    for i in range(start, len(rec) if stop is None else stop):
        pose = rec.landmarks[i]
        lm = None if np.isnan(pose[:, 0]).all() else np.nan_to_num(pose, nan=0.0).tolist()
        out.append({"type": "pose", "t": EPOCH + int(rec.timestamp_ms[i]), "landmarks": lm,
                    "seq": i})
    return out


@pytest.fixture
def client():
    with TestClient(create_app(Settings())) as c:
        yield c


@pytest.fixture(scope="module")
def sample() -> PoseRecording:
    return PoseRecording.load(SAMPLE)


def _start(ws, **fields) -> dict:
    ws.send_json({"type": "start", "exercise": "squat", "width": 640, "height": 480, **fields})
    msg = ws.receive_json()
    assert msg["type"] == "started", msg
    return msg


def _count_reps(frames: list[dict]) -> int:
    return sum(e["type"] == "RepCompleted" for f in frames for e in f.get("events", []))


def test_health_and_catalogue(client):
    assert client.get("/healthz").json()["status"] == "ok"
    names = {e["name"] for e in client.get("/api/exercises").json()}
    assert {"squat", "push_up", "plank"} <= names


def test_live_session_counts_like_analyze(client, sample):
    expected = analyze_recording(sample, "squat").report.total_reps
    assert expected == 5
    with client.websocket_connect("/ws") as ws:
        started = _start(ws)
        assert started["resumed"] is False and started["state"]["count"] == 0
        answers = []
        for msg in _frames(sample):
            ws.send_json(msg)
            answers.append(ws.receive_json())
        assert all(a["type"] == "frame" for a in answers)
        assert [a["seq"] for a in answers] == list(range(len(sample)))
        assert _count_reps(answers) == expected
        assert answers[-1]["state"]["count"] == expected
        assert answers[-1]["state"]["exercise"] == "squat"
        ws.send_json({"type": "end"})
        ended = ws.receive_json()
    assert ended["type"] == "ended"
    summary = ended["summary"]
    assert summary["total_reps"] == expected
    assert summary["exercises"][0]["name"] == "squat"
    assert summary["time_under_tension_s"] > 0
    listed = client.get("/api/sessions").json()["sessions"]
    assert listed[0]["id"] == started["session"] and listed[0]["total_reps"] == expected
    assert listed[0]["live"] is False
    one = client.get(f"/api/sessions/{started['session']}").json()
    assert one["exercises"][0] == {"name": "squat", "reps": expected,
                                   "good_reps": one["exercises"][0]["good_reps"], "hold_s": None}
    assert client.get("/api/sessions/nope").status_code == 404


def test_rep_events_carry_form_and_tempo(client, sample):
    with client.websocket_connect("/ws") as ws:
        _start(ws)
        frames = _frames(sample)
        events = []
        for i in range(0, len(frames), 250):      # batches under the 1 MB message limit, as the page
            ws.send_json({"type": "poses", "frames": frames[i:i + 250]})
            events += ws.receive_json()["events"]
    reps = [e for e in events if e["type"] == "RepCompleted"]
    assert len(reps) == 5
    for rep in reps:
        assert 0 <= rep["form_score"] <= 100
        assert rep["duration_s"] > 0.5 and rep["concentric_s"] > 0 and rep["eccentric_s"] > 0
        assert rep["rom_pct"] is None or rep["rom_pct"] > 0
        assert 0 <= rep["start_ms"] < rep["end_ms"] < 20_000   # relative to the first pose


@pytest.mark.parametrize("message, code", [
    ("not json", "bad_json"),
    ("[1, 2]", "bad_message"),
    ('{"no": "type"}', "bad_message"),
    ('{"type": "dance"}', "bad_message"),
    ('{"type": "pose", "t": 1, "landmarks": [[0, 0, 0, 1]]}', "bad_pose"),
    ('{"type": "pose", "t": 1, "landmarks": "nope"}', "bad_pose"),
    ('{"type": "pose", "t": 1, "landmarks": [["a", 0, 0, 1]]}', "bad_pose"),
    ('{"type": "pose", "t": "soon", "landmarks": null}', "bad_time"),
    ('{"type": "pose", "t": 1e400, "landmarks": null}', "bad_time"),
    ('{"type": "poses", "frames": []}', "bad_message"),
    ('{"type": "record", "on": "yes"}', "bad_message"),
    ('{"type": "start"}', "bad_message"),
])
def test_malformed_messages_get_an_error_frame_and_change_nothing(client, sample, message, code):
    with client.websocket_connect("/ws") as ws:
        _start(ws)
        for msg in _frames(sample, 0, 60):
            ws.send_json(msg)
            ws.receive_json()
        ws.send_text(message)
        err = ws.receive_json()
        assert err["type"] == "error" and err["code"] == code, err
        assert err["message"]
        for msg in _frames(sample, 60):     # the session goes on and counts everything
            ws.send_json(msg)
            last = ws.receive_json()
        assert last["state"]["count"] == 5


def test_time_going_backwards_nan_floods_and_oversized_text(client, sample):
    with client.websocket_connect("/ws") as ws:
        _start(ws)
        frames = _frames(sample)
        for msg in frames[:100]:
            ws.send_json(msg)
            ws.receive_json()
        ws.send_json(frames[50])                     # an old time
        assert ws.receive_json()["code"] == "bad_time"
        nan_pose = [[math.nan] * 4] * 33
        ws.send_text(json.dumps({"type": "pose", "t": frames[100]["t"], "landmarks": nan_pose}))
        # NaN is not JSON; Python writes it and the server's parser reads it as NaN: nobody seen
        assert ws.receive_json()["state"]["person"] is False
        ws.send_text("x" * (MAX_TEXT_BYTES + 10))
        assert ws.receive_json()["code"] == "too_large"
        for msg in frames[101:]:
            ws.send_json(msg)
            last = ws.receive_json()
        assert last["state"]["count"] == 5


def test_pose_before_start_and_binary_without_session(client):
    with client.websocket_connect("/ws") as ws:
        ws.send_json({"type": "ping"})
        assert ws.receive_json() == {"type": "pong"}
        ws.send_json({"type": "pose", "t": 1, "landmarks": None})
        assert ws.receive_json()["code"] == "no_session"
        ws.send_bytes(b"\x00" * 20)
        assert ws.receive_json()["code"] == "no_session"
        ws.send_json({"type": "start", "exercise": "no_such_thing"})
        assert ws.receive_json()["code"] == "bad_message"


def test_a_dropped_connection_resumes_and_loses_nothing(client, sample):
    frames = _frames(sample)
    with client.websocket_connect("/ws") as ws:
        sid = _start(ws)["session"]
        for msg in frames[:250]:
            ws.send_json(msg)
            ws.receive_json()
    # the page measured these while it was disconnected; it sends them as one batch
    buffered = [{"t": f["t"], "landmarks": f["landmarks"], "seq": f["seq"]} for f in frames[250:400]]
    with client.websocket_connect("/ws") as ws:
        resumed = _start(ws, session=sid)
        assert resumed["resumed"] is True and resumed["session"] == sid
        ws.send_json({"type": "poses", "frames": buffered})
        batch = ws.receive_json()
        assert batch["seq"] == 399
        for msg in frames[400:]:
            ws.send_json(msg)
            last = ws.receive_json()
        assert last["state"]["count"] == 5
        ws.send_json({"type": "end"})
        assert ws.receive_json()["summary"]["total_reps"] == 5
    with client.websocket_connect("/ws") as ws:      # an ended session cannot be resumed
        ws.send_json({"type": "start", "session": sid})
        assert ws.receive_json()["code"] == "ended"


def test_detached_sessions_end_after_the_ttl(sample):
    manager = SessionManager()
    live, _ = manager.start({"type": "start", "exercise": "squat"})
    for msg in _frames(sample):
        live.handle(msg)
    manager.detach(live)
    assert manager.reap(now=time.monotonic() + 1) == 0
    assert manager.reap(now=time.monotonic() + DETACHED_TTL_S + 1) == 1
    assert live.session.ended and manager.get(live.id) is live.session
    assert live.session.report().total_reps == 5


def test_recording_downloads_as_a_recording_analyze_counts_the_same(client, sample, tmp_path):
    with client.websocket_connect("/ws") as ws:
        sid = _start(ws)["session"]
        ws.send_json({"type": "record", "on": True})
        assert ws.receive_json() == {"type": "recording", "on": True, "frames": 0}
        for msg in _frames(sample):
            ws.send_json(msg)
            last = ws.receive_json()
        ws.send_json({"type": "record", "on": False})
        assert ws.receive_json()["frames"] == len(sample)
        shown = last["state"]["count"]
    got = client.get(f"/api/sessions/{sid}/recording.npz")
    assert got.status_code == 200
    assert "attachment" in got.headers["content-disposition"]
    path = tmp_path / "rec.npz"
    path.write_bytes(got.content)
    rec = PoseRecording.load(path)
    assert rec.image_size == (640, 480) and len(rec) == len(sample)
    assert analyze_recording(rec, "squat").report.total_reps == shown == 5


def test_demo_is_the_sample_recording(client, sample):
    demo = client.get("/api/demo").json()
    assert len(demo["frames"]) == len(sample) and demo["exercise"] == "squat"
    assert len(demo["frames"][0]["landmarks"]) == 33


def test_static_files_and_models_never_leave_their_folders(client):
    assert client.get("/models/pose_landmarker_lite.task").status_code == 200
    assert client.get("/models/..%2Fcli.py").status_code == 404
    assert client.get("/models/pose_landmarker_lite.task.bak").status_code == 404
    assert client.get("/static/../server.py").status_code == 404
    assert client.get("/static/%2e%2e/server.py").status_code == 404
    assert client.get("/vendor/tasks-vision/../../../../pyproject.toml").status_code == 404


def test_uploads_are_checked(sample, synthetic_video):
    with TestClient(create_app(Settings(max_upload_mb=0.01))) as small:
        r = small.post("/api/analyze?name=big.mp4", content=b"\0" * 20000)
        assert r.status_code == 413 and "limit" in r.json()["error"]
        r = small.post("/api/analyze?name=notes.txt", content=b"hello")
        assert r.status_code == 415
        r = small.post("/api/analyze?name=empty.mp4", content=b"")
        assert r.status_code == 400 and "empty" in r.json()["error"]
        r = small.post("/api/analyze?name=fake.mp4", content=b"this is not a video at all")
        assert r.status_code == 415 and "fake.mp4" in r.json()["error"]
        assert "/tmp" not in r.json()["error"]    # the server's paths stay on the server
        r = small.post("/api/analyze?name=a.mp4&exercise=nope", content=b"x")
        assert r.status_code == 400
        assert small.get("/api/analyze/../../etc").status_code == 404
        assert small.get("/api/analyze/zzzzzzzzzzzz").status_code == 404
    with TestClient(create_app(Settings())) as c:
        video = synthetic_video(frames=20)
        r = c.post("/api/analyze?name=room.mp4", content=video.read_bytes())
        assert r.status_code == 202
        job = r.json()["job"]
        for _ in range(600):
            status = c.get(f"/api/analyze/{job}").json()
            if status["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        assert status["status"] == "failed" and "nobody was found" in status["error"]


def test_an_uploaded_real_clip_is_analysed_with_video_and_plot():
    clips = require_data("videos", "clips")
    clip = clips / "PushUp-Counter_pushup2.mp4"
    if not clip.exists():
        pytest.fail(f"{clip} is missing")
    with TestClient(create_app(Settings())) as c:
        r = c.post("/api/analyze?name=pushups.mp4&exercise=push_up", content=clip.read_bytes())
        assert r.status_code == 202, r.text
        job = r.json()["job"]
        seen = []
        for _ in range(3000):
            status = c.get(f"/api/analyze/{job}").json()
            seen.append(status["progress"])
            if status["status"] in ("done", "failed"):
                break
            time.sleep(0.1)
        assert status["status"] == "done", status
        assert status["report"]["total_reps"] == 4        # labels.csv: 4 push-ups
        assert status["report"]["path"] == "pushups.mp4"
        assert seen == sorted(seen)                       # progress only goes forward
        video = c.get(status["video"])
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        assert len(video.content) > 10_000
        plot = c.get(status["plot"])
        assert plot.status_code == 200 and plot.content[:4] == b"\x89PNG"


def test_frames_mode_runs_the_pose_model_on_the_server(client):
    import cv2

    clips = require_data("videos", "clips")
    cap = cv2.VideoCapture(str(clips / "PushUp-Counter_pushup2.mp4"))
    cap.set(cv2.CAP_PROP_POS_MSEC, 3000)   # after the title card and the blurred shot
    jpegs = []
    while len(jpegs) < 15:
        ok, frame = cap.read()
        if not ok:
            break
        jpegs.append(cv2.imencode(".jpg", frame)[1].tobytes())
    cap.release()
    assert len(jpegs) == 15
    with client.websocket_connect("/ws") as ws:
        started = _start(ws, mode="frames", exercise="push_up")
        assert started["mode"] == "frames"
        answers = []
        for i, jpeg in enumerate(jpegs):
            ws.send_bytes((EPOCH + i * 66).to_bytes(8, "big") + jpeg)
            answers.append(ws.receive_json())
        ws.send_bytes((EPOCH + 2000).to_bytes(8, "big") + b"not a jpeg")
        assert ws.receive_json()["code"] == "bad_message"
    assert all(a["type"] == "frame" for a in answers)
    found = [a for a in answers if a["landmarks"] is not None]
    assert len(found) >= 10
    assert np.asarray(found[-1]["landmarks"]).shape == (33, 4)


def test_token_guards_every_request_when_set():
    with TestClient(create_app(Settings(token="s3cret"))) as c:
        assert c.get("/healthz").status_code == 401
        assert c.get("/api/sessions").status_code == 401
        assert c.get("/healthz", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/healthz", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        from starlette.websockets import WebSocketDisconnect

        with pytest.raises(WebSocketDisconnect) as closed:
            with c.websocket_connect("/ws") as ws:
                ws.receive_json()
        assert closed.value.code == 4401
        page = c.get("/?token=s3cret")
        assert page.status_code == 200 and "repsense_token" in page.headers["set-cookie"]
        assert "HttpOnly" in page.headers["set-cookie"]
        assert c.get("/api/sessions").status_code == 200     # the cookie now
        with c.websocket_connect("/ws") as ws:
            ws.send_json({"type": "ping"})
            assert ws.receive_json() == {"type": "pong"}



def test_repsense_serve_runs_a_real_server_that_survives_bad_clients(sample):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "repsense", "serve", "--no-browser",
                             "--port", str(port)], stderr=subprocess.PIPE, text=True)
    try:
        import urllib.request

        for _ in range(150):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("repsense serve did not come up")
        url = f"ws://127.0.0.1:{port}/ws"
        with connect(url) as bad:                  # an oversized frame closes that connection
            bad.send(json.dumps({"type": "start", "exercise": "squat"}))
            json.loads(bad.recv())
            bad.send(b"\0" * (5 << 20))
            with pytest.raises(ConnectionClosed) as closed:
                bad.recv(timeout=10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        with connect(url) as ws:                   # the server serves the next client
            ws.send(json.dumps({"type": "start", "exercise": "squat", "width": 640,
                                "height": 480}))
            assert json.loads(ws.recv())["type"] == "started"
            for msg in _frames(sample):
                ws.send(json.dumps(msg))
                last = json.loads(ws.recv())
            assert last["state"]["count"] == 5
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as page:
            assert page.status == 200 and b"repsense" in page.read()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    assert f"http://127.0.0.1:{port}/" in err
    assert "Traceback" not in err


def test_serve_refuses_a_busy_port_with_one_line():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = subprocess.run([sys.executable, "-m", "repsense", "serve", "--no-browser",
                              "--port", str(port)], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "Traceback" not in out.stderr and str(port) in out.stderr


def test_frames_mode_errors_are_frames_not_crashes(sample):
    """A model that cannot load, a frame whose time goes back, a model failing on a frame."""
    class Broken:
        def __call__(self, jpeg: bytes, t_ms: int):
            raise RuntimeError("graph failed")

        def close(self) -> None:
            pass

    def no_model():
        raise OSError("model file missing")

    manager = SessionManager(pose_estimator_factory=no_model)
    from repsense.app.live import ProtocolError

    with pytest.raises(ProtocolError) as err:
        manager.start({"type": "start", "mode": "frames", "exercise": "squat"})
    assert err.value.code == "pose_failed" and "could not load" in err.value.message
    assert not manager.live
    manager = SessionManager(pose_estimator_factory=Broken)
    live, _ = manager.start({"type": "start", "mode": "frames", "exercise": "squat"})
    with pytest.raises(ProtocolError) as err:
        live.handle_frame((EPOCH).to_bytes(8, "big") + b"jpeg")
    assert err.value.code == "pose_failed"
    live.pose_estimator = lambda jpeg, t: None                 # nobody in view
    live.handle_frame((EPOCH + 100).to_bytes(8, "big") + b"jpeg")
    with pytest.raises(ProtocolError) as err:
        live.handle_frame((EPOCH + 50).to_bytes(8, "big") + b"jpeg")
    assert err.value.code == "bad_time"
    # a landmarks session resumed by a page that fell back to frames gets a model
    manager = SessionManager(pose_estimator_factory=Broken)
    live, _ = manager.start({"type": "start", "exercise": "squat"})
    again, started = manager.start({"type": "start", "session": live.id, "mode": "frames"})
    assert again is live and started["mode"] == "frames" and live.pose_estimator is not None
