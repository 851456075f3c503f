"""The gym view's server side: nodes on a broker reach the page over /ws/gym, live."""

from __future__ import annotations

import pathlib
import time

import pytest

pytest.importorskip("paho.mqtt.client")
pytest.importorskip("amqtt.broker")

from starlette.applications import Starlette  # noqa: E402
from starlette.testclient import TestClient  # noqa: E402

from repsense.app.gym import Gym  # noqa: E402
from repsense.mqtt_broker import EmbeddedBroker  # noqa: E402
from repsense.engine.events import ExerciseDetected, FormWarning, RepCompleted  # noqa: E402
from repsense.sinks.mqtt import BrokerAddress, EventPublisher, MqttLink, Outbox, Topics  # noqa: E402


def rep(count: int) -> RepCompleted:
    return RepCompleted(1000 * count, exercise="squat", count=count, start_ms=1000 * count - 900,
                        end_ms=1000 * count, bottom_ms=1000 * count - 400, concentric_s=0.4,
                        eccentric_s=0.5, rom_deg=95.0)


def test_gym_page_gets_every_node_live() -> None:
    with EmbeddedBroker("127.0.0.1", 0) as broker:
        gym = Gym(broker.url)
        app = Starlette(routes=gym.routes(), lifespan=gym.lifespan)
        with TestClient(app) as client:
            assert gym.hub is not None and gym.hub.link.subscribed.wait(10)
            link = MqttLink(BrokerAddress.parse(broker.url, env={}), "node-rack-1", outbox=Outbox(None),
                            status_topic=Topics().status("rack-1")).start()
            pub = EventPublisher(link, "rack-1", "s1", own_link=True)
            with client.websocket_connect("/ws/gym") as ws:
                first = ws.receive_json()
                assert first["type"] == "nodes" and first["broker"] == broker.url
                pub.emit([ExerciseDetected(10, exercise="squat"), rep(1), rep(2),
                          FormWarning(2100, exercise="squat", code="not_deep",
                                      message="Go deeper: hips down to knee height.")])
                views = []
                end = time.monotonic() + 20
                while time.monotonic() < end:
                    msg = ws.receive_json()
                    assert msg["type"] in ("node", "nodes")
                    views += [msg["node"]] if msg["type"] == "node" else msg["nodes"]
                    v = views[-1]
                    if v["count"] == 2 and v["last_cue"]:
                        break
                assert v["node"] == "rack-1" and v["online"] and v["exercise"] == "squat"
                assert v["count"] == 2 and v["last_cue"].startswith("Go deeper")
                pub.close()     # a clean close publishes the retained "offline"
                while True:
                    msg = ws.receive_json()
                    if msg["type"] == "node" and not msg["node"]["online"]:
                        break
            snap = client.get("/api/gym").json()
            assert [(n["node"], n["online"], n["count"]) for n in snap["nodes"]] == [("rack-1", False, 2)]
        assert gym.hub is None     # stopped with the app


