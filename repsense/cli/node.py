"""``repsense node`` (a headless camera node: camera -> pose -> engine -> MQTT) and ``repsense
listen`` (the events of the nodes on a broker, live). ``add_parsers`` plugs into the main CLI;
handlers return an exit code (0 ok, 1 something was not delivered or failed, 2 usage or setup)."""

from __future__ import annotations

import argparse
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

from repsense.cli.common import err, exercise_name, people_count, stop_on_signals
from repsense.engine.events import Event
from repsense.errors import RepsenseError


def default_node_id() -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname().split(".")[0]).strip("-.")
    return name[:64] or "node"


class _Broker:
    """The broker a command talks to: ``--broker URL``, else a broker already listening on
    127.0.0.1:1883 (e.g. the one ``repsense serve`` embeds), else one embedded here."""

    def __init__(self, url: str | None, ca_file: str | None, embed: bool, port: int) -> None:
        from repsense.mqtt_broker import BrokerKeeper
        from repsense.sinks.mqtt import BrokerAddress

        self.keeper: Any = None
        if url is None:
            if embed:
                self.keeper = BrokerKeeper(port)
                if self.keeper.ensure():
                    err(f"started the embedded MQTT broker on {self.keeper.url}")
            url = f"mqtt://127.0.0.1:{port}"
        self.address = BrokerAddress.parse(url, ca_file=ca_file)

    def watch(self, connected: threading.Event) -> None:
        """If the local broker this command borrowed goes away, start one in its place."""
        if self.keeper is not None:
            self.keeper.watch(connected, on_start=lambda b: err(
                f"the broker on {b.url} went away; started the embedded one in its place"))

    def follow(self, link: Any) -> None:
        """Watch the broker for ``link`` (:meth:`watch`); say so when it is not reachable yet: the
        node counts anyway, its events wait in the outbox."""
        self.watch(link.connected)
        if not link.wait_connected(5.0):
            err(f"broker {self.address.url} not reachable yet; counting anyway: events wait in the "
                "outbox until it is")

    def stop(self) -> None:
        if self.keeper is not None:
            self.keeper.stop()


class RepPrinter:
    """Prints one line per rep (stdout) and the exercise when it is found (stderr)."""

    def __init__(self, node: str) -> None:
        self.node = node

    def emit(self, events: Sequence[Event]) -> None:
        for ev in events:
            d = ev.to_dict()
            if d["type"] == "RepCompleted":
                print(format_event(self.node, d), flush=True)
            elif d["type"] == "ExerciseDetected":
                print(f"{self.node}: {d['exercise']}", file=sys.stderr, flush=True)

    def close(self) -> None:
        pass


def format_event(node: str, d: dict[str, Any]) -> str:
    """One readable line for an event dict."""
    kind = d.get("type")
    head = f"{node:12s}"
    if kind == "RepCompleted":
        faults = ", ".join(d.get("faults") or []) or "good"
        dur = (d.get("end_ms", 0) - d.get("start_ms", 0)) / 1000.0
        rom = d.get("rom_pct")
        rom_text = f", ROM {rom:.0f}%" if isinstance(rom, (int, float)) else ""
        return f"{head} {d.get('exercise')} rep {d.get('count')}: {faults} ({dur:.1f} s{rom_text})"
    if kind == "FormWarning":
        return f"{head} cue: {d.get('message')}"
    if kind == "ExerciseDetected":
        return f"{head} exercise: {d.get('exercise')}"
    if kind == "HoldUpdated":
        return f"{head} {d.get('exercise')} hold {d.get('held_s', 0):.0f} s" + \
            ("" if d.get("holding") else " (ended)")
    if kind == "SetCompleted":
        return f"{head} {d.get('exercise')} set of {d.get('reps')} reps"
    if kind == "SessionEnded":
        return f"{head} session ended: {d.get('total_reps')} reps"
    if kind == "PersonLost":
        return f"{head} person lost"
    return f"{head} {kind}"


