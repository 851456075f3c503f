"""Nodes on an MQTT broker, seen from a server: their state for the gym view, and pose streams
turned into sessions.

:class:`BrokerHub` subscribes to ``<prefix>/+/status``, ``<prefix>/+/events/#`` and
``<prefix>/+/pose``. Events update each node's view (exercise, count, last cue, online/offline);
pose frames marked ``"engine": "server"`` (``repsense node --pose-only``) are fed to a
:class:`repsense.session.Session` per node, whose events the hub publishes on the node's own event
topic, so a weak node that only streams landmarks looks like any other node. Malformed and hostile
messages are dropped and logged once per minute per kind.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from repsense.errors import InputError
from repsense.sinks.mqtt import (BadMessage, BrokerAddress, Deduper, EventPublisher, LogLimiter,
                                 MqttLink, Outbox, Topics, parse_event, parse_pose, split_topic)

log = logging.getLogger(__name__)

# A node's server-run session ends after this long without a pose frame.
IDLE_SESSION_S = 60.0
MAX_NODES = 1000
# Messages received and not yet handled. The MQTT thread only queues them, so the broker never sees
# a slow subscriber (Mosquitto drops QoS 1 messages beyond 1,000 queued for one); beyond this many
# (a minute of 20 nodes at 30 Hz) the server cannot keep up and drops, and says so.
MAX_BACKLOG = 36_000


@dataclass
class NodeView:
    """What the gym view shows of one node."""

    node: str
    online: bool = False
    exercise: str = ""
    count: int = 0
    total_reps: int = 0
    last_cue: str = ""
    hold_s: float | None = None
    session: str = ""
    engine: str = "node"        # "server" when the hub runs the engine on the node's pose stream
    last_seen: float = 0.0      # wall-clock time of the last message (s)
    gone: bool = False          # its retained status was cleared: no longer a station
    # a node that follows several people: one row each, by id (events that carry "person")
    people: list[PersonView] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def person(self, person: int) -> PersonView:
        for row in self.people:
            if row.person == person:
                return row
        row = PersonView(person)
        self.people.append(row)
        self.people.sort(key=lambda r: r.person)
        return row


@dataclass
class PersonView:
    """One person's row of a node that follows several people."""

    person: int
    session: str = ""
    exercise: str = ""
    count: int = 0
    total_reps: int = 0
    last_cue: str = ""
    hold_s: float | None = None


def _apply(view: NodeView | PersonView, kind: str, doc: dict[str, Any]) -> None:
    """One event into what a node's card (or one person's row of it) shows."""
    ex = doc.get("exercise")
    if isinstance(ex, str) and ex:
        view.exercise = ex[:40]
    if kind == "RepCompleted":
        view.count = int(doc.get("count") or 0)
        view.total_reps += 1
    elif kind == "FormWarning":
        view.last_cue = str(doc.get("message") or "")[:200]
    elif kind == "HoldUpdated":
        held = doc.get("held_s")
        view.hold_s = float(held) if isinstance(held, (int, float)) else None
    elif kind == "SessionEnded":
        total = doc.get("total_reps")
        if isinstance(total, int):
            view.total_reps = total


class _ServerSession:
    def __init__(self, hub: "BrokerHub", node: str, source_session: str | None,
                 exercise: str | None, size: tuple[int, int] | None) -> None:
        from repsense.session import Session

        self.source_session = source_session
        aspect = size[0] / size[1] if size else 1.0
        sid = uuid.uuid4().hex[:12]
        assert hub.link is not None
        self.publisher = EventPublisher(hub.link, node, sid, topics=hub.topics)
        self.session = Session(exercise or hub.exercise, aspect=aspect, source=f"mqtt:{node}",
                               sinks=[self.publisher], image_size=size, session_id=sid)
        self.last_frame = time.monotonic()


