"""Brokers and a collecting subscriber for the MQTT tests: Debian's Mosquitto and the embedded
amqtt broker, each a process of its own on 127.0.0.1 that a test can stop and restart."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from conftest import free_port  # noqa: E402,F401 - re-exported for the MQTT tests

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
ROOT = pathlib.Path(__file__).resolve().parents[1]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


class BrokerProcess:
    """A broker on 127.0.0.1:``port`` in its own process: ``start``, ``stop`` (SIGTERM), again."""

    def __init__(self, kind: str, workdir: pathlib.Path) -> None:
        if kind == "mosquitto" and not pathlib.Path(MOSQUITTO).is_file():
            if os.environ.get("CI"):
                pytest.fail("CI needs mosquitto (setup.sh installs it)")
            pytest.skip("mosquitto is not installed")
        self.kind = kind
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> "BrokerProcess":
        if self.kind == "mosquitto":
            conf = self.workdir / "mosquitto.conf"
            conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                            "persistence false\nlog_dest none\n")
            cmd = [MOSQUITTO, "-c", str(conf)]
        else:
            cmd = [sys.executable, "-m", "repsense.mqtt_broker", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        end = time.monotonic() + 20
        while not _listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"{self.kind} did not start on port {self.port}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        end = time.monotonic() + 5
        while _listening(self.port) and time.monotonic() < end:
            time.sleep(0.05)


class Collector:
    """Subscribes to every node's events and status and keeps what arrives, repeats included."""

    def __init__(self, port: int, topics: tuple[str, ...] = ("repsense/+/events/#", "repsense/+/status")) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.connect("127.0.0.1", port)
        for t in topics:
            self.client.subscribe(t, qos=1)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("collector did not subscribe")
        time.sleep(0.1)

    def _on_message(self, client: Any, userdata: Any, msg: Any) -> None:
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(p) for t, p in self.messages if "/events/" in t]

    def wait_for(self, pred: Any, timeout: float = 30.0) -> None:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred(self.events()):
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out; got {[(e['id'], e['type']) for e in self.events()]}")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def node_cmd(camera: str | pathlib.Path, broker_url: str, node: str, outbox: pathlib.Path,
             *extra: str) -> list[str]:
    return [sys.executable, "-m", "repsense", "node", "--camera", str(camera), "--broker", broker_url,
            "--node", node, "--outbox", str(outbox), *extra]


class Lines:
    """A process's stdout lines, read in a thread, so a test can wait for one with a timeout."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._cv = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for raw in stream:
            with self._cv:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n") if isinstance(raw, bytes) else raw.rstrip("\n"))
                self._cv.notify_all()

    def wait_for(self, text: str, timeout: float = 60.0) -> str:
        end = time.monotonic() + timeout
        with self._cv:
            while True:
                for line in self.lines:
                    if text in line:
                        return line
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no line with {text!r} within {timeout} s; got {self.lines}")
                self._cv.wait(left)
