"""MQTT load: N simulated camera nodes stream pose at 30 Hz into one server over loopback.

Each node is a ``repsense node --pose-only`` in miniature: it plays the bundled sample recording
(5 squats, looped, each node from its own offset) through the same MqttLink and on-disk outbox
(QoS 1), and the server (a BrokerHub in its own process) runs one Session per node and publishes
the events on the node's topic. Three processes besides the broker: the server, the nodes, and this
one. Reported per broker (Mosquitto as Debian ships it, the embedded amqtt, and Mosquitto with
``max_queued_messages 100000``, "mosquitto-q"):

- message loss: pose messages the nodes sent that the server never got (target 0), and repeats;
- end-to-end latency pose -> event: from the node publishing the pose that completes a rep to the
  RepCompleted event reaching the node side again (node -> broker -> server engine -> broker ->
  subscriber), median and p99;
- reps: events received against the reps the same poses give offline;
- CPU of the broker, the server and the nodes process (share of one core).

Everything stays on 127.0.0.1 and stops by itself.

    .venv/bin/python bench/mqtt_load.py                      # 20 nodes, 60 s, each broker
    .venv/bin/python bench/mqtt_load.py --nodes 5 --seconds 10 --brokers embedded
    .venv/bin/python bench/mqtt_load.py --brokers mosquitto-q    # only Mosquitto with max_queued_messages 100000
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "repsense" / "samples" / "squats.npz"
RATE_HZ = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _wait_port(port: int, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


# --- the server ---------------------------------------------------------------------------------


def role_server(args: argparse.Namespace) -> None:
    from repsense.sinks.mqtt import BrokerAddress
    from repsense.sources.nodes import BrokerHub

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    hub = BrokerHub(BrokerAddress.parse(args.broker), exercise="squat", say=lambda t: print(t, file=sys.stderr))
    received: dict[str, int] = {}
    receive = hub.receive

    def counting(topic: str, payload: bytes) -> None:
        if topic.endswith("/pose"):
            node = topic.split("/")[1]
            received[node] = received.get(node, 0) + 1
        receive(topic, payload)

    hub.link.on_message = counting
    hub.start()
    hub.link.subscribed.wait(20)
    print("ready", flush=True)
    cpu0, t0 = _cpu_s(), time.monotonic()
    most = 0
    while not stop.wait(0.1):
        most = max(most, hub.backlog)
    cpu, wall = _cpu_s() - cpu0, time.monotonic() - t0
    backlog = hub.backlog
    hub.close(5.0)
    pathlib.Path(args.stats).write_text(json.dumps({
        "received": received, "dropped": hub.dropped.counts, "cpu_s": cpu, "wall_s": wall,
        "sessions_open": len(hub.sessions), "backlog_at_end": backlog,
        "backlog_max": most}))


# --- the nodes ----------------------------------------------------------------------------------


def role_nodes(args: argparse.Namespace) -> None:
    from repsense.pose import PoseRecording
    from repsense.session import Session
    from repsense.sinks.mqtt import BrokerAddress, MqttLink, Outbox, Topics, pose_payload

    rec = PoseRecording.load(SAMPLE)
    frames = rec.landmarks
    address = BrokerAddress.parse(args.broker)
    topics = Topics()
    tmp = pathlib.Path(args.workdir)
    names = [f"load-{i:02d}" for i in range(args.nodes)]
    sent_at: dict[str, dict[int, float]] = {n: {} for n in names}
    latencies: list[float] = []
    reps_got: dict[str, int] = {n: 0 for n in names}
    lock = threading.Lock()

    def on_event(topic: str, payload: bytes) -> None:
        now = time.time()
        doc = json.loads(payload)
        node = doc["node"]
        with lock:
            reps_got[node] = reps_got.get(node, 0) + 1
            sent = sent_at.get(node, {}).get(int(doc["timestamp_ms"]))
            if sent is not None:
                latencies.append((now - sent) * 1000.0)

    listener = MqttLink(address, "load-listener", subscriptions=[(topics.events("+", "RepCompleted"), 1)],
                        on_message=on_event).start()
    listener.subscribed.wait(20)
    links = [MqttLink(address, f"repsense-node-{n}", outbox=Outbox(tmp / f"{n}.sqlite"),
                      status_topic=topics.status(n)).start() for n in names]
    for link in links:
        link.wait_connected(20)
    offsets = [(i * 37) % len(frames) for i in range(args.nodes)]
    session_ids = [f"bench{i:02d}" for i in range(args.nodes)]
    ticks = int(args.seconds * RATE_HZ) + 1

    def t_of(tick: int) -> int:
        return int(round(tick * 1000.0 / RATE_HZ)) + 1

    # What the same poses give offline: the expected reps per node (before the clock starts).
    expected = 0
    for i in range(args.nodes):
        offline = Session("squat", aspect=rec.aspect)
        for k in range(ticks):
            offline.feed(frames[(offsets[i] + k) % len(frames)], t_of(k))
        offline.finish()
        expected += len(offline.reps)
    cpu0, t0 = _cpu_s(), time.monotonic()
    start_wall = time.time()
    tick = 0
    sent = 0
    late = 0
    while tick < ticks:
        due = t0 + tick / RATE_HZ
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        elif now - due > 1.0 / RATE_HZ:
            late += 1
        t_ms = t_of(tick)
        for i, (n, link) in enumerate(zip(names, links)):
            pose = frames[(offsets[i] + tick) % len(frames)]
            body = pose_payload(pose, t_ms, engine="server", session=session_ids[i], image_size=rec.image_size,
                                exercise="squat")
            with lock:
                sent_at[n][t_ms] = time.time()
            link.send(topics.pose(n), body, qos=1)
            sent += 1
        tick += 1
    for i, (n, link) in enumerate(zip(names, links)):
        link.send(topics.pose(n), json.dumps({"end": True, "session": session_ids[i]}).encode())
        sent += 1
    send_wall = time.monotonic() - t0
    undelivered = 0
    for link in links:
        if not link.flush(60):
            undelivered += len(link.outbox or ())
    # The last events: until none came for 5 s (the server may still work through a backlog).
    last, quiet_since = -1, time.monotonic()
    while time.monotonic() - quiet_since < 5.0 and time.monotonic() - t0 < args.seconds + 180:
        with lock:
            now_got = sum(reps_got.values())
        if now_got != last:
            last, quiet_since = now_got, time.monotonic()
        time.sleep(0.2)
    cpu = _cpu_s() - cpu0
    wall = time.monotonic() - t0
    for link in links:
        link.close(5)
    listener.close(0)
    lat = np.array(latencies) if latencies else np.array([np.nan])
    pathlib.Path(args.stats).write_text(json.dumps({
        "sent": sent, "sent_per_node": tick, "seconds": send_wall, "late_ticks": late,
        "undelivered": undelivered, "reps_got": sum(reps_got.values()),
        "reps_expected": expected,
        "latency_ms": {"n": len(latencies), "median": float(np.median(lat)), "p99": float(np.percentile(lat, 99)),
                       "max": float(np.max(lat))},
        "cpu_s": cpu, "wall_s": wall, "start_wall": start_wall}))


# --- the orchestra ------------------------------------------------------------------------------


def run_broker(kind: str, port: int, workdir: pathlib.Path) -> subprocess.Popen[bytes]:
    if kind.startswith("mosquitto"):
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        conf = workdir / "mosquitto.conf"
        # "mosquitto-q": a subscriber may fall behind by 100,000 messages instead of the default 1,000.
        queue = "max_queued_messages 100000\n" if kind == "mosquitto-q" else ""
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n{queue}")
        cmd = [exe, "-c", str(conf)]
    else:
        cmd = [sys.executable, "-m", "repsense.mqtt_broker", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    _wait_port(port)
    return proc


def one_run(kind: str, nodes: int, seconds: float) -> dict:
    import psutil

    with tempfile.TemporaryDirectory(prefix="repsense-mqtt-load-") as tmpdir:
        work = pathlib.Path(tmpdir)
        port = _free_port()
        broker = run_broker(kind, port, work)
        url = f"mqtt://127.0.0.1:{port}"
        me = [sys.executable, str(pathlib.Path(__file__).resolve())]
        server = subprocess.Popen(me + ["--role", "server", "--broker", url, "--stats", str(work / "server.json")],
                                  stdout=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            assert server.stdout is not None
            if server.stdout.readline().strip() != "ready":
                raise RuntimeError("the server did not start")
            bproc = psutil.Process(broker.pid)
            b0 = sum(bproc.cpu_times()[:2])
            nodes_proc = subprocess.run(me + ["--role", "nodes", "--broker", url, "--nodes", str(nodes),
                                              "--seconds", str(seconds), "--workdir", str(work),
                                              "--stats", str(work / "nodes.json")],
                                        cwd=ROOT, timeout=seconds + 600)
            if nodes_proc.returncode != 0:
                raise RuntimeError("the nodes failed")
            broker_cpu = sum(bproc.cpu_times()[:2]) - b0
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
            if server.stdout is not None:
                server.stdout.close()
            broker.terminate()
            broker.wait(20)
        s = json.loads((work / "server.json").read_text())
        n = json.loads((work / "nodes.json").read_text())
    received = sum(s["received"].values())
    return {"broker": kind, "nodes": nodes, "seconds": round(n["seconds"], 1), "poses_sent": n["sent"],
            "rate_hz": round((n["sent"] - nodes) / n["seconds"] / nodes, 1), "load_avg": os.getloadavg()[0],
            "poses_received": received, "lost": max(0, n["sent"] - received) + n["undelivered"],
            "repeats": max(0, received - n["sent"]), "late_ticks": n["late_ticks"],
            "reps_got": n["reps_got"], "reps_expected": n["reps_expected"],
            "latency_ms": n["latency_ms"],
            "server_cpu_ms_per_pose": round(1000 * s["cpu_s"] / max(received, 1), 3),
            "server_backlog_max": s["backlog_max"],
            "cpu_pct": {"broker": round(100 * broker_cpu / n["wall_s"], 1),
                        "server": round(100 * s["cpu_s"] / s["wall_s"], 1),
                        "nodes": round(100 * n["cpu_s"] / n["wall_s"], 1)},
            "dropped_by_server": s["dropped"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--role", choices=["main", "server", "nodes"], default="main", help=argparse.SUPPRESS)
    ap.add_argument("--broker", help=argparse.SUPPRESS)
    ap.add_argument("--stats", help=argparse.SUPPRESS)
    ap.add_argument("--workdir", help=argparse.SUPPRESS)
    ap.add_argument("--nodes", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--brokers", default="mosquitto,embedded,mosquitto-q")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args()
    if args.role == "server":
        return role_server(args)
    if args.role == "nodes":
        return role_nodes(args)
    results = []
    for kind in args.brokers.split(","):
        print(f"{kind}: {args.nodes} nodes x {RATE_HZ:.0f} Hz for {args.seconds:.0f} s ...", file=sys.stderr, flush=True)
        r = one_run(kind, args.nodes, args.seconds)
        results.append(r)
        lat = r["latency_ms"]
        print(f"{kind:10s} poses {r['poses_sent']} sent ({r['rate_hz']} Hz a node achieved; load average "
              f"{r['load_avg']:.1f}), {r['poses_received']} received: lost {r['lost']}, "
              f"repeats {r['repeats']}; reps {r['reps_got']} / {r['reps_expected']} offline; "
              f"pose->event latency median {lat['median']:.1f} ms, p99 {lat['p99']:.1f} ms (n={lat['n']}); "
              f"CPU broker {r['cpu_pct']['broker']}%, server {r['cpu_pct']['server']}%, "
              f"nodes {r['cpu_pct']['nodes']}% of one core; server {r['server_cpu_ms_per_pose']} ms CPU a pose, "
              f"backlog up to {r['server_backlog_max']} messages", flush=True)
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
