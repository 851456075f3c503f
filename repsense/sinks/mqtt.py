"""MQTT: the one module that speaks it, for camera nodes, the wearable path, listeners and the gym.

paho-mqtt is imported only here. The pieces:

- :class:`BrokerAddress` — ``mqtt://[user:password@]host[:port]`` or ``mqtts://`` (TLS, optional CA
  file); credentials may come from ``REPSENSE_MQTT_USERNAME`` / ``REPSENSE_MQTT_PASSWORD``.
- :class:`Outbox` — a bounded SQLite queue on disk: what a node publishes at QoS 1 is written here
  first and deleted only when the broker acknowledged it, so a broker outage or a killed node loses
  nothing (paho-mqtt keeps its own queue in memory only).
- :class:`MqttLink` — one connection: the outbox and its sender thread, live (QoS 0) messages,
  subscriptions, the retained ``online`` status with an ``offline`` last will.
- :class:`EventPublisher` — an ``EventSink`` that publishes each event as JSON on
  ``<prefix>/<node>/events/<type>`` with a unique id ``<node>/<session>/<seq>``.
- Parsing and checking of received messages (:func:`parse_event`, :func:`parse_pose`), with
  :class:`BadMessage` kinds that :class:`LogLimiter` logs once per minute per kind.

Topics, payloads and the outbox's bound are described in docs/mqtt.md.
"""

from __future__ import annotations

import json
import logging
import math
import os
import pathlib
import queue
import re
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

import numpy as np

from repsense.engine.events import Event, RepCompleted
from repsense.errors import InputError
from repsense.pose import N_LANDMARKS
from repsense.sinks.jsonio import dumps

log = logging.getLogger(__name__)

PREFIX = "repsense"
ESTATUS_TOPIC = "estatus"
DEFAULT_PORT = 1883
DEFAULT_TLS_PORT = 8883
USERNAME_ENV = "REPSENSE_MQTT_USERNAME"
PASSWORD_ENV = "REPSENSE_MQTT_PASSWORD"
ONLINE, OFFLINE = b"online", b"offline"
# A node id is one topic level of safe characters: no wildcards, no '/', nothing a shell or a
# page would have to escape.
NODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SESSION_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Received payloads above this are dropped unread (a pose frame is ~3 KB, an event under 2 KB).
MAX_PAYLOAD = 64 * 1024
DEFAULT_OUTBOX_MAX = 100_000
# Outbox rows published and not yet acknowledged at one time (paho's own default is 20).
WINDOW = 20


def check_node_id(node: str) -> str:
    if not isinstance(node, str) or not NODE_RE.match(node):
        raise InputError(f"node id {node!r} must be 1-64 letters, digits, '_', '.' or '-' "
                         "(no '/', '+', '#' or spaces), starting with a letter or digit")
    return node


def default_data_dir() -> pathlib.Path:
    from platformdirs import user_data_dir

    return pathlib.Path(user_data_dir("repsense", appauthor=False))


def default_outbox_path(client_id: str) -> pathlib.Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", client_id)
    return default_data_dir() / "outbox" / f"{safe}.sqlite"