def test_the_web_app_serves_the_gym_with_its_broker(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Mounted in ``repsense serve``'s app: the page, the WebSocket, and the embedded broker
    started and stopped with the app when no broker is given."""
    from mqtt_brokers import free_port

    from repsense.app.gym import install
    from repsense.app.server import Settings, create_app
    from repsense.mqtt_broker import port_in_use

    port = free_port()
    settings = Settings(work_dir=tmp_path)
    gym = install(settings, port=port)
    app = create_app(settings)
    with TestClient(app) as client:
        assert gym.embedded is not None and gym.embedded.port == port
        page = client.get("/gym")
        assert page.status_code == 200 and "/static/gym.js" in page.text
        assert client.get("/static/gym.js").status_code == 200
        with client.websocket_connect("/ws/gym") as ws:
            assert ws.receive_json() == {"type": "nodes", "broker": f"mqtt://127.0.0.1:{port}", "nodes": []}
    assert not port_in_use("127.0.0.1", port)


def test_a_phone_on_the_arm_shows_up_like_a_camera() -> None:
    """``imu listen`` publishes through the same module: the hub sees its node, exercise and reps."""
    import io
    import json
    import threading

    import paho.mqtt.client as mqtt

    from conftest import require_data
    from repsense.imu.model import StepModel
    from repsense.imu.mqtt import ImuListener
    from repsense.imu.recording import load_csv
    from repsense.imu.tracker import ImuTracker
    from repsense.sources.nodes import BrokerHub

    rec = load_csv(require_data("exermote", "2017-04-22_15-22-00_Individual_1.csv"))
    model = StepModel.load()
    with EmbeddedBroker("127.0.0.1", 0) as broker:
        address = BrokerAddress.parse(broker.url, env={})
        hub = BrokerHub(address).start()
        listener = ImuListener(broker.url, "arm", lambda: ImuTracker(model), log=io.StringIO())
        stop = threading.Event()
        thread = threading.Thread(target=listener.run, args=(stop,))
        thread.start()
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        try:
            assert hub.link.subscribed.wait(10) and listener.subscribed.wait(10)
            for i in range(0, 900, 10):
                batch = [{"timestamp_ms": int(rec.timestamp_ms[j]), "values": rec.samples[j].tolist()}
                         for j in range(i, i + 10)]
                pub.publish("repsense/arm/imu", json.dumps(batch).replace("NaN", "null"), qos=1)
            pub.publish("repsense/arm/imu", b'{"end": true}', qos=1).wait_for_publish(10)
            end = time.monotonic() + 60
            while time.monotonic() < end:
                view = {v["node"]: v for v in hub.snapshot()}.get("arm")
                if view and view["total_reps"] >= 5 and view["online"]:
                    break
                time.sleep(0.1)
        finally:
            stop.set()
            thread.join(20)
            pub.loop_stop()
            pub.disconnect()
            hub.close(0)
    assert view is not None and view["online"] and view["exercise"] in ("burpee", "squat", "sit_up")
    assert view["total_reps"] >= 5 and view["session"]


def test_the_gym_takes_over_when_the_borrowed_broker_goes_away(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """``serve`` found a node's embedded broker on the port and used it; the node exits and its
    broker with it: the gym starts its own there and the nodes reconnect to it."""
    from mqtt_brokers import BrokerProcess

    other = BrokerProcess("embedded", tmp_path).start()
    gym = Gym(port=other.port)
    app = Starlette(routes=gym.routes(), lifespan=gym.lifespan)
    with TestClient(app):
        assert gym.embedded is None and gym.hub is not None and gym.hub.link.wait_connected(10)
        other.stop()
        end = time.monotonic() + 30
        while time.monotonic() < end and not (gym.embedded is not None and gym.hub.link.connected.is_set()):
            time.sleep(0.1)
        assert gym.embedded is not None and gym.embedded.port == other.port
        assert gym.hub.link.connected.is_set()


def test_a_browser_session_is_a_station_while_it_lasts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Installed in the web app, every live session also publishes its events: the gym shows it as
    ``web-<id>`` and drops it when the session ends."""
    from repsense.app.gym import install
    from repsense.app.server import Settings
    from repsense.pose import PoseRecording
    from repsense.session import Session

    sample = PoseRecording.load(pathlib.Path(__file__).resolve().parents[1] / "repsense" / "samples" / "squats.npz")
    with EmbeddedBroker("127.0.0.1", 0) as broker:
        settings = Settings(work_dir=tmp_path)
        gym = install(settings, broker.url)
        assert settings.sink_factories == [gym.session_sink]
        app = Starlette(routes=gym.routes(), lifespan=gym.lifespan)
        with TestClient(app):
            assert gym.hub is not None and gym.hub.link.subscribed.wait(10)
            session = Session("squat", aspect=sample.aspect)
            session.sinks.append(settings.sink_factories[0](session))
            session.run(zip(sample.landmarks, sample.timestamp_ms))
            node = f"web-{session.id}"

            def view() -> dict | None:
                return {v["node"]: v for v in gym.hub.snapshot()}.get(node) if gym.hub else None

            end = time.monotonic() + 20
            while time.monotonic() < end and not (view() and view()["count"] == 5):
                time.sleep(0.05)
            assert view() is not None and view()["count"] == 5 and view()["online"]
            session.finish()
            end = time.monotonic() + 20
            while time.monotonic() < end and view() is not None:
                time.sleep(0.05)
            assert view() is None