def cmd_node(args: argparse.Namespace) -> int:
    from repsense.session import Session
    from repsense.sinks.mqtt import (EventPublisher, MqttLink, Outbox, Topics, check_node_id,
                                     default_outbox_path, EstatusPublisher, pose_payload)
    from repsense.sources.camera import open_camera

    try:
        node = check_node_id(args.node or default_node_id())
        topics = Topics(args.prefix, args.estatus_topic)
        source = open_camera(args.camera)
        client_id = args.client_id or f"repsense-node-{node}"
        outbox = Outbox(args.outbox or default_outbox_path(f"{args.prefix}-{node}"), args.outbox_max)
        broker = _Broker(args.broker, args.ca_file, embed=True, port=args.embedded_port)
    except RepsenseError as exc:
        err(str(exc))
        return 2
    people = getattr(args, "people", 1)
    if people > 1 and (args.pose_only or args.publish_pose):
        err(f"--people {people} counts on the node: leave out --pose-only and --publish-pose")
        return 2
    left = len(outbox)
    link = MqttLink(broker.address, client_id, keepalive=args.keepalive, outbox=outbox,
                    status_topic=topics.status(node), say=err, serial_topics=[topics.estatus]).start()
    if left:
        err(f"{left} message(s) from an earlier run wait in the outbox; they are delivered first")
    sid = uuid.uuid4().hex[:12]
    pub = EventPublisher(link, node, sid, topics=topics, qos=args.qos)
    session = None
    if people > 1:
        return _node_people(args, people, node, source, link, topics, broker, outbox)
    estatus = None if args.no_estatus else EstatusPublisher(link, topics.estatus, qos=args.qos)
    if not args.pose_only:
        session = Session(args.exercise, aspect=source.aspect, source=args.camera,
                          sinks=[pub, RepPrinter(node)] + ([estatus] if estatus else []),
                          image_size=source.image_size,
                          source_fps=source.fps, session_id=sid)
    err(f"node {node}: {source.kind} {args.camera} -> {topics.events(node)} on {broker.address.url}"
        + (" (pose only: the server runs the engine)" if args.pose_only else ""))
    broker.follow(link)
    code = 0
    with stop_on_signals() as stop:
        try:
            for pose, t in source.poses(model=args.model, max_fps=args.max_fps, speed=args.speed,
                                        stop=stop):
                if session is None:
                    link.send(topics.pose(node), pose_payload(pose, t, engine="server", session=sid,
                                                              image_size=source.image_size,
                                                              exercise=args.exercise),
                              qos=args.qos)
                    continue
                if args.publish_pose:
                    link.send_live(topics.pose(node), pose_payload(pose, t, session=sid,
                                                                   image_size=source.image_size))
                session.feed(pose, t)
                if estatus is not None:
                    estatus.phase(session.state().phase)
        except RepsenseError as exc:
            err(str(exc))
            code = 1
        finally:
            if session is not None:
                session.finish()
            else:
                link.send(topics.pose(node), json.dumps({"end": True, "session": sid}).encode(),
                          qos=args.qos)
            if not link.connected.is_set() and len(outbox):
                err(f"broker {broker.address.url} is away; waiting up to {args.drain_timeout:.0f} s "
                    f"to deliver {len(outbox)} message(s)")
            delivered = link.close(args.drain_timeout)
            if not delivered:
                err(f"{len(outbox) if not delivered else 0} message(s) not delivered; they stay in "
                    f"{outbox.path} and go first when the node starts again")
                code = 1
            broker.stop()
    if session is not None:
        print(f"{node}: {session.tracker.total_reps} reps", file=sys.stderr, flush=True)
    return code