# ---------------------------------------------------------------------------------------------
# Broker address


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    @classmethod
    def parse(cls, url: str, *, ca_file: str | None = None,
              env: dict[str, str] | None = None) -> "BrokerAddress":
        """``mqtt://[user[:password]@]host[:port]`` (1883) or ``mqtts://...`` (TLS, 8883).
        A missing user name or password is taken from REPSENSE_MQTT_USERNAME / _PASSWORD."""
        env = os.environ if env is None else env
        text = url.strip()
        u = urlparse(text if "://" in text else f"mqtt://{text}")
        scheme = u.scheme.lower()
        if scheme not in ("mqtt", "tcp", "mqtts", "ssl", "tls") or not u.hostname:
            raise InputError(f"broker URL {_redact(url)!r} not understood; use "
                             "mqtt://[USER:PASSWORD@]HOST[:PORT] or mqtts://...")
        if u.path not in ("", "/") or u.query:
            raise InputError(f"broker URL {_redact(url)!r}: a broker URL has no path or query")
        tls = scheme in ("mqtts", "ssl", "tls")
        try:
            port = u.port or (DEFAULT_TLS_PORT if tls else DEFAULT_PORT)
        except ValueError:
            raise InputError(f"broker URL {_redact(url)!r} has a bad port") from None
        if ca_file is not None:
            if not tls:
                raise InputError("--ca-file needs a TLS broker URL (mqtts://...)")
            if not pathlib.Path(ca_file).is_file():
                raise InputError(f"CA file {ca_file}: no such file")
        username = unquote(u.username) if u.username else env.get(USERNAME_ENV) or None
        password = unquote(u.password) if u.password is not None else env.get(PASSWORD_ENV) or None
        if password and not username:
            raise InputError(f"a password is set ({PASSWORD_ENV}) but no user name: put "
                             f"user@ in the broker URL or set {USERNAME_ENV}")
        return cls(u.hostname, port, tls, username, password, ca_file)

    @property
    def url(self) -> str:
        """The address for messages: never with the password."""
        user = f"{self.username}@" if self.username else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{host}:{self.port}"


def _redact(url: str) -> str:
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


# ---------------------------------------------------------------------------------------------
# Received messages: checks and rate-limited logging


