"""The MQTT module's parts: broker URLs, the outbox and its bound, message checks, the embedded
broker's safety, and hostile messages against a running hub."""

from __future__ import annotations

import json
import math
import os
import pathlib
import time

import numpy as np
import pytest

pytest.importorskip("paho.mqtt.client")
pytest.importorskip("amqtt.broker")

from repsense.mqtt_broker import EmbeddedBroker  # noqa: E402
from repsense.engine.events import ExerciseDetected, RepCompleted  # noqa: E402
from repsense.errors import InputError  # noqa: E402
from repsense.cli.node import EstatusCounter  # noqa: E402
from repsense.sinks.mqtt import (BadMessage, BrokerAddress, LogLimiter, Outbox, check_node_id,  # noqa: E402
                                 EstatusPublisher, event_message, parse_event, parse_pose,
                                 pose_payload, split_topic)

# --- broker URLs -------------------------------------------------------------------------------


@pytest.mark.parametrize("url, env, expected", [
    ("mqtt://broker.local", {}, ("broker.local", 1883, False, None, None)),
    ("broker.local:1884", {}, ("broker.local", 1884, False, None, None)),
    ("mqtts://hivemq.example", {}, ("hivemq.example", 8883, True, None, None)),
    ("mqtt://ann:s%40cret@10.0.0.2:1999", {}, ("10.0.0.2", 1999, False, "ann", "s@cret")),
    ("mqtt://ann@h", {"REPSENSE_MQTT_PASSWORD": "pw"}, ("h", 1883, False, "ann", "pw")),
    ("mqtt://h", {"REPSENSE_MQTT_USERNAME": "u", "REPSENSE_MQTT_PASSWORD": "pw"}, ("h", 1883, False, "u", "pw")),
])
def test_broker_urls(url: str, env: dict[str, str], expected: tuple) -> None:
    a = BrokerAddress.parse(url, env=env)
    assert (a.host, a.port, a.tls, a.username, a.password) == expected
    assert "pw" not in a.url and "cret" not in a.url


@pytest.mark.parametrize("url, message", [
    ("http://h", "not understood"),
    ("mqtt://", "not understood"),
    ("mqtt://h:99999", "bad port"),
    ("mqtt://h/topic", "no path"),
])
def test_bad_broker_urls_say_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        BrokerAddress.parse(url, env={})


