"""Camera nodes over MQTT end to end, against Debian's Mosquitto and the embedded amqtt broker (each
in its own process on 127.0.0.1): a real clip through the real pose model, the broker going away
mid-clip, the node killed while the broker is down, and a node that streams pose only."""

from __future__ import annotations

import csv
import json
import pathlib
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("paho.mqtt.client")
pytest.importorskip("amqtt.broker")

from mqtt_brokers import ROOT, BrokerProcess, Collector, Lines, node_cmd  # noqa: E402
from conftest import require_data  # noqa: E402

CLIP = "test_video_squat.mp4"   # 3 squats in 10.7 s, side view
SHIPPED = ROOT / "tests" / "fixtures" / "lunge.mp4"   # CC0 (tests/fixtures/NOTICE): 4 lunges, 13 s
SHIPPED_REPS = 4


def clip_label(name: str) -> int:
    with open(require_data("videos", "clips", "labels.csv"), newline="") as f:
        for row in csv.DictReader(f):
            if row["file"] == name:
                return int(row["count"])
    raise KeyError(name)


@pytest.fixture(scope="module")
def clip_recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, int]:
    """The clip's poses, extracted once (``analyze --save-pose``), and the count analyze gives."""
    video = require_data("videos", "clips", CLIP)
    out = tmp_path_factory.mktemp("clip") / "squat.npz"
    proc = subprocess.run([sys.executable, "-m", "repsense", "analyze", str(video), "--save-pose", str(out),
                           "--json", "-"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return out, int(json.loads(proc.stdout)["inputs"][0]["total_reps"])


@pytest.fixture(scope="module")
def shipped_recording(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The shipped clip's poses (``analyze --save-pose``, once), for nodes that skip the pose model."""
    out = tmp_path_factory.mktemp("shipped") / "lunge.npz"
    proc = subprocess.run([sys.executable, "-m", "repsense", "analyze", str(SHIPPED), "--exercise", "lunge",
                           "--save-pose", str(out)], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return out


def listen_estatus(broker_url: str, err_path: pathlib.Path) -> subprocess.Popen[str]:
    """``repsense listen --estatus`` (the seed page's counting) in the background, once it listens."""
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "repsense", "listen", "--estatus", "--broker", broker_url],
                                stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT)
    end = time.monotonic() + 30
    while "listening on" not in err_path.read_text() and time.monotonic() < end:
        time.sleep(0.1)
    return proc


def estatus_total(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    total = [line for line in out.splitlines() if line.startswith("total ")]
    assert total, out
    return int(total[-1].split()[1])


def test_node_counts_the_shipped_clip(tmp_path: pathlib.Path) -> None:
    """Runs everywhere (the clip ships with the tests): real video -> MediaPipe -> engine -> the
    embedded broker; the events arrive complete and in order, the count is the clip's (+-1), and a
    page counting ``up`` after ``down`` on ``estatus`` gets exactly the node's count."""
    broker = BrokerProcess("embedded", tmp_path).start()
    events = Collector(broker.port)
    estatus = listen_estatus(broker.url, tmp_path / "listen.err")
    try:
        node = subprocess.run(node_cmd(SHIPPED, broker.url, "shipped-1", tmp_path / "outbox.sqlite",
                                       "--exercise", "lunge", "--model", "lite"),
                              capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert node.returncode == 0, node.stderr
        events.wait_for(lambda ev: any(e["type"] == "SessionEnded" for e in ev), 30)
        time.sleep(0.5)
        counted = estatus_total(estatus)
    finally:
        if estatus.poll() is None:
            estatus.kill()
        events.close()
        broker.stop()
    got = events.events()
    mine = assert_complete(got, got[0]["session"])
    reps = [e["count"] for e in mine if e["type"] == "RepCompleted"]
    assert abs(len(reps) - SHIPPED_REPS) <= 1 and reps == list(range(1, len(reps) + 1)), reps
    assert mine[-1]["type"] == "SessionEnded" and mine[-1]["total_reps"] == len(reps)
    assert counted == len(reps), f"estatus counted {counted}, the node {len(reps)}"
    # the node's terminal: repsense's lines, not MediaPipe's ("INFO: ... DestroyAccelerator")
    assert "DestroyAccelerator" not in node.stderr and "INFO:" not in node.stderr, node.stderr


def test_estatus_counts_the_reps_across_a_broker_restart(shipped_recording: pathlib.Path,
                                                        tmp_path: pathlib.Path) -> None:
    """The broker goes away after the first rep for a few seconds, reps go on: what a page counts
    from ``estatus`` (up after down) is still exactly the node's rep count, as ``estatus`` waits
    in the outbox like the events. The node is paused while the broker comes back so that the
    counting page is subscribed again before the node delivers what waited (a page that is away
    itself misses what is sent meanwhile)."""
    broker = BrokerProcess("embedded", tmp_path).start()
    err_path = tmp_path / "listen.err"
    estatus = listen_estatus(broker.url, err_path)
    proc, lines = node_process(tmp_path, *node_cmd(shipped_recording, broker.url, "shipped-2",
                                                   tmp_path / "outbox.sqlite", "--exercise", "lunge",
                                                   "--drain-timeout", "60"))
    try:
        lines.wait_for(" rep 1:", 30)
        time.sleep(0.5)
        broker.stop()
        lines.wait_for(" rep 2:", 30)            # counted while the broker is away
        time.sleep(1.5)
        proc.send_signal(signal.SIGSTOP)
        broker.start()
        end = time.monotonic() + 30
        while "connected again" not in err_path.read_text() and time.monotonic() < end:
            time.sleep(0.1)
        assert "connected again" in err_path.read_text(), err_path.read_text()
        time.sleep(0.5)
        proc.send_signal(signal.SIGCONT)
        assert proc.wait(90) == 0, (tmp_path / "node.err").read_text()
        time.sleep(1.0)
        counted = estatus_total(estatus)
    finally:
        proc.send_signal(signal.SIGCONT)
        reap(proc)
        if estatus.poll() is None:
            estatus.kill()
        broker.stop()
    node_err = (tmp_path / "node.err").read_text()
    reps = [line for line in lines.lines if " rep " in line]
    assert f"shipped-2: {len(reps)} reps" in node_err, node_err
    assert len(reps) >= 3 and "lost the connection" in node_err
    assert counted == len(reps), f"estatus counted {counted}, the node {len(reps)}"


@pytest.fixture(params=["mosquitto", "embedded"])
def broker(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[BrokerProcess]:
    b = BrokerProcess(request.param, tmp_path).start()
    yield b
    b.stop()


def unique(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    out = []
    for e in events:
        if e["id"] not in seen:
            seen.add(e["id"])
            out.append(e)
    return out


def assert_complete(events: list[dict[str, Any]], session: str) -> list[dict[str, Any]]:
    """The session's events, repeats dropped by id: numbered 1..N with none missing, in order."""
    mine = [e for e in unique(events) if e["session"] == session]
    seqs = [e["seq"] for e in mine]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    return mine


def node_process(tmp_path: pathlib.Path, *cmd: str) -> tuple[subprocess.Popen[bytes], Lines]:
    """A node in the background: stdout lines to wait on, stderr to ``tmp_path/node.err``."""
    with open(tmp_path / "node.err", "wb") as err:
        proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=err, cwd=ROOT)
    return proc, Lines(proc.stdout)


def reap(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.mark.slow
def test_node_plays_a_real_clip(broker: BrokerProcess, tmp_path: pathlib.Path) -> None:
    """Real video -> MediaPipe -> engine -> broker: the rep events arrive complete, in order, once
    each, their count is the clip's label (+-1), and ``listen --estatus`` counts the same."""
    label = clip_label(CLIP)
    video = require_data("videos", "clips", CLIP)
    events = Collector(broker.port)
    err_path = tmp_path / "listen.err"
    with open(err_path, "wb") as err:
        estatus = subprocess.Popen([sys.executable, "-m", "repsense", "listen", "--estatus", "--broker",
                                    broker.url], stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT)
    try:
        end = time.monotonic() + 30
        while "listening on" not in err_path.read_text() and time.monotonic() < end:
            time.sleep(0.1)
        node = subprocess.run(node_cmd(video, broker.url, "gym-1", tmp_path / "outbox.sqlite"),
                              capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert node.returncode == 0, node.stderr
        events.wait_for(lambda ev: any(e["type"] == "SessionEnded" for e in ev), 30)
        time.sleep(0.5)
    finally:
        estatus.send_signal(signal.SIGTERM)
        out, _ = estatus.communicate(timeout=20)
        events.close()
    got = events.events()
    assert len({e["id"] for e in got}) == len(got), "a repeat without an outage"
    session = got[0]["session"]
    mine = assert_complete(got, session)
    reps = [e for e in mine if e["type"] == "RepCompleted"]
    assert abs(len(reps) - label) <= 1, [r["count"] for r in reps]
    assert [r["count"] for r in reps] == list(range(1, len(reps) + 1))
    assert all(r["id"] == f"gym-1/{session}/{r['seq']}" and r["exercise"] == "squat" for r in reps)
    assert mine[-1]["type"] == "SessionEnded" and mine[-1]["total_reps"] == len(reps)
    # One line per rep on the node's terminal.
    assert sum(" rep " in line for line in node.stdout.splitlines()) == len(reps)
    # Status: online while running, offline (retained) at the end.
    status = [p for t, p in events.messages if t == "repsense/gym-1/status"]
    assert status[0] == b"online" and status[-1] == b"offline"
    # The seed's listener logic on estatus.
    total = [line for line in out.splitlines() if line.startswith("total ")]
    assert total and abs(int(total[-1].split()[1]) - label) <= 1, out


def test_broker_stopped_mid_clip(broker: BrokerProcess, clip_recording: tuple[pathlib.Path, int],
                                 tmp_path: pathlib.Path) -> None:
    """The broker goes away after the first rep and comes back: every event arrives, each rep
    exactly once by id, in order; the node exits 0."""
    rec, expected = clip_recording
    first = Collector(broker.port)
    proc, lines = node_process(tmp_path, *node_cmd(rec, broker.url, "gym-2", tmp_path / "outbox.sqlite",
                                         "--exercise", "squat", "--drain-timeout", "60"))
    try:
        first.wait_for(lambda ev: any(e["type"] == "RepCompleted" for e in ev), 30)
        broker.stop()
        lines.wait_for(" rep 2", 30)           # the second rep happens while the broker is away
        time.sleep(0.5)
        broker.start()
        second = Collector(broker.port)
        assert proc.wait(90) == 0, (tmp_path / "node.err").read_text()
        second.wait_for(lambda ev: any(e["type"] == "SessionEnded" for e in ev), 30)
    finally:
        reap(proc)
        first.close()
    second.close()
    assert not any(e["type"] == "RepCompleted" and e["count"] == 2 for e in first.events())
    got = first.events() + second.events()
    mine = assert_complete(got, got[0]["session"])
    reps = [e["count"] for e in mine if e["type"] == "RepCompleted"]
    assert reps == list(range(1, expected + 1))
    assert mine[-1]["type"] == "SessionEnded"


def test_node_killed_while_broker_down(broker: BrokerProcess, clip_recording: tuple[pathlib.Path, int],
                                       tmp_path: pathlib.Path) -> None:
    """SIGKILL while the broker is away: the events wait in the outbox file and go first when the
    node starts again; nothing of the killed session is lost or doubled."""
    rec, expected = clip_recording
    outbox = tmp_path / "outbox.sqlite"
    first = Collector(broker.port)
    proc, lines = node_process(tmp_path, *node_cmd(rec, broker.url, "gym-3", outbox, "--exercise", "squat"))
    try:
        first.wait_for(lambda ev: any(e["type"] == "RepCompleted" for e in ev), 30)
        broker.stop()
        lines.wait_for(" rep 2", 30)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL
    finally:
        reap(proc)
        first.close()
    with sqlite3.connect(outbox) as db:
        waiting = db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
    assert waiting >= 1
    killed_session = first.events()[0]["session"]
    broker.start()
    second = Collector(broker.port)
    again = subprocess.run(node_cmd(rec, broker.url, "gym-3", outbox, "--exercise", "squat", "--speed", "0"),
                           capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert again.returncode == 0, again.stderr
    assert "from an earlier run wait in the outbox" in again.stderr
    second.wait_for(lambda ev: sum(e["type"] == "SessionEnded" for e in ev) >= 1, 30)
    time.sleep(0.3)
    second.close()
    got = first.events() + second.events()
    killed = assert_complete(got, killed_session)
    reps = [e["count"] for e in killed if e["type"] == "RepCompleted"]
    assert reps[:2] == [1, 2] and len(reps) == len(set(reps))
    rerun = [e for e in second.events() if e["session"] != killed_session]
    rerun_session = assert_complete(rerun, rerun[0]["session"])
    assert [e["count"] for e in rerun_session if e["type"] == "RepCompleted"] == list(range(1, expected + 1))
    # The killed session's messages went before the new session's.
    order = [e["session"] for e in second.events()]
    assert killed_session not in order or order.index(rerun[0]["session"]) > order.index(killed_session)


def test_pose_only_node_is_counted_by_the_server(clip_recording: tuple[pathlib.Path, int],
                                                 tmp_path: pathlib.Path) -> None:
    """A weak node streams landmarks only; the hub runs the engine and publishes the events on the
    node's own topic, and the gym view counts them."""
    from repsense.sinks.mqtt import BrokerAddress
    from repsense.sources.nodes import BrokerHub

    rec, expected = clip_recording
    broker = BrokerProcess("embedded", tmp_path).start()
    hub = BrokerHub(BrokerAddress.parse(broker.url), exercise="squat").start()
    events = Collector(broker.port)
    try:
        assert hub.link.subscribed.wait(10)
        node = subprocess.run(node_cmd(rec, broker.url, "pi-1", tmp_path / "ob.sqlite", "--pose-only",
                                       "--exercise", "squat", "--speed", "0"),
                              capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert node.returncode == 0, node.stderr
        events.wait_for(lambda ev: any(e["type"] == "SessionEnded" for e in ev), 30)
        time.sleep(0.3)
        view = {v["node"]: v for v in hub.snapshot()}["pi-1"]
    finally:
        events.close()
        hub.close()
        broker.stop()
    got = events.events()
    mine = assert_complete(got, got[0]["session"])
    assert [e["count"] for e in mine if e["type"] == "RepCompleted"] == list(range(1, expected + 1))
    assert all(e["id"].startswith("pi-1/") for e in mine)
    assert view["engine"] == "server" and view["exercise"] == "squat" and view["total_reps"] == expected
    assert hub.poses == len(__import__("numpy").load(rec)["timestamp_ms"]) + 1


def test_node_without_broker_starts_the_embedded_one_and_streams_pose(
        clip_recording: tuple[pathlib.Path, int], tmp_path: pathlib.Path) -> None:
    """No --broker: the node embeds one on 127.0.0.1; a second node finds it there and uses it;
    --publish-pose streams every frame."""
    from mqtt_brokers import free_port

    rec, expected = clip_recording
    port = free_port()
    first, lines = node_process(tmp_path, sys.executable, "-m", "repsense", "node", "--camera", str(rec),
                                "--node", "host-1", "--outbox", str(tmp_path / "a.sqlite"),
                                "--embedded-port", str(port), "--speed", "0.5")
    try:
        end = time.monotonic() + 30
        while "started the embedded MQTT broker" not in (tmp_path / "node.err").read_text():
            assert time.monotonic() < end and first.poll() is None, (tmp_path / "node.err").read_text()
            time.sleep(0.1)
        poses = Collector(port, ("repsense/+/pose", "repsense/+/events/#"))
        second = subprocess.run([sys.executable, "-m", "repsense", "node", "--camera", str(rec), "--node", "host-2",
                                 "--outbox", str(tmp_path / "b.sqlite"), "--embedded-port", str(port),
                                 "--speed", "0", "--publish-pose", "--exercise", "squat"],
                                capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert second.returncode == 0, second.stderr
        assert "started the embedded" not in second.stderr
        poses.wait_for(lambda ev: any(e["type"] == "SessionEnded" and e["node"] == "host-2" for e in ev), 30)
        first.send_signal(signal.SIGTERM)
        assert first.wait(60) == 0
    finally:
        reap(first)
    poses.close()
    frames = [json.loads(p) for t, p in poses.messages if t == "repsense/host-2/pose"]
    n = len(__import__("numpy").load(rec)["timestamp_ms"])
    assert len(frames) == n and [f["t"] for f in frames] == sorted(f["t"] for f in frames)
    assert all(f["engine"] == "node" for f in frames)
    reps = [e for e in poses.events() if e["node"] == "host-2" and e["type"] == "RepCompleted"]
    assert len(reps) == expected


class _MjpegStream:
    """An IP camera in miniature: the clip as an MJPEG stream over HTTP on 127.0.0.1, paced at its
    own frame rate, from the start for each connection."""

    def __init__(self, video: pathlib.Path) -> None:
        import http.server
        import threading

        import cv2

        cap = cv2.VideoCapture(str(video))
        self.fps = float(cap.get(cv2.CAP_PROP_FPS)) or 30.0
        self.jpegs: list[bytes] = []
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            self.jpegs.append(cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes())
        cap.release()
        self.served = 0
        self.done = threading.Event()
        stream = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                t0 = time.monotonic()
                try:
                    for i, jpeg in enumerate(stream.jpegs):
                        wait = t0 + i / stream.fps - time.monotonic()
                        if wait > 0:
                            time.sleep(wait)
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: "
                                         + str(len(jpeg)).encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    return
                stream.served += 1
                if stream.served >= 1 and i == len(stream.jpegs) - 1:
                    stream.done.set()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stream.mjpg"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.slow
def test_node_counts_an_http_camera_stream(tmp_path: pathlib.Path) -> None:
    """An HTTP MJPEG camera: frames timed by the clock, counted live; Ctrl-C/SIGTERM ends the
    session cleanly."""
    label = clip_label(CLIP)
    stream = _MjpegStream(require_data("videos", "clips", CLIP))
    broker = BrokerProcess("embedded", tmp_path).start()
    events = Collector(broker.port)
    proc, lines = node_process(tmp_path, *node_cmd(stream.url, broker.url, "ipcam", tmp_path / "o.sqlite"))
    try:
        assert stream.done.wait(120), (tmp_path / "node.err").read_text()
        time.sleep(1.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, (tmp_path / "node.err").read_text()
        events.wait_for(lambda ev: any(e["type"] == "SessionEnded" for e in ev), 30)
    finally:
        reap(proc)
        events.close()
        broker.stop()
        stream.close()
    got = events.events()
    mine = assert_complete(got, got[0]["session"])
    reps = [e for e in mine if e["type"] == "RepCompleted"]
    assert abs(len(reps) - label) <= 1 and "stream" in (tmp_path / "node.err").read_text()


def test_node_takes_over_when_the_borrowed_broker_goes_away(clip_recording: tuple[pathlib.Path, int],
                                                             tmp_path: pathlib.Path) -> None:
    """No --broker and one was already on 127.0.0.1 (serve's): the node used it; it goes away
    mid-clip; the node starts its own there and delivers everything (the outbox ends empty)."""
    rec, _ = clip_recording
    other = BrokerProcess("embedded", tmp_path).start()
    outbox = tmp_path / "o.sqlite"
    first = Collector(other.port)
    proc, lines = node_process(tmp_path, sys.executable, "-m", "repsense", "node", "--camera", str(rec),
                               "--node", "borrow", "--outbox", str(outbox), "--embedded-port", str(other.port),
                               "--exercise", "squat")
    try:
        first.wait_for(lambda ev: any(e["type"] == "RepCompleted" for e in ev), 30)
        other.stop()
        assert proc.wait(90) == 0, (tmp_path / "node.err").read_text()
    finally:
        reap(proc)
        first.close()
        other.stop()
    err = (tmp_path / "node.err").read_text()
    assert "started the embedded one in its place" in err and "not delivered" not in err
    with sqlite3.connect(outbox) as db:
        assert db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0] == 0


def test_serve_embeds_the_broker_and_shows_a_node(clip_recording: tuple[pathlib.Path, int],
                                                  tmp_path: pathlib.Path) -> None:
    """``repsense serve`` starts the embedded broker; a node with no --broker uses it; /api/gym
    shows the node's count; a bad --broker URL is one line."""
    import urllib.request

    from mqtt_brokers import _listening, free_port

    rec, expected = clip_recording
    http_port, mqtt_port = free_port(), free_port()
    with open(tmp_path / "serve.err", "wb") as err:
        serve = subprocess.Popen([sys.executable, "-m", "repsense", "serve", "--no-browser", "--port", str(http_port),
                                  "--embedded-port", str(mqtt_port)], stdout=subprocess.DEVNULL, stderr=err, cwd=ROOT)
    try:
        end = time.monotonic() + 60
        while not (_listening(http_port) and _listening(mqtt_port)):
            assert serve.poll() is None and time.monotonic() < end, (tmp_path / "serve.err").read_text()
            time.sleep(0.1)
        node = subprocess.run([sys.executable, "-m", "repsense", "node", "--camera", str(rec), "--node", "rack-7",
                               "--outbox", str(tmp_path / "o.sqlite"), "--embedded-port", str(mqtt_port),
                               "--exercise", "squat", "--speed", "0"],
                              capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert node.returncode == 0, node.stderr
        assert "started the embedded" not in node.stderr     # serve's broker was there
        end = time.monotonic() + 30
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/api/gym", timeout=10) as r:
                gym = json.loads(r.read())
            nodes = {n["node"]: n for n in gym["nodes"]}
            if "rack-7" in nodes and not nodes["rack-7"]["online"] or time.monotonic() > end:
                break
            time.sleep(0.2)
        assert gym["broker"] == f"mqtt://127.0.0.1:{mqtt_port}"
        assert nodes["rack-7"]["count"] == expected and nodes["rack-7"]["exercise"] == "squat"
    finally:
        serve.terminate()
        serve.wait(30)
    assert not _listening(mqtt_port)
    bad = subprocess.run([sys.executable, "-m", "repsense", "serve", "--no-browser", "--broker", "http://x"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert bad.returncode != 0 and "not understood" in bad.stderr and "Traceback" not in bad.stderr