class BadMessage(ValueError):
    """A received message that is dropped; ``kind`` groups them for logging."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


class LogLimiter:
    """Logs a kind of problem at most once per ``period_s``, with the count of the ones in between."""

    def __init__(self, say: Callable[[str], None], period_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.say = say
        self.period_s = period_s
        self.clock = clock
        self.counts: dict[str, int] = {}
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, kind: str, text: str) -> None:
        now = self.clock()
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            last = self._last.get(kind)
            if last is not None and now - last < self.period_s:
                self._quiet[kind] = self._quiet.get(kind, 0) + 1
                return
            self._last[kind] = now
            quiet = self._quiet.pop(kind, 0)
        more = f" ({quiet} more of this kind dropped since the last report)" if quiet else ""
        self.say(f"dropped a message ({kind}): {text}{more}")

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _no_constants(name: str) -> float:
    raise BadMessage("not_finite", f"JSON constant {name} is not allowed")


def load_json(payload: bytes) -> Any:
    """Payload -> JSON value; BadMessage for an oversized, undecodable or non-JSON payload and for
    NaN / Infinity tokens."""
    if len(payload) > MAX_PAYLOAD:
        raise BadMessage("too_large", f"{len(payload)} bytes, the limit is {MAX_PAYLOAD}")
    try:
        return json.loads(payload.decode("utf-8"), parse_constant=_no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise BadMessage("not_json", f"not JSON ({str(err)[:80]})") from None


def split_topic(topic: str, prefix: str = PREFIX) -> tuple[str, str]:
    """``<prefix>/<node>/<rest>`` -> (node, rest); BadMessage if the node id is not a valid one."""
    head = prefix + "/"
    if not topic.startswith(head):
        raise BadMessage("bad_topic", f"topic {topic[:80]!r} is not under {head}")
    node, _, rest = topic[len(head):].partition("/")
    if not NODE_RE.match(node):
        raise BadMessage("bad_topic", f"topic {topic[:80]!r}: {node[:64]!r} is not a valid node id")
    return node, rest


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadMessage("bad_shape", f"{what} must be a number")
    if not math.isfinite(value):
        raise BadMessage("not_finite", f"{what} is not finite")
    return float(value)


def parse_event(node: str, payload: bytes) -> dict[str, Any]:
    """An event message -> its dict (``type``, ``id``, ``session``, ``seq``, the event's fields).
    The id must be ``<node>/<session>/<seq>`` of the topic's node."""
    doc = load_json(payload)
    if not isinstance(doc, dict):
        raise BadMessage("bad_shape", "an event must be a JSON object")
    kind, ident, session, seq = doc.get("type"), doc.get("id"), doc.get("session"), doc.get("seq")
    if not isinstance(kind, str) or not kind.isidentifier() or len(kind) > 40:
        raise BadMessage("bad_shape", "an event needs a 'type' name")
    if not isinstance(session, str) or not SESSION_RE.match(session) or \
            isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise BadMessage("bad_id", "an event needs 'session' (letters, digits, _.-) and 'seq' (>= 1)")
    if ident != f"{node}/{session}/{seq}":
        raise BadMessage("bad_id", f"id {str(ident)[:80]!r} is not {node}/{session}/{seq}")
    _number(doc.get("timestamp_ms"), "'timestamp_ms'")
    for key in ("count", "total_reps"):
        if key in doc:
            _number(doc[key], repr(key))
    return doc


@dataclass(frozen=True)
class PoseMessage:
    pose: np.ndarray        # (33, 4) float32, NaN rows when nobody is in view
    timestamp_ms: int
    engine: str             # "node": the node counts itself; "server": the server runs the engine
    session: str | None
    width: int | None
    height: int | None
    exercise: str | None
    end: bool = False


def parse_pose(payload: bytes) -> PoseMessage:
    """``{"t": ms, "landmarks": [[x, y, z, visibility] x 33] | null, "engine": "node"|"server",
    "session", "width", "height", "exercise"}`` or ``{"end": true}``."""
    doc = load_json(payload)
    if not isinstance(doc, dict):
        raise BadMessage("bad_shape", "a pose message must be a JSON object")
    if doc.get("end") is True:
        return PoseMessage(np.full((N_LANDMARKS, 4), np.nan, np.float32), 0,
                           str(doc.get("engine", "node")), _session(doc), None, None, None, True)
    t = _number(doc.get("t"), "'t'")
    if t < 0 or t > 2 ** 53:
        raise BadMessage("bad_shape", "'t' must be milliseconds >= 0")
    lms = doc.get("landmarks")
    if lms is None:
        pose = np.full((N_LANDMARKS, 4), np.nan, np.float32)
    else:
        if not isinstance(lms, list) or len(lms) != N_LANDMARKS or \
                not all(isinstance(r, list) and len(r) == 4 for r in lms):
            raise BadMessage("bad_shape", f"'landmarks' must be {N_LANDMARKS} rows of [x, y, z, visibility]")
        try:
            pose = np.array(lms, dtype=np.float32)
        except (TypeError, ValueError):
            raise BadMessage("bad_shape", "landmarks must be numbers") from None
        if pose.dtype != np.float32 or not np.isfinite(pose).all() or (np.abs(pose) > 1e4).any():
            raise BadMessage("not_finite", "landmarks must be finite numbers of sane size")
    engine = doc.get("engine", "node")
    if engine not in ("node", "server"):
        raise BadMessage("bad_shape", "'engine' must be 'node' or 'server'")
    size = [doc.get("width"), doc.get("height")]
    if any(v is not None for v in size):
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 100_000 for v in size):
            raise BadMessage("bad_shape", "'width' and 'height' must be positive pixel counts")
    exercise = doc.get("exercise")
    if exercise is not None and (not isinstance(exercise, str) or not re.match(r"^[a-z_]{1,40}$", exercise)):
        raise BadMessage("bad_shape", "'exercise' must be an exercise name")
    return PoseMessage(pose, int(t), engine, _session(doc), size[0], size[1], exercise)


def _session(doc: dict[str, Any]) -> str | None:
    s = doc.get("session")
    if s is None:
        return None
    if not isinstance(s, str) or not SESSION_RE.match(s):
        raise BadMessage("bad_id", "'session' must be letters, digits, '_', '.' or '-'")
    return s