def _node_people(args: argparse.Namespace, people: int, node: str, source: Any, link: Any,
                 topics: Any, broker: _Broker, outbox: Any) -> int:
    """``node --people N``: one session per person in view, each publishing its events with the
    person's id (``repsense/<node>/events/<type>`` with ``"person": id``)."""
    from repsense.session import PeopleSession
    from repsense.sinks.mqtt import EventPublisher

    def sinks(person: int, session: Any) -> list[Any]:
        return [EventPublisher(link, node, session.id, topics=topics, qos=args.qos, person=person),
                RepPrinter(f"{node}#{person}")]

    room = PeopleSession(people, args.exercise, aspect=source.aspect, source=args.camera,
                         frame_rate=args.max_fps or 15.0, sinks=sinks,
                         image_size=source.image_size, source_fps=source.fps)
    err(f"node {node}: {source.kind} {args.camera}, up to {people} people -> "
        f"{topics.events(node)} on {broker.address.url}")
    broker.follow(link)
    code = 0
    with stop_on_signals() as stop:
        try:
            for poses, t in source.people(people, model=args.model, max_fps=args.max_fps,
                                          speed=args.speed, stop=stop):
                room.feed(poses, t)
        except RepsenseError as exc:
            err(str(exc))
            code = 1
        finally:
            room.finish()
            delivered = link.close(args.drain_timeout)
            if not delivered:
                err(f"{len(outbox)} message(s) not delivered; they stay in {outbox.path} and go "
                    "first when the node starts again")
                code = 1
            broker.stop()
    for pid, session in sorted(room.sessions.items()):
        print(f"{node}: person {pid}: {session.tracker.total_reps} reps", file=sys.stderr,
              flush=True)
    return code


class EstatusCounter:
    """The seed's page: count once on ``up`` after a ``down``."""

    def __init__(self) -> None:
        self.count = 0
        self._armed = False

    def feed(self, value: str) -> bool:
        if value == "down":
            self._armed = True
        elif value == "up" and self._armed:
            self._armed = False
            self.count += 1
            return True
        return False


def cmd_listen(args: argparse.Namespace) -> int:
    from repsense.sinks.mqtt import (BadMessage, Deduper, LogLimiter, MqttLink, Topics,
                                     check_node_id, parse_event, split_topic)

    try:
        topics = Topics(args.prefix, args.estatus_topic)
        node = check_node_id(args.node) if args.node else "+"
        broker = _Broker(args.broker, args.ca_file, embed=False, port=args.embedded_port)
    except RepsenseError as exc:
        err(str(exc))
        return 2
    dropped = LogLimiter(err)
    seen = Deduper()
    counter = EstatusCounter()
    lock = threading.Lock()

    def on_message(topic: str, payload: bytes) -> None:
        with lock:
            if args.estatus:
                if counter.feed(payload[:16].decode("utf-8", "replace").strip()):
                    print(f"count {counter.count}", flush=True)
                return
            try:
                who, rest = split_topic(topic, topics.prefix)
                if rest == "status":
                    text = payload[:16].decode("utf-8", "replace")
                    if text not in ("online", "offline"):
                        raise BadMessage("bad_shape", f"status {text!r} is not online/offline")
                    line = json.dumps({"node": who, "status": text}) if args.json else f"{who:12s} {text}"
                    print(line, flush=True)
                    return
                doc = parse_event(who, payload)
            except BadMessage as bad:
                dropped(bad.kind, f"{topic[:80]}: {bad}")
                return
            if not seen.first(doc["id"]):
                return
            print(json.dumps(doc) if args.json else format_event(who, doc), flush=True)

    subs = [(topics.estatus, 0)] if args.estatus else \
        [(topics.events(node), 1), (topics.status(node), 1)]
    link = MqttLink(broker.address, args.client_id or f"repsense-listen-{uuid.uuid4().hex[:8]}",
                    keepalive=args.keepalive, subscriptions=subs, on_message=on_message, say=err).start()
    code = 0
    with stop_on_signals() as stop:
        end = time.monotonic() + args.duration if args.duration else None
        if not link.wait_first_attempt(args.connect_timeout):
            err(f"cannot reach broker {broker.address.url}"
                + (f" ({link.refused})" if link.refused else "")
                + "; start one (repsense serve / repsense node start one) or pass --broker URL")
            link.close(0)
            return 2
        err(f"listening on {broker.address.url}: " + ", ".join(t for t, _ in subs))
        while not stop.wait(0.2):
            if end is not None and time.monotonic() >= end:
                break
        link.close(0)
    if args.estatus:
        print(f"total {counter.count}", flush=True)
    return code