class BrokerHub:
    """Watches the nodes on a broker; runs the engine for nodes that stream pose only.

    ``on_change(view)`` is called (on the MQTT thread) whenever a node's view changes.
    """

    def __init__(self, address: BrokerAddress, *, topics: Topics | None = None,
                 client_id: str | None = None, run_engine: bool = True, exercise: str = "auto",
                 outbox: Outbox | None = None, on_change: Callable[[NodeView], None] | None = None,
                 say: Callable[[str], None] | None = None) -> None:
        self.address = address
        self.topics = topics or Topics()
        self.client_id = client_id or f"repsense-hub-{uuid.uuid4().hex[:8]}"
        self.run_engine = run_engine
        self.exercise = exercise
        self.on_change = on_change
        self.say = say or (lambda text: log.warning("%s", text))
        self.dropped = LogLimiter(self.say)
        self.nodes: dict[str, NodeView] = {}
        self.sessions: dict[str, _ServerSession] = {}
        self.poses = 0
        self.events = 0
        self._seen = Deduper()
        self._lock = threading.Lock()
        self._backlog: queue.Queue[tuple[str, bytes] | None] = queue.Queue(MAX_BACKLOG)
        self._worker = threading.Thread(target=self._work, name="broker-hub", daemon=True)
        p = self.topics.prefix
        self.link = MqttLink(address, self.client_id, outbox=outbox or Outbox(None),
                             subscriptions=[(f"{p}/+/status", 1), (f"{p}/+/events/#", 1), (f"{p}/+/pose", 1)],
                             on_message=self.receive, say=self.say)

    def start(self) -> "BrokerHub":
        self._worker.start()
        self.link.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Handle what was received (up to ``timeout``), end the server-run sessions, disconnect."""
        if self._worker.is_alive():
            self._backlog.put(None)
            self._worker.join(timeout)
        with self._lock:
            for node in list(self.sessions):
                self._end_session(node)
        self.link.close(timeout)

    @property
    def backlog(self) -> int:
        return self._backlog.qsize()

    def receive(self, topic: str, payload: bytes) -> None:
        """The MQTT thread's part: queue the message for the hub's thread."""
        try:
            self._backlog.put_nowait((topic, payload))
        except queue.Full:
            self.dropped("backlog", f"{MAX_BACKLOG} messages wait to be handled; the server cannot "
                                    "keep up with the nodes")

    def _work(self) -> None:
        while True:
            item = self._backlog.get()
            if item is None:
                return
            self.handle(*item)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [v.to_dict() for v in sorted(self.nodes.values(), key=lambda v: v.node)]

    # -- messages (MQTT thread)

    def handle(self, topic: str, payload: bytes) -> None:
        """One received message; a bad one is dropped and logged (once a minute per kind)."""
        try:
            node, rest = split_topic(topic, self.topics.prefix)
            with self._lock:
                if node not in self.nodes and len(self.nodes) >= MAX_NODES:
                    raise BadMessage("too_many_nodes", f"more than {MAX_NODES} nodes; {node!r} ignored")
                if rest == "status":
                    self._status(node, payload)
                elif rest == "pose":
                    self._pose(node, payload)
                elif rest.startswith("events/"):
                    self._event(node, rest[len("events/"):], payload)
                else:
                    raise BadMessage("bad_topic", f"unexpected topic {topic[:80]!r}")
                self._reap()
        except BadMessage as bad:
            self.dropped(bad.kind, f"{topic[:80]}: {bad}")

    def _view(self, node: str) -> NodeView:
        view = self.nodes.get(node)
        if view is None:
            view = self.nodes[node] = NodeView(node)
        view.last_seen = time.time()
        return view

    def _changed(self, view: NodeView) -> None:
        if self.on_change is not None:
            try:
                self.on_change(view)
            except Exception:  # noqa: BLE001 - a listener bug must not stop the hub
                log.exception("gym listener failed")

    def _status(self, node: str, payload: bytes) -> None:
        if not payload:
            # The retained status was cleared (a browser session that ended): the node is gone.
            gone = self.nodes.pop(node, None)
            if gone is not None:
                gone.online, gone.gone = False, True
                self._changed(gone)
            return
        text = payload[:16].decode("utf-8", "replace")
        if text not in ("online", "offline"):
            raise BadMessage("bad_shape", f"status {text!r} is not 'online' or 'offline'")
        view = self._view(node)
        view.online = text == "online"
        if not view.online and node in self.sessions:
            self._end_session(node)
        self._changed(view)

    def _event(self, node: str, kind: str, payload: bytes) -> None:
        doc = parse_event(node, payload)
        if doc["type"] != kind:
            raise BadMessage("bad_shape", f"event type {doc['type']!r} on the topic of {kind!r}")
        if not self._seen.first(doc["id"]):
            return
        self.events += 1
        view = self._view(node)
        view.online = True
        person = doc.get("person")
        if isinstance(person, int) and not isinstance(person, bool) and 0 < person < 1000:
            row = view.person(person)
            if doc["session"] != row.session:
                row.session = doc["session"]
                row.count, row.total_reps, row.hold_s, row.last_cue = 0, 0, None, ""
            _apply(row, kind, doc)
            self._changed(view)
            return
        if doc["session"] != view.session:
            view.session = doc["session"]
            view.count, view.total_reps, view.hold_s, view.last_cue = 0, 0, None, ""
        _apply(view, kind, doc)
        self._changed(view)

    def _pose(self, node: str, payload: bytes) -> None:
        msg = parse_pose(payload)
        self.poses += 1
        if msg.engine != "server" or not self.run_engine:
            return   # the node runs its own engine; its events say what the view needs
        view = self._view(node)
        view.online, view.engine = True, "server"
        current = self.sessions.get(node)
        if msg.end:
            if current is not None:
                self._end_session(node)
            return
        if current is not None and msg.session != current.source_session:
            self._end_session(node)
            current = None
        if current is None:
            size = (msg.width, msg.height) if msg.width and msg.height else None
            current = self.sessions[node] = _ServerSession(self, node, msg.session, msg.exercise, size)
        current.last_frame = time.monotonic()
        try:
            current.session.feed(msg.pose, msg.timestamp_ms)
        except InputError as err:
            raise BadMessage("bad_time" if "timestamps" in str(err) else "bad_shape", str(err)) from None

    def _end_session(self, node: str) -> None:
        current = self.sessions.pop(node, None)
        if current is not None:
            current.session.finish()

    def _reap(self) -> None:
        now = time.monotonic()
        for node, s in list(self.sessions.items()):
            if now - s.last_frame > IDLE_SESSION_S:
                self._end_session(node)


__all__ = ["BrokerHub", "NodeView"]