def pose_payload(pose: np.ndarray, timestamp_ms: int, *, engine: str = "node",
                 session: str | None = None, image_size: tuple[int, int] | None = None,
                 exercise: str | None = None) -> bytes:
    doc: dict[str, Any] = {"t": int(timestamp_ms), "engine": engine}
    p = np.asarray(pose, np.float32)
    doc["landmarks"] = None if np.isnan(p).all() else \
        [[round(float(v), 5) if math.isfinite(v) else 0.0 for v in row] for row in p]
    if session:
        doc["session"] = session
    if image_size:
        doc["width"], doc["height"] = int(image_size[0]), int(image_size[1])
    if exercise:
        doc["exercise"] = exercise
    return json.dumps(doc, separators=(",", ":")).encode()


class Deduper:
    """Remembers the last ``size`` ids seen, so a QoS 1 redelivery is dropped."""

    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._seen: OrderedDict[str, None] = OrderedDict()

    def first(self, ident: str) -> bool:
        if ident in self._seen:
            return False
        self._seen[ident] = None
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return True


class EstatusPublisher:
    """The seed's ``estatus`` topic, made so that a page counting once on ``up`` after ``down``
    gets exactly the node's rep count: ``down`` when a rep starts, ``up`` when it is counted (a
    RepCompleted; a ``down`` first if none went since the last ``up``). Nothing for a movement
    that is not counted, so no ``up`` without a rep. Both go through the outbox like the events
    (QoS 1, in order, kept across outages and restarts), one in flight at a time (``MqttLink``'s
    ``serial_topics``). An ``EventSink``; ``phase(p)`` takes the engine's phase after each pose."""

    def __init__(self, link: "MqttLink", topic: str = ESTATUS_TOPIC, qos: int = 1) -> None:
        self.link = link
        self.topic = topic
        self.qos = qos
        self.last = "up"
        self.sent: list[str] = []

    def _send(self, value: str) -> None:
        self.link.send(self.topic, value.encode(), qos=self.qos)
        self.last = value
        self.sent.append(value)

    def phase(self, phase: str) -> None:
        if phase in ("away", "return") and self.last != "down":
            self._send("down")

    def emit(self, events: Sequence[Event]) -> None:
        for ev in events:
            if isinstance(ev, RepCompleted):
                if self.last != "down":
                    self._send("down")
                self._send("up")

    def close(self) -> None:
        pass


# ---------------------------------------------------------------------------------------------
# The outbox


class Outbox:
    """Messages to deliver, on disk (SQLite, WAL): survives broker outages and node restarts.

    Bounded to ``max_messages``: when full, the oldest message is dropped to make room (a consumer
    sees the gap in the event sequence numbers) and ``dropped`` counts them.
    """

    def __init__(self, path: str | pathlib.Path | None, max_messages: int = DEFAULT_OUTBOX_MAX) -> None:
        if max_messages < 1:
            raise InputError("the outbox must hold at least one message")
        self.path = None if path is None else pathlib.Path(path)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.max_messages = max_messages
        self.dropped = 0
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(":memory:" if self.path is None else str(self.path),
                                       check_same_thread=False, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL: a commit survives the process being killed (not a power cut) without an fsync.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                             "topic TEXT NOT NULL, payload BLOB NOT NULL, qos INTEGER NOT NULL, "
                             "retain INTEGER NOT NULL)")
            self._count = int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
        except sqlite3.Error as err:
            raise InputError(f"outbox {self.path}: {err}") from None

    def __len__(self) -> int:
        return self._count

    def put(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        with self._lock:
            if self._count >= self.max_messages:
                n = self._count - self.max_messages + 1
                self._db.execute("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)", (n,))
                self._count -= n
                self.dropped += n
            self._db.execute("INSERT INTO outbox (topic, payload, qos, retain) VALUES (?, ?, ?, ?)",
                             (topic, payload, qos, int(retain)))
            self._count += 1

    def peek(self, after: int, limit: int) -> list[tuple[int, str, bytes, int, bool]]:
        """The oldest ``limit`` messages with row id above ``after``."""
        with self._lock:
            rows = self._db.execute("SELECT id, topic, payload, qos, retain FROM outbox WHERE id > ? "
                                    "ORDER BY id LIMIT ?", (after, limit)).fetchall()
        return [(int(i), str(t), bytes(p), int(q), bool(r)) for i, t, p, q, r in rows]

    def delete(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self._lock:
            cur = self._db.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in ids])
            self._count -= max(cur.rowcount, 0)

    def close(self) -> None:
        with self._lock:
            self._db.close()


