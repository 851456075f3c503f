"""Live IMU over MQTT: samples in on ``repsense/<node>/imu``, events out on
``repsense/<node>/events/<type>`` (QoS 1). paho-mqtt is imported only here.

Message format (JSON, UTF-8), one sample::

    {"timestamp_ms": 1493368085123,
     "values": [xGravity, yGravity, zGravity, xAcceleration, yAcceleration, zAcceleration,
                pitch, roll, yaw, xRotationRate, yRotationRate, zRotationRate]}

or the same with the 12 channels as named keys (``"xGravity": -0.27, ...``) instead of
``values``; a JSON array of such objects is a batch. ``{"end": true}`` ends the session: the rep
in progress is completed and ``SessionEnded`` is published; the next sample starts a new one.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, TextIO
from urllib.parse import urlparse

import numpy as np

from repsense.errors import InputError
from repsense.engine.events import Event
from repsense.sinks.jsonio import dumps
from repsense.imu.recording import CHANNELS, N_CHANNELS
from repsense.imu.tracker import ImuTracker

END = "end"


def event_payload(event: Event) -> bytes:
    return dumps(event.to_dict()).encode()


def parse_message(payload: bytes) -> list[tuple[np.ndarray, int] | str]:
    """Payload -> list of (sample (12,), timestamp_ms) or END; ValueError says what is wrong."""
    try:
        doc = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"not JSON ({err})") from None
    items = doc if isinstance(doc, list) else [doc]
    out: list[tuple[np.ndarray, int] | str] = []
    for item in items:
        if not isinstance(item, dict):
            raise ValueError("expected a JSON object or an array of objects")
        if item.get(END) is True:
            out.append(END)
            continue
        t = item.get("timestamp_ms")
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not math.isfinite(t):
            raise ValueError("missing or non-numeric 'timestamp_ms'")
        if "values" in item:
            vals = item["values"]
            if not isinstance(vals, list) or len(vals) != N_CHANNELS:
                raise ValueError(f"'values' must be a list of {N_CHANNELS} numbers in the order "
                                 f"{', '.join(CHANNELS)}")
        else:
            missing = [c for c in CHANNELS if c not in item]
            if missing:
                raise ValueError(f"missing 'values' or channel key(s) {', '.join(missing)}")
            vals = [item[c] for c in CHANNELS]
        try:
            arr = np.array([math.nan if v is None else float(v) for v in vals], dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("sensor values must be numbers (or null when missing)") from None
        out.append((arr, int(t)))
    return out


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> "BrokerAddress":
        u = urlparse(url if "://" in url else f"mqtt://{url}")
        if u.scheme not in ("mqtt", "tcp") or not u.hostname:
            raise InputError(f"broker URL {url!r} not understood; use mqtt://HOST[:PORT]")
        try:
            port = u.port or 1883
        except ValueError:
            raise InputError(f"broker URL {url!r} has a bad port; use mqtt://HOST[:PORT]") from None
        return cls(u.hostname, port, u.username, u.password)


class ImuListener:
    """Runs an ImuTracker on the samples of one node and publishes its events.

    ``run(stop)`` blocks until ``stop`` is set (or the broker stays unreachable for
    ``reconnect_timeout_s``) and returns an exit code; messages go to ``log``.
    """

    def __init__(self, broker_url: str, node: str = "default",
                 tracker_factory: Callable[[], ImuTracker] = ImuTracker,
                 reconnect_timeout_s: float = 30.0, log: TextIO | None = None) -> None:
        if not node or any(c in node for c in "/#+"):
            raise InputError(f"node name {node!r} must be non-empty without '/', '#' or '+'")
        self.address = BrokerAddress.parse(broker_url)
        self.url = broker_url
        self.node = node
        self.in_topic = f"repsense/{node}/imu"
        self.tracker_factory = tracker_factory
        self.tracker = tracker_factory()
        self.reconnect_timeout_s = reconnect_timeout_s
        self.log = log or sys.stderr
        self.published = 0
        self.malformed = 0
        self._lock = threading.Lock()
        self._lost_since: float | None = None
        self._client: Any = None
        self.subscribed = threading.Event()

    def _say(self, text: str) -> None:
        print(text, file=self.log, flush=True)

    def _publish(self, events: list[Event]) -> None:
        for ev in events:
            self._client.publish(f"repsense/{self.node}/events/{ev.type}", event_payload(ev), qos=1)
            self.published += 1

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        try:
            items = parse_message(msg.payload)
        except ValueError as err:
            self.malformed += 1
            self._say(f"ignored a malformed message on {msg.topic}: {err}")
            return
        with self._lock:
            for item in items:
                if item == END:
                    self._publish(self.tracker.finish())
                    self.tracker = self.tracker_factory()
                else:
                    sample, t = item
                    self._publish(self.tracker.update(sample, t))

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if getattr(reason, "is_failure", False):
            self._say(f"broker {self.url} refused the connection: {reason}")
            return
        self._lost_since = None
        client.subscribe(self.in_topic, qos=1)
        self._say(f"listening on {self.in_topic} at {self.url}; events go to repsense/{self.node}/events/<type>")
        self.subscribed.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if self._lost_since is None:
            self._lost_since = time.monotonic()
            self._say(f"lost the connection to broker {self.url} ({reason}); retrying for "
                      f"{self.reconnect_timeout_s:.0f} s")
        self.subscribed.clear()

    def run(self, stop: threading.Event) -> int:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"repsense-imu-{self.node}")
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        client.on_message = self._on_message
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        self._client = client
        try:
            client.connect(self.address.host, self.address.port, keepalive=30)
        except OSError as err:
            self._say(f"cannot reach broker {self.url} ({err.strerror or err}); start the broker "
                      "or pass its address with --broker mqtt://HOST:PORT")
            return 2
        client.loop_start()
        code = 0
        try:
            while not stop.wait(0.2):
                lost = self._lost_since
                if lost is not None and time.monotonic() - lost > self.reconnect_timeout_s:
                    self._say(f"broker {self.url} unreachable for {self.reconnect_timeout_s:.0f} s; "
                              "giving up")
                    code = 1
                    break
        finally:
            with self._lock:
                if code == 0 and self._lost_since is None:
                    info = [client.publish(f"repsense/{self.node}/events/{ev.type}", event_payload(ev),
                                           qos=1) for ev in self.tracker.finish()]
                    for i in info:
                        try:
                            i.wait_for_publish(timeout=2)
                        except (RuntimeError, ValueError):
                            break
            client.disconnect()
            client.loop_stop()
        return code


__all__ = ["ImuListener", "BrokerAddress", "parse_message", "event_payload"]
