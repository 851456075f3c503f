"""``imu listen`` end to end against a real MQTT broker (amqtt, in-process on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import io
import pathlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest

paho = pytest.importorskip("paho.mqtt.client")
amqtt_broker = pytest.importorskip("amqtt.broker")

from repsense.engine.events import RepCompleted  # noqa: E402
from conftest import free_port  # noqa: E402,F401 - one helper for every test server
from repsense.imu.analysis import run_recording  # noqa: E402
from repsense.imu.model import StepModel  # noqa: E402
from repsense.imu.mqtt import ImuListener, parse_message  # noqa: E402
from repsense.imu.recording import CHANNELS, ImuRecording, load_csv  # noqa: E402
from repsense.imu.tracker import ImuTracker  # noqa: E402

EXERMOTE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "exermote"
REPO = Path(__file__).resolve().parents[1]


def exermote_file(name: str) -> Path:
    path = EXERMOTE / name
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"IMU test data missing under CI: {path}")
        pytest.skip(f"IMU test data not found at {path}")
    return path


class Broker:
    """amqtt broker on its own event loop thread, bound to 127.0.0.1."""

    def __init__(self) -> None:
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._broker: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("broker did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            self._broker = amqtt_broker.Broker({
                "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
            })
            await self._broker.start()
            self._ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def stop(self) -> None:
        if self._broker is not None:
            asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self.loop).result(10)
            self._broker = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()


@pytest.fixture
def broker() -> Iterator[Broker]:
    b = Broker()
    yield b
    if b._broker is not None:
        b.stop()


class Collector:
    def __init__(self, port: int, node: str) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, json.loads(m.payload)))
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(f"repsense/{node}/events/#", qos=1)
        self.client.loop_start()

    def wait_for(self, type_name: str, timeout: float = 20.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(t.endswith("/" + type_name) for t, _ in self.messages):
                return
            time.sleep(0.05)
        raise AssertionError(f"no {type_name} event within {timeout} s; got {[t for t, _ in self.messages]}")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def publisher(port: int) -> Any:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def sample_messages(rec: ImuRecording, start: int, stop: int, batch: int) -> list[bytes]:
    """A stretch of a recording as MQTT payloads, alternating the two documented shapes."""
    out = []
    for i in range(start, stop, batch):
        items = []
        for j in range(i, min(i + batch, stop)):
            row, t = rec.samples[j].tolist(), int(rec.timestamp_ms[j])
            if j % 2:
                items.append({"timestamp_ms": t, "values": row})
            else:
                items.append({"timestamp_ms": t, **dict(zip(CHANNELS, row))})
        out.append(json.dumps(items if batch > 1 else items[0]).encode())
    return out


def test_listen_counts_like_analyze(broker: Broker, tmp_path: pathlib.Path) -> None:
    rec = load_csv(exermote_file("2017-04-22_15-22-00_Individual_1.csv"))
    part = slice(0, 1200)  # two minutes: burpees and sit-ups
    sub = ImuRecording(rec.path, rec.samples[part], rec.timestamp_ms[part], rec.valid[part], 10.0)
    expected = [e for e in run_recording(sub) if isinstance(e, RepCompleted)]
    assert len(expected) >= 10

    model = StepModel.load()
    log = io.StringIO()
    from repsense.store import Store
    from repsense.store.sink import StoreSink

    store = Store(f"sqlite:///{tmp_path / 'history.db'}")   # imu listen --store
    listener = ImuListener(f"mqtt://127.0.0.1:{broker.port}", "arm", lambda: ImuTracker(model), log=log,
                           session_sinks=lambda: [StoreSink(store, kind="imu", source="arm")])
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(listener.run(stop)))
    thread.start()
    assert listener.subscribed.wait(10), log.getvalue()
    events = Collector(broker.port, "arm")
    pub = publisher(broker.port)
    try:
        pub.publish("repsense/arm/imu", b"{not json", qos=1).wait_for_publish(5)
        pub.publish("repsense/arm/imu", b'{"timestamp_ms": 5, "values": [1, 2]}', qos=1).wait_for_publish(5)
        for payload in sample_messages(rec, part.start, part.stop, batch=1)[:600] + \
                sample_messages(rec, 600, part.stop, batch=10):
            pub.publish("repsense/arm/imu", payload, qos=1)
        pub.publish("repsense/arm/imu", b'{"end": true}', qos=1).wait_for_publish(5)
        events.wait_for("SessionEnded")
    finally:
        stop.set()
        thread.join(10)
        pub.loop_stop()
        pub.disconnect()
        events.close()
    assert result == [0]
    reps = [body for topic, body in events.messages if topic == "repsense/arm/events/RepCompleted"]
    assert [(r["exercise"], r["count"], r["start_ms"], r["end_ms"]) for r in reps] == \
        [(e.exercise, e.count, e.start_ms, e.end_ms) for e in expected]
    assert all(r["rom_deg"] is None for r in reps)  # NaN travels as null
    ended = [body for topic, body in events.messages if topic == "repsense/arm/events/SessionEnded"]
    assert ended[0]["total_reps"] == len(expected)
    assert listener.malformed == 2
    [stored] = store.list_sessions()
    assert stored["status"] == "ended" and stored["total_reps"] == len(expected)
    store.close()
    assert "not JSON" in log.getvalue() and "'values' must be a list of 12 numbers" in log.getvalue()


BROKER_SCRIPT = """
import asyncio, sys
from amqtt.broker import Broker
async def main():
    b = Broker({"listeners": {"default": {"type": "tcp", "bind": "127.0.0.1:%d"}},
                "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}})
    await b.start()
    print("ready", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
"""


def test_broker_going_down_is_reported_without_traceback() -> None:
    """The broker process dies mid-session: a clear message, then a clean exit code 1."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", BROKER_SCRIPT % port], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        log = io.StringIO()
        listener = ImuListener(f"mqtt://127.0.0.1:{port}", "arm", lambda: ImuTracker(StepModel.load()),
                               reconnect_timeout_s=1.0, log=log)
        stop = threading.Event()
        result: list[int] = []
        thread = threading.Thread(target=lambda: result.append(listener.run(stop)))
        thread.start()
        assert listener.subscribed.wait(10)
        proc.kill()
        thread.join(20)
        stop.set()
    finally:
        proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()
    assert result == [1]
    text = log.getvalue()
    assert "lost the connection to broker" in text and "giving up" in text
    assert "Traceback" not in text


def test_cli_listen_without_broker_is_one_clear_line() -> None:
    port = free_port()
    proc = subprocess.run([sys.executable, "-m", "repsense.imu", "listen", "--broker", f"mqtt://127.0.0.1:{port}"],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 2
    assert f"cannot reach broker mqtt://127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("payload, message", [
    (b"\xff\xfe", "not JSON"),
    (b"[1, 2]", "expected a JSON object"),
    (b'{"values": []}', "timestamp_ms"),
    (b'{"timestamp_ms": 1, "xGravity": 0.1}', "missing 'values' or channel key(s) yGravity"),
    (b'{"timestamp_ms": 1, "values": [1,2,3,4,5,6,7,8,9,10,11,"x"]}', "must be numbers"),
])
def test_malformed_messages_say_what_is_wrong(payload: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_message(payload)


def test_message_shapes_parse_to_the_same_sample() -> None:
    vals = list(np.arange(12, dtype=float) / 10)
    a = parse_message(json.dumps({"timestamp_ms": 100, "values": vals}).encode())
    b = parse_message(json.dumps([{"timestamp_ms": 100, **dict(zip(CHANNELS, vals))}, {"end": True}]).encode())
    assert isinstance(a[0], tuple) and isinstance(b[0], tuple)
    np.testing.assert_array_equal(a[0][0], b[0][0])
    assert a[0][1] == b[0][1] == 100 and b[1] == "end"
