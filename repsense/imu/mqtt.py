"""Live IMU over MQTT: samples in on ``repsense/<node>/imu``, events out on
``repsense/<node>/events/<type>`` (QoS 1) through the same module, topics, event ids, retained
status and on-disk outbox as a camera node (repsense.sinks.mqtt), so a phone on the arm shows up in
the gym view like a camera.

Message format (JSON, UTF-8), one sample::

    {"timestamp_ms": 1493368085123,
     "values": [xGravity, yGravity, zGravity, xAcceleration, yAcceleration, zAcceleration,
                pitch, roll, yaw, xRotationRate, yRotationRate, zRotationRate]}

or the same with the 12 channels as named keys (``"xGravity": -0.27, ...``) instead of
``values``; a JSON array of such objects is a batch. ``{"end": true}`` ends the session: the rep
in progress is completed and ``SessionEnded`` is published; the next sample starts a new one.
Malformed messages are dropped and logged once per minute per kind.
"""

from __future__ import annotations

import json
import math
import pathlib
import sys
import threading
import time
import uuid
from typing import Any, Callable, TextIO

import numpy as np

from repsense.imu.recording import CHANNELS, N_CHANNELS
from repsense.imu.tracker import ImuTracker
from repsense.session import Session
from repsense.sinks.mqtt import (BrokerAddress, EventPublisher, LogLimiter, MqttLink, Outbox, Topics,
                                 check_node_id)

END = "end"
# A batch of samples is larger than a pose frame; still, nothing near this is a sensor's message.
MAX_IMU_PAYLOAD = 1024 * 1024


def parse_message(payload: bytes) -> list[tuple[np.ndarray, int] | str]:
    """Payload -> list of (sample (12,), timestamp_ms) or END; ValueError says what is wrong."""
    if len(payload) > MAX_IMU_PAYLOAD:
        raise ValueError(f"too large ({len(payload)} bytes, the limit is {MAX_IMU_PAYLOAD})")
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


class ImuListener:
    """Runs a sensor session (repsense.session.Session over an ImuTracker) on the samples of one
    node; its sinks are the event publisher and ``session_sinks()``, a fresh set per session.

    ``run(stop)`` blocks until ``stop`` is set (or the broker stays unreachable for
    ``reconnect_timeout_s``) and returns an exit code; messages go to ``log``. Events wait in the
    outbox until the broker takes them: ``outbox`` is its file (``repsense imu listen`` uses one in
    the user's data folder); None keeps it in memory, lost when the process ends.
    """

    def __init__(self, broker_url: str, node: str = "default",
                 tracker_factory: Callable[[], ImuTracker] = ImuTracker,
                 reconnect_timeout_s: float = 30.0, log: TextIO | None = None, *,
                 outbox: str | pathlib.Path | None = None, prefix: str = "repsense",
                 ca_file: str | None = None,
                 session_sinks: Callable[[], list[Any]] | None = None) -> None:
        self.node = check_node_id(node)
        # More sinks per sensor session (e.g. the history store); a new set after each "end".
        self.session_sinks = session_sinks
        self.address = BrokerAddress.parse(broker_url, ca_file=ca_file)
        self.url = self.address.url
        self.topics = Topics(prefix)
        self.in_topic = self.topics.imu(node)
        self.tracker_factory = tracker_factory
        self.reconnect_timeout_s = reconnect_timeout_s
        self.log = log or sys.stderr
        self.malformed = 0
        self.dropped = LogLimiter(self._say)
        self._lock = threading.Lock()
        self.link = MqttLink(self.address, f"repsense-imu-{node}",
                             outbox=Outbox(outbox),
                             status_topic=self.topics.status(node),
                             subscriptions=[(self.in_topic, 1)], on_message=self._on_message,
                             say=self._say)
        self.subscribed = self.link.subscribed
        self.session = self._new_session()

    @property
    def published(self) -> int:
        return self.link.sent

    @property
    def tracker(self) -> ImuTracker:
        return self.session.tracker  # type: ignore[return-value]

    def _new_session(self) -> Session:
        """A sensor session: the tracker, the event publisher, the extra sinks."""
        sid = uuid.uuid4().hex[:12]
        publisher = EventPublisher(self.link, self.node, sid, topics=self.topics)
        extra = self.session_sinks() if self.session_sinks is not None else []
        return Session(engine=self.tracker_factory(), source=f"imu node {self.node}",
                       sinks=[publisher, *extra], session_id=sid)

    def _say(self, text: str) -> None:
        print(text, file=self.log, flush=True)

    def _on_message(self, topic: str, payload: bytes) -> None:
        try:
            items = parse_message(payload)
        except ValueError as err:
            self.malformed += 1
            text = str(err)
            kind = "not_json" if text.startswith("not JSON") else \
                "too_large" if text.startswith("too large") else "bad_shape"
            self.dropped(kind, f"{topic}: {text}")
            return
        with self._lock:
            for item in items:
                if item == END:
                    self.session.finish()
                    self.session = self._new_session()
                else:
                    sample, t = item
                    self.session.feed(sample, t)

    def run(self, stop: threading.Event) -> int:
        self.link.start()
        if not self.link.wait_first_attempt(10.0):
            why = self.link.refused or "nothing answers there"
            self._say(f"cannot reach broker {self.url} ({why}); start the broker "
                      "or pass its address with --broker mqtt://HOST:PORT")
            self.link.close(0)
            return 2
        code = 0
        said = False
        try:
            while not stop.wait(0.2):
                if self.subscribed.is_set() and not said:
                    self._say(f"listening on {self.in_topic} at {self.url}; events go to "
                              f"{self.topics.events(self.node, '<type>')}")
                    said = True
                lost = self.link.lost_since
                if lost is not None and time.monotonic() - lost > self.reconnect_timeout_s:
                    self._say(f"broker {self.url} unreachable for {self.reconnect_timeout_s:.0f} s; "
                              f"giving up ({len(self.link.outbox or ())} event(s) stay in the outbox)")
                    code = 1
                    break
        finally:
            with self._lock:
                # also when giving up: the events wait in the outbox for the next run
                self.session.finish()
            self.link.close(5.0 if code == 0 else 0.0)
        return code


__all__ = ["ImuListener", "parse_message"]