# ---------------------------------------------------------------------------------------------
# The connection


MessageHandler = Callable[[str, bytes], None]


class MqttLink:
    """One MQTT connection that keeps trying: durable messages go through the outbox and are
    deleted when the broker acknowledges them; live messages (pose) are sent only while
    connected. With ``status_topic``, ``online`` is published retained on every connect and the
    broker publishes the retained ``offline`` will when the link dies. A message on one of
    ``serial_topics`` is sent only once the one before it on them is acknowledged, so a resend
    after a reconnect repeats at most one of them (``estatus``: a repeated ``down`` or ``up``
    alone never makes a page that counts ``up`` after ``down`` count twice)."""

    def __init__(self, address: BrokerAddress, client_id: str, *, keepalive: int = 30,
                 outbox: Outbox | None = None, status_topic: str | None = None,
                 subscriptions: Iterable[tuple[str, int]] = (), on_message: MessageHandler | None = None,
                 say: Callable[[str], None] | None = None, window: int = WINDOW,
                 serial_topics: Iterable[str] = ()) -> None:
        import paho.mqtt.client as mqtt

        self.address = address
        self.client_id = client_id
        self.outbox = outbox
        self.status_topic = status_topic
        self.subscriptions = list(subscriptions)
        self.on_message = on_message
        self.say = say or (lambda text: log.info("%s", text))
        self.window = max(1, min(window, 20))
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self.ever_connected = False
        self.lost_since: float | None = None
        self.refused: str | None = None
        self.unreachable = threading.Event()   # a connection attempt failed (nothing listening?)
        self.sent = 0
        self._acks: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._reset = threading.Event()
        self._stop = threading.Event()
        self._inflight: dict[int, int] = {}  # mid -> outbox row id
        self.serial_topics = frozenset(serial_topics)
        self._serial_mid: int | None = None   # the serial message in flight
        self._last_sent = 0
        self._sender: threading.Thread | None = None
        self._mqtt = mqtt
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True,
                        protocol=mqtt.MQTTv311)
        if address.username:
            c.username_pw_set(address.username, address.password)
        if address.tls:
            c.tls_set(ca_certs=address.ca_file)
        if status_topic:
            c.will_set(status_topic, OFFLINE, qos=1, retain=True)
        c.reconnect_delay_set(min_delay=1, max_delay=5)
        c.max_inflight_messages_set(20)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        c.on_connect_fail = self._on_connect_fail
        c.on_subscribe = lambda *a: self.subscribed.set()
        self._client = c
        self._keepalive = keepalive

    # -- life

    def start(self) -> "MqttLink":
        """Connect in the background (retrying while the broker is away) and start sending."""
        self._client.connect_async(self.address.host, self.address.port, keepalive=self._keepalive)
        self._client.loop_start()
        if self.outbox is not None:
            self._sender = threading.Thread(target=self._send_loop, name=f"mqtt-outbox-{self.client_id}",
                                            daemon=True)
            self._sender.start()
        return self

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def wait_first_attempt(self, timeout: float) -> bool:
        """Wait for the first connection attempt to succeed or fail; True when it succeeded (even if
        the connection has been lost again since)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.ever_connected:
                return True
            if self.unreachable.is_set() or self.refused:
                return False
            time.sleep(0.02)
        return self.ever_connected

    def flush(self, timeout: float) -> bool:
        """Wait until the outbox is empty (everything acknowledged); False on timeout."""
        end = time.monotonic() + timeout
        while self.outbox is not None and len(self.outbox) > 0:
            if time.monotonic() >= end:
                return False
            self._wake.set()
            time.sleep(0.02)
        return True

    def close(self, timeout: float = 10.0) -> bool:
        """Deliver what is in the outbox (up to ``timeout`` s), publish ``offline``, disconnect.
        Returns True when nothing was left undelivered (the rest stays in the outbox file)."""
        delivered = self.flush(timeout)
        if self.status_topic and self.connected.is_set():
            try:
                self._client.publish(self.status_topic, OFFLINE, qos=1, retain=True).wait_for_publish(2)
            except (RuntimeError, ValueError):
                pass
        self._stop.set()
        self._wake.set()
        if self._sender is not None:
            self._sender.join(5)
        self._client.disconnect()
        self._client.loop_stop()
        if self.outbox is not None:
            self.outbox.close()
        return delivered

    # -- sending

    def send(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
        """Deliver ``payload`` even across outages and restarts (through the outbox)."""
        if self.outbox is None:
            raise RuntimeError("this link has no outbox")
        try:
            self.outbox.put(topic, payload, qos, retain)
        except sqlite3.Error as err:
            # The file cannot take it (disk full, removed): paho's memory queue is all there is.
            self.say(f"outbox {self.outbox.path}: {err}; this message is kept in memory only")
            self._client.publish(topic, payload, qos=qos, retain=retain)
            return
        self._wake.set()

    def send_live(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> bool:
        """Send now if connected; dropped otherwise (for values only worth having live)."""
        if not self.connected.is_set():
            return False
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        return info.rc == self._mqtt.MQTT_ERR_SUCCESS

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._send_some()
            except sqlite3.Error as err:   # e.g. the disk is full: say so, keep trying
                self.say(f"outbox {self.outbox.path if self.outbox else ''}: {err}; retrying")
                self._stop.wait(1.0)

    def _send_some(self) -> None:
        """One round: take the acknowledgements, then fill the window from the outbox."""
        assert self.outbox is not None
        self._wake.wait(0.5)
        self._wake.clear()
        if self._reset.is_set():
            # A new connection: resend every unacknowledged message, oldest first
            # (consumers drop repeats by id).
            self._reset.clear()
            self._inflight.clear()
            self._last_sent = 0
        acked = []
        while True:
            try:
                mid = self._acks.get_nowait()
            except queue.Empty:
                break
            row = self._inflight.pop(mid, None)
            if row is not None:
                acked.append(row)
        self.outbox.delete(acked)
        if not self.connected.is_set():
            return
        room = self.window - len(self._inflight)
        if room <= 0:
            return
        for row, topic, payload, qos, retain in self.outbox.peek(self._last_sent, room):
            serial = topic in self.serial_topics
            if serial and self._serial_mid in self._inflight:
                break  # in order: this one and those after it wait for the last one's ack
            info = self._client.publish(topic, payload, qos=qos, retain=retain)
            if info.rc != self._mqtt.MQTT_ERR_SUCCESS:
                break  # connection gone: everything from the oldest is sent again on reconnect
            self._inflight[info.mid] = row
            if serial:
                self._serial_mid = info.mid
            self._last_sent = row
            self.sent += 1

    # -- paho callbacks (network thread: no blocking, no outbox access)

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if getattr(reason, "is_failure", False):
            self.refused = str(reason)
            self.say(f"broker {self.address.url} refused the connection: {reason}")
            return
        self.refused = None
        if self.lost_since is not None:
            self.say(f"connected again to broker {self.address.url}")
        self.lost_since = None
        self.ever_connected = True
        if self.status_topic:
            client.publish(self.status_topic, ONLINE, qos=1, retain=True)
        if self.subscriptions:
            client.subscribe(self.subscriptions)
        self._reset.set()
        self.connected.set()
        self._wake.set()

    def _on_disconnect(self, client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        was = self.connected.is_set()
        self.connected.clear()
        self.subscribed.clear()
        if self.lost_since is None:
            self.lost_since = time.monotonic()
        if was and not self._stop.is_set():
            pending = f"; {len(self.outbox)} message(s) wait in the outbox" if self.outbox is not None else ""
            self.say(f"lost the connection to broker {self.address.url} ({reason}); retrying{pending}")

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        if self.lost_since is None:
            self.lost_since = time.monotonic()
        self.unreachable.set()

    def _on_publish(self, client: Any, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        self._acks.put(mid)
        self._wake.set()

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        if self.on_message is None:
            return
        try:
            self.on_message(msg.topic, msg.payload)
        except Exception:  # noqa: BLE001 - a handler bug must not kill the network thread
            log.exception("handling a message on %s failed", msg.topic)


# ---------------------------------------------------------------------------------------------
# Publishing events


class Topics:
    def __init__(self, prefix: str = PREFIX, estatus: str = ESTATUS_TOPIC) -> None:
        if not prefix or any(c in prefix for c in "#+") or prefix.startswith("/") or prefix.endswith("/"):
            raise InputError(f"topic prefix {prefix!r} must be non-empty, without wildcards or "
                             "leading/trailing '/'")
        if not estatus or any(c in estatus for c in "#+"):
            raise InputError(f"estatus topic {estatus!r} must be non-empty without wildcards")
        self.prefix = prefix
        self.estatus = estatus

    def events(self, node: str, kind: str = "#") -> str:
        return f"{self.prefix}/{node}/events/{kind}"

    def status(self, node: str) -> str:
        return f"{self.prefix}/{node}/status"

    def pose(self, node: str) -> str:
        return f"{self.prefix}/{node}/pose"

    def imu(self, node: str) -> str:
        return f"{self.prefix}/{node}/imu"


def event_message(event: Event, node: str, session: str, seq: int,
                  person: int | None = None) -> dict[str, Any]:
    """An event's message; ``person``: whose it is when the node follows several people."""
    doc = {"id": f"{node}/{session}/{seq}", "node": node, "session": session, "seq": seq}
    if person is not None:
        doc["person"] = person
    return {**doc, **event.to_dict()}