def test_ca_file_needs_tls_and_an_existing_file(tmp_path: pathlib.Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    assert BrokerAddress.parse("mqtts://h", ca_file=str(ca), env={}).ca_file == str(ca)
    with pytest.raises(InputError, match="needs a TLS"):
        BrokerAddress.parse("mqtt://h", ca_file=str(ca), env={})
    with pytest.raises(InputError, match="no such file"):
        BrokerAddress.parse("mqtts://h", ca_file=str(tmp_path / "nope.pem"), env={})


def test_password_in_url_is_redacted_in_errors() -> None:
    with pytest.raises(InputError) as err:
        BrokerAddress.parse("http://u:hunter2@h", env={})
    assert "hunter2" not in str(err.value)


# --- ids, topics, payloads ---------------------------------------------------------------------


@pytest.mark.parametrize("node", ["gym-1", "rack_3", "pi.kitchen", "A" * 64])
def test_good_node_ids(node: str) -> None:
    assert check_node_id(node) == node


@pytest.mark.parametrize("node", ["", "a/b", "+", "#", "a+b", "gym 1", "-x", "A" * 65, "ü"])
def test_bad_node_ids(node: str) -> None:
    with pytest.raises(InputError):
        check_node_id(node)


def test_event_round_trip_and_id_checks() -> None:
    ev = RepCompleted(1500, exercise="squat", count=2, start_ms=0, end_ms=1500, bottom_ms=700,
                      concentric_s=0.8, eccentric_s=0.7, rom_deg=float("nan"))
    body = json.dumps(event_message(ev, "gym-1", "abc", 7)).replace("NaN", "null").encode()
    doc = parse_event("gym-1", body)
    assert doc["id"] == "gym-1/abc/7" and doc["count"] == 2
    with pytest.raises(BadMessage) as bad:
        parse_event("gym-2", body)                  # someone else's id on this node's topic
    assert bad.value.kind == "bad_id"
    wild = json.dumps({**json.loads(body), "id": "gym-1/+/#", "session": "+"}).encode()
    with pytest.raises(BadMessage) as bad:
        parse_event("gym-1", wild)
    assert bad.value.kind == "bad_id"


@pytest.mark.parametrize("topic, kind", [
    ("repsense/+/pose", "bad_topic"), ("repsense/#", "bad_topic"), ("repsense/a b/pose", "bad_topic"),
    ("other/gym-1/pose", "bad_topic"),
])
def test_topics_with_bad_node_ids_are_refused(topic: str, kind: str) -> None:
    with pytest.raises(BadMessage) as bad:
        split_topic(topic)
    assert bad.value.kind == kind


def test_pose_payload_round_trip() -> None:
    pose = np.random.default_rng(0).random((33, 4)).astype(np.float32)
    msg = parse_pose(pose_payload(pose, 1234, engine="server", session="s1", image_size=(640, 480),
                                  exercise="squat"))
    assert msg.timestamp_ms == 1234 and msg.engine == "server" and (msg.width, msg.height) == (640, 480)
    np.testing.assert_allclose(msg.pose, pose, atol=1e-5)
    missing = parse_pose(pose_payload(np.full((33, 4), np.nan, np.float32), 5))
    assert np.isnan(missing.pose).all()


@pytest.mark.parametrize("payload, kind", [
    (b"\xff\xfe", "not_json"),
    (b"{", "not_json"),
    (b"[1, 2]", "bad_shape"),
    (b'{"t": 1, "landmarks": [[1, 2, 3]]}', "bad_shape"),
    (b'{"t": "x", "landmarks": null}', "bad_shape"),
    (b'{"t": 1, "landmarks": null, "engine": "mine"}', "bad_shape"),
    (('{"t": 1, "landmarks": [' + ",".join(["[NaN, 1, 2, 3]"] * 33) + "]}").encode(), "not_finite"),
    (('{"t": 1, "landmarks": [' + ",".join(["[1e999, 1, 2, 3]"] * 33) + "]}").encode(), "not_finite"),
    (b'{"t": Infinity}', "not_finite"),
    (b"[" * 100_000, "too_large"),
    (b"[" * 50_000, "not_json"),       # deep nesting: a RecursionError inside json
])
def test_bad_pose_messages(payload: bytes, kind: str) -> None:
    with pytest.raises(BadMessage) as bad:
        parse_pose(payload)
    assert bad.value.kind == kind


def test_estatus_counts_exactly_the_reps() -> None:
    """``down`` when a rep starts, ``up`` when it is counted: the seed's counter (once on ``up``
    after ``down``) gets the rep count, also for a movement that is not counted and for reps
    counted all at once; a repeat of the last message alone (a resend) changes nothing."""
    class Link:
        def __init__(self) -> None:
            self.sent: list[tuple[str, bytes]] = []

        def send(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> None:
            self.sent.append((topic, payload))

    def rep(n: int) -> RepCompleted:
        return RepCompleted(n * 1000, exercise="squat", count=n, start_ms=0, end_ms=900,
                            bottom_ms=400, concentric_s=0.4, eccentric_s=0.5, rom_deg=90.0)

    link = Link()
    pub = EstatusPublisher(link, "estatus")  # type: ignore[arg-type]
    for p in ("idle", "rest", "away", "away", "return"):
        pub.phase(p)
    pub.emit([rep(1)])
    pub.phase("rest")
    pub.phase("away")                        # a movement that is not counted ...
    pub.phase("rest")
    pub.phase("away")                        # ... then a rep
    pub.emit([rep(2)])
    pub.emit([rep(3), rep(4)])               # counted together (e.g. when the exercise is found)
    values = [v.decode() for _, v in link.sent]
    assert {t for t, _ in link.sent} == {"estatus"}
    assert values == ["down", "up", "down", "up", "down", "up", "down", "up"]
    counter = EstatusCounter()
    assert [counter.feed(v) for v in values].count(True) == 4 == counter.count
    for i in range(len(values)):                       # any one message delivered twice
        again = EstatusCounter()
        for v in values[:i + 1] + values[i:]:
            again.feed(v)
        assert again.count == 4, (i, values)


def test_log_limiter_reports_each_kind_once_a_minute() -> None:
    said: list[str] = []
    now = [0.0]
    limit = LogLimiter(said.append, clock=lambda: now[0])
    for _ in range(5):
        limit("not_json", "x")
    limit("bad_shape", "y")
    now[0] = 61.0
    limit("not_json", "x")
    assert len(said) == 3 and "4 more of this kind" in said[2]
    assert limit.counts == {"not_json": 6, "bad_shape": 1}


# --- the outbox --------------------------------------------------------------------------------


def test_outbox_survives_reopening_and_keeps_order(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "o.sqlite"
    box = Outbox(path, max_messages=10)
    for i in range(4):
        box.put(f"t/{i}", str(i).encode())
    box.delete([box.peek(0, 1)[0][0]])
    box.close()
    again = Outbox(path, max_messages=10)
    assert len(again) == 3 and [r[1] for r in again.peek(0, 10)] == ["t/1", "t/2", "t/3"]
    again.close()


def test_full_outbox_drops_the_oldest(tmp_path: pathlib.Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", max_messages=3)
    for i in range(5):
        box.put("t", str(i).encode())
    assert len(box) == 3 and box.dropped == 2
    assert [r[2] for r in box.peek(0, 10)] == [b"2", b"3", b"4"]
    box.close()


# --- the embedded broker -----------------------------------------------------------------------


def test_embedded_broker_needs_a_password_off_loopback() -> None:
    with pytest.raises(InputError, match="user name and"):
        EmbeddedBroker("0.0.0.0", 0)
    EmbeddedBroker("127.0.0.1", 0)   # fine without


def test_embedded_broker_with_password_refuses_others() -> None:
    from repsense.sinks.mqtt import MqttLink

    with EmbeddedBroker("127.0.0.1", 0, username="coach", password="pw") as broker:
        good = MqttLink(BrokerAddress.parse(f"mqtt://coach:pw@127.0.0.1:{broker.port}", env={}), "good").start()
        bad = MqttLink(BrokerAddress.parse(f"mqtt://coach:nope@127.0.0.1:{broker.port}", env={}), "bad").start()
        anon = MqttLink(BrokerAddress.parse(f"mqtt://127.0.0.1:{broker.port}", env={}), "anon").start()
        try:
            assert good.wait_connected(10)
            assert not bad.wait_connected(2) and not anon.wait_connected(0.5)
            assert bad.refused and anon.refused
        finally:
            for link in (good, bad, anon):
                link.close(0)


# --- hostile messages against a running hub -----------------------------------------------------


def test_hostile_messages_are_dropped_and_logged_once_per_kind() -> None:
    import paho.mqtt.client as mqtt

    from repsense.sources.nodes import BrokerHub

    said: list[str] = []
    with EmbeddedBroker("127.0.0.1", 0) as broker:
        address = BrokerAddress.parse(f"mqtt://127.0.0.1:{broker.port}", env={})
        hub = BrokerHub(address, say=said.append).start()
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        try:
            assert hub.link.subscribed.wait(10)
            time.sleep(0.2)
            nan_pose = ('{"t": 1, "engine": "server", "landmarks": ['
                        + ",".join(["[NaN, NaN, NaN, NaN]"] * 33) + "]}").encode()
            hostile = [
                ("repsense/evil/pose", b"not json at all"),
                ("repsense/evil/pose", b"\x00\xff" * 10),
                ("repsense/evil/pose", b'{"t": [1], "landmarks": {}}'),
                ("repsense/evil/events/RepCompleted", b'{"type": "RepCompleted"}'),
                ("repsense/evil/events/RepCompleted",
                 b'{"type": "RepCompleted", "id": "evil/+/#", "session": "+", "seq": 1, "timestamp_ms": 1}'),
                ("repsense/evil/status", b"maybe"),
                ("repsense/evil/pose", b"x" * (10 * 1024 * 1024)),
                ("repsense/ev il/pose", b"{}"),
            ] + [("repsense/evil/pose", nan_pose)] * 200
            for topic, payload in hostile:
                pub.publish(topic, payload, qos=1)
            good = RepCompleted(900, exercise="squat", count=1, start_ms=0, end_ms=900, bottom_ms=400,
                                concentric_s=0.4, eccentric_s=0.5, rom_deg=90.0)
            for ev in (ExerciseDetected(100, exercise="squat"), good):
                pub.publish(f"repsense/gym-1/events/{ev.type}",
                            json.dumps(event_message(ev, "gym-1", "s1", 1 if ev is not good else 2)), qos=1)
            pub.publish("repsense/gym-1/status", b"online", qos=1).wait_for_publish(10)
            end = time.monotonic() + 30
            while time.monotonic() < end and not any(v["node"] == "gym-1" and v["count"] == 1
                                                      for v in hub.snapshot()):
                time.sleep(0.05)
            # The link is alive and still takes good messages after the flood.
            view = {v["node"]: v for v in hub.snapshot()}
            assert view["gym-1"]["count"] == 1 and view["gym-1"]["exercise"] == "squat"
            assert view["gym-1"]["online"]
            assert hub.link.connected.is_set()
        finally:
            pub.loop_stop()
            pub.disconnect()
            hub.close(0)
    counts = hub.dropped.counts
    assert counts["not_finite"] == 200
    assert counts["not_json"] == 2 and counts["too_large"] == 1 and counts["bad_topic"] == 1
    assert counts["bad_id"] == 2 and counts["bad_shape"] == 2
    kinds = [line.split("(")[1].split(")")[0] for line in said if line.startswith("dropped a message")]
    assert sorted(kinds) == sorted(set(kinds)), said        # once per kind within the minute
    assert "evil" not in view


def test_nan_in_event_numbers_is_refused() -> None:
    body = json.dumps({"type": "RepCompleted", "id": "n/s/1", "session": "s", "seq": 1,
                       "timestamp_ms": 5, "count": math.inf}).encode()
    with pytest.raises(BadMessage) as bad:
        parse_event("n", body)
    assert bad.value.kind == "not_finite"


def test_listen_prints_each_event_once_and_drops_bad_ones(tmp_path: pathlib.Path) -> None:
    """``repsense listen --json``: one line per event, repeats dropped by id, a hostile message
    logged and dropped; ``listen`` without a broker says so in one line."""
    import subprocess
    import sys

    import paho.mqtt.client as mqtt

    from repsense.sinks.mqtt import EventPublisher, MqttLink, Topics

    root = pathlib.Path(__file__).resolve().parents[1]
    with EmbeddedBroker("127.0.0.1", 0) as broker:
        err_path = tmp_path / "listen.err"
        with open(err_path, "wb") as err:
            listen = subprocess.Popen([sys.executable, "-m", "repsense", "listen", "--json", "--broker", broker.url,
                                       "--duration", "60"], stdout=subprocess.PIPE, stderr=err, text=True, cwd=root)
        try:
            end = time.monotonic() + 30
            while "listening on" not in err_path.read_text() and time.monotonic() < end:
                time.sleep(0.1)
            link = MqttLink(BrokerAddress.parse(broker.url, env={}), "n", outbox=Outbox(None),
                            status_topic=Topics().status("rack-9")).start()
            assert link.wait_connected(10)
            pub = EventPublisher(link, "rack-9", "s9", own_link=True)
            pub.emit([ExerciseDetected(10, exercise="squat")])
            raw = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
            raw.connect("127.0.0.1", broker.port)
            raw.loop_start()
            again = json.dumps(event_message(ExerciseDetected(10, exercise="squat"), "rack-9", "s9", 1))
            raw.publish("repsense/rack-9/events/ExerciseDetected", again, qos=1).wait_for_publish(5)
            raw.publish("repsense/rack-9/events/RepCompleted", b'{"id": "x/+/#"}', qos=1).wait_for_publish(5)
            raw.loop_stop()
            raw.disconnect()
            pub.emit([RepCompleted(900, exercise="squat", count=1, start_ms=0, end_ms=900, bottom_ms=400,
                                   concentric_s=0.4, eccentric_s=0.5, rom_deg=90.0)])
            pub.close()
            time.sleep(1.0)
        finally:
            listen.terminate()
            out, _ = listen.communicate(timeout=20)
        assert listen.returncode == 0
    docs = [json.loads(line) for line in out.splitlines()]
    events = [d for d in docs if "type" in d]
    assert [(e["type"], e["seq"]) for e in events] == [("ExerciseDetected", 1), ("RepCompleted", 2)]
    assert {"node": "rack-9", "status": "offline"} in docs
    assert "dropped a message (bad_shape)" in err_path.read_text() or \
        "dropped a message (bad_id)" in err_path.read_text()
    nobody = subprocess.run([sys.executable, "-m", "repsense", "listen", "--broker", f"mqtt://127.0.0.1:{_free()}"],
                            capture_output=True, text=True, timeout=60, cwd=root)
    assert nobody.returncode == 2 and "cannot reach broker" in nobody.stderr and "Traceback" not in nobody.stderr


def _free() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tls_pair(tmp_path: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
    """A CA and a server certificate for 127.0.0.1 signed by it (PEM files)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "repsense test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    for p in paths:
        p.chmod(0o644)
    return paths


# paho-mqtt 2.2 leaves the socket of a failed TLS handshake (the untrusted-CA case) to the GC.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_mosquitto_over_tls_with_a_password(tmp_path: pathlib.Path) -> None:
    """mqtts:// with --ca-file and user:password (from the environment) against a real Mosquitto;
    a wrong password and an unknown CA are refused."""
    import shutil
    import subprocess

    from mqtt_brokers import MOSQUITTO, _listening, free_port

    from repsense.sinks.mqtt import EventPublisher, MqttLink, Topics

    passwd = shutil.which("mosquitto_passwd")
    if not pathlib.Path(MOSQUITTO).is_file() or passwd is None:
        pytest.skip("mosquitto is not installed")
    ca, cert, key = _tls_pair(tmp_path)
    users = tmp_path / "passwords"
    subprocess.run([passwd, "-b", "-c", str(users), "coach", "s3cret"], check=True, capture_output=True)
    users.chmod(0o644)
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\ncafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
                    f"allow_anonymous false\npassword_file {users}\npersistence false\nlog_dest none\n"
                    # run as root (the default drops to "mosquitto", who cannot read pytest's tmp dir)
                    + ("user root\n" if os.geteuid() == 0 else ""))
    proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    links = []
    try:
        end = time.monotonic() + 20
        while not _listening(port):
            assert proc.poll() is None and time.monotonic() < end, "mosquitto did not start"
            time.sleep(0.05)
        env = {"REPSENSE_MQTT_USERNAME": "coach", "REPSENSE_MQTT_PASSWORD": "s3cret"}
        got: list[tuple[str, bytes]] = []
        sub = MqttLink(BrokerAddress.parse(f"mqtts://127.0.0.1:{port}", ca_file=str(ca), env=env), "sub",
                       subscriptions=[("repsense/#", 1)], on_message=lambda t, p: got.append((t, p))).start()
        links.append(sub)
        assert sub.subscribed.wait(15)
        link = MqttLink(BrokerAddress.parse(f"mqtts://coach:s3cret@127.0.0.1:{port}", ca_file=str(ca), env={}),
                        "pub", outbox=Outbox(tmp_path / "o.sqlite"), status_topic=Topics().status("tls-1")).start()
        EventPublisher(link, "tls-1", "s1").emit([ExerciseDetected(5, exercise="squat")])
        assert link.flush(15)
        links.append(link)
        wrong = MqttLink(BrokerAddress.parse(f"mqtts://coach:nope@127.0.0.1:{port}", ca_file=str(ca), env={}),
                         "wrong").start()
        untrusted = MqttLink(BrokerAddress.parse(f"mqtts://coach:s3cret@127.0.0.1:{port}", env={}), "untrusted").start()
        links += [wrong, untrusted]
        assert not wrong.wait_first_attempt(10) and wrong.refused
        assert not untrusted.wait_connected(3)
        end = time.monotonic() + 10
        while not any(t == "repsense/tls-1/events/ExerciseDetected" for t, _ in got) and time.monotonic() < end:
            time.sleep(0.05)
        assert any(t == "repsense/tls-1/events/ExerciseDetected" for t, _ in got)
        assert ("repsense/tls-1/status", b"online") in got
    finally:
        for link in links:
            link.close(0)
        proc.terminate()
        proc.wait(10)


def test_a_broken_outbox_file_does_not_stop_the_events(tmp_path: pathlib.Path) -> None:
    """The outbox cannot write (here: its table is gone): the event still goes out, from memory."""
    from repsense.sinks.mqtt import EventPublisher, MqttLink

    said: list[str] = []
    got: list[str] = []
    with EmbeddedBroker("127.0.0.1", 0) as broker:
        address = BrokerAddress.parse(broker.url, env={})
        sub = MqttLink(address, "sub", subscriptions=[("repsense/#", 1)],
                       on_message=lambda t, p: got.append(t)).start()
        assert sub.subscribed.wait(10)
        box = Outbox(tmp_path / "o.sqlite")
        link = MqttLink(address, "pub", outbox=box, say=said.append).start()
        assert link.wait_connected(10)
        box._db.execute("DROP TABLE outbox")
        EventPublisher(link, "n1", "s1").emit([ExerciseDetected(1, exercise="squat")])
        end = time.monotonic() + 10
        while "repsense/n1/events/ExerciseDetected" not in got and time.monotonic() < end:
            time.sleep(0.05)
        link.close(0)
        sub.close(0)
    assert "repsense/n1/events/ExerciseDetected" in got
    assert any("kept in memory only" in line for line in said)


# amqtt leaves the writer of a client that said nothing to the garbage collector, after its loop closed
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_the_embedded_broker_keeps_its_chatter_for_verbose(caplog: pytest.LogCaptureFixture) -> None:
    """A client that connects and goes without a word (the port probe of `repsense node`, a node
    that drops) makes amqtt log "Failed to initialize client session": not on a user's terminal
    unless -v."""
    import gc
    import logging
    import socket

    from repsense.logs import setup_cli

    for verbose, shown in ((False, False), (True, True)):
        setup_cli(verbose=verbose)
        caplog.clear()
        with EmbeddedBroker("127.0.0.1", 0) as broker:
            socket.create_connection(("127.0.0.1", broker.port), timeout=2).close()
            time.sleep(0.5)
        gc.collect()   # amqtt's leftovers go now, under this test's filter
        chatter = [r for r in caplog.records if r.name.startswith("amqtt") and r.levelno >= logging.WARNING]
        assert bool(chatter) == shown, [r.getMessage() for r in chatter]
    setup_cli(verbose=False)