def _broker_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--broker", metavar="URL",
                   help="mqtt://[USER:PASSWORD@]HOST[:PORT] or mqtts://... (user/password may come "
                        "from REPSENSE_MQTT_USERNAME / REPSENSE_MQTT_PASSWORD); default: "
                        "127.0.0.1:1883, started here if nothing listens there")
    p.add_argument("--ca-file", metavar="PEM", help="CA certificate(s) for an mqtts:// broker")
    p.add_argument("--prefix", default="repsense", help="topic prefix (default: repsense)")
    p.add_argument("--estatus-topic", default="estatus", metavar="TOPIC",
                   help="topic of the per-frame up/down class (default: estatus)")
    p.add_argument("--client-id", metavar="ID", help="MQTT client id")
    p.add_argument("--keepalive", type=int, default=30, metavar="S", help="MQTT keep-alive (default 30 s)")
    p.add_argument("--embedded-port", type=int, default=1883, metavar="PORT", help=argparse.SUPPRESS)


def add_parsers(subparsers: Any) -> None:
    """Add ``node`` and ``listen``."""
    from repsense.sinks.mqtt import DEFAULT_OUTBOX_MAX

    p = subparsers.add_parser(
        "node", help="headless camera node: camera -> pose -> reps, published over MQTT",
        description="Watch a camera (device index, RTSP/HTTP URL, or a video / pose recording file "
                    "played once at its own rate), count and judge reps, and publish every event "
                    "over MQTT. Nothing is lost while the broker is away: events wait in an outbox "
                    "on disk. See docs/mqtt.md.")
    p.add_argument("--camera", required=True, metavar="0|URL|FILE",
                   help="OpenCV device index, rtsp:// or http:// URL, video file, or pose recording .npz")
    p.add_argument("--node", metavar="ID", help="node id in the topics (default: the host name)")
    p.add_argument("--exercise", default="auto", type=exercise_name,
                   help="exercise name, 'generic' or 'auto' (default)")
    _broker_options(p)
    p.add_argument("--qos", type=int, choices=[0, 1, 2], default=1, help="QoS of the events (default 1)")
    p.add_argument("--publish-pose", action="store_true", help="also stream the landmarks on <prefix>/<node>/pose")
    p.add_argument("--people", type=people_count, default=1, metavar="N",
                   help="follow up to N people (1-6, default 1): one session each, their events "
                        "carry the person's id")
    p.add_argument("--pose-only", action="store_true",
                   help="stream landmarks only (QoS 1, through the outbox) and let a server run the engine")
    p.add_argument("--no-estatus", action="store_true", help="do not publish the per-frame up/down class")
    p.add_argument("--outbox", metavar="FILE.sqlite", help="outbox file (default: in ~/.local/share/repsense/outbox)")
    p.add_argument("--outbox-max", type=int, default=DEFAULT_OUTBOX_MAX, metavar="N",
                   help=f"messages the outbox holds; when full the oldest is dropped (default {DEFAULT_OUTBOX_MAX})")
    p.add_argument("--drain-timeout", type=float, default=30.0, metavar="S",
                   help="at the end, wait this long for the broker to take what is left (default 30 s)")
    p.add_argument("--model", choices=["lite", "full"], default="full", help="pose model (default: full)")
    p.add_argument("--max-fps", type=float, default=None, metavar="FPS",
                   help="pose frames per second at most (default 15, as analyze)")
    p.add_argument("--speed", type=float, default=1.0, metavar="X",
                   help="play a file X times its own rate (0: as fast as it goes; default 1)")
    p.set_defaults(func=cmd_node)

    p = subparsers.add_parser("listen", help="the events of the nodes on an MQTT broker, live",
                              description="Print the events of one or all nodes, one line each "
                                          "(or JSON), dropping QoS 1 repeats by id.")
    p.add_argument("--node", metavar="ID", help="only this node (default: all)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--estatus", action="store_true",
                   help="count reps from the estatus topic (once on 'up' after 'down') and print the count")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: Ctrl-C)")
    p.add_argument("--connect-timeout", type=float, default=10.0, metavar="S",
                   help="give up when the broker cannot be reached within S seconds (default 10)")
    _broker_options(p)
    p.set_defaults(func=cmd_listen)


__all__ = ["add_parsers", "cmd_node", "cmd_listen", "EstatusCounter", "format_event"]