class EventPublisher:
    """An ``EventSink``: each event on ``<prefix>/<node>/events/<type>`` through the link's outbox,
    numbered 1, 2, ... within the session. ``close`` closes the link when it owns it. ``person``:
    the id of the person whose session this is, on a node that follows several (in every event)."""

    def __init__(self, link: MqttLink, node: str, session: str, *, topics: Topics | None = None,
                 qos: int = 1, own_link: bool = False, drain_timeout_s: float = 10.0,
                 person: int | None = None) -> None:
        self.link = link
        self.node = check_node_id(node)
        if not SESSION_RE.match(session):
            raise InputError(f"session id {session!r} must be letters, digits, '_', '.' or '-'")
        self.session = session
        self.topics = topics or Topics()
        self.qos = qos
        self.own_link = own_link
        self.drain_timeout_s = drain_timeout_s
        self.seq = 0
        self.person = person
        self.delivered: bool | None = None

    def emit(self, events: Sequence[Event]) -> None:
        for ev in events:
            self.seq += 1
            body = dumps(event_message(ev, self.node, self.session, self.seq,
                                       self.person)).encode()
            self.link.send(self.topics.events(self.node, ev.type), body, qos=self.qos)

    def close(self) -> None:
        if self.own_link:
            self.delivered = self.link.close(self.drain_timeout_s)


__all__ = [
    "BadMessage", "BrokerAddress", "Deduper", "EventPublisher", "LogLimiter", "MqttLink", "Outbox",
    "EstatusPublisher", "PoseMessage", "Topics", "check_node_id", "default_outbox_path", "event_message",
    "load_json", "parse_event", "parse_pose", "pose_payload", "split_topic",
]
