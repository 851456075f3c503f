"""The embedded MQTT broker: amqtt (pure Python) in a thread of its own, so ``repsense node`` and
``repsense serve`` work with no broker installed.

It binds to 127.0.0.1 unless told otherwise; bound anywhere else it requires a user name and
password (anonymous clients are refused), because a broker on the network is open to everyone on it.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
import socket
import threading
from dataclasses import dataclass, field
from typing import Any

from repsense.errors import InputError

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 1883


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def port_in_use(host: str, port: int) -> bool:
    """Whether something accepts connections on ``host:port`` (e.g. a broker already running)."""
    try:
        with socket.create_connection((host if host not in ("0.0.0.0", "::") else "127.0.0.1", port),
                                      timeout=0.5):
            return True
    except OSError:
        return False


def _password_plugin() -> type:
    from amqtt.plugins.base import BaseAuthPlugin

    class PasswordAuth(BaseAuthPlugin):  # type: ignore[misc]
        """One user name and password, compared in constant time; nobody else gets in."""

        @dataclass
        class Config:
            username: str = ""
            password: str = field(default="", repr=False)

        async def authenticate(self, *, session: Any) -> bool:
            user = (session.username or "").encode()
            password = (session.password or "")
            password = password.encode() if isinstance(password, str) else bytes(password)
            ok = hmac.compare_digest(user, self.config.username.encode()) and \
                hmac.compare_digest(password, self.config.password.encode())
            if not ok:
                log.warning("embedded broker: refused a client with a wrong user name or password")
            return ok

    return PasswordAuth


class EmbeddedBroker:
    """amqtt on ``host:port`` in a background thread. ``start()`` returns once it listens."""

    def __init__(self, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, *,
                 username: str | None = None, password: str | None = None) -> None:
        if not is_loopback(host) and not (username and password):
            raise InputError(f"the embedded broker listens on {host} only with a user name and "
                             "password (set REPSENSE_MQTT_USERNAME and REPSENSE_MQTT_PASSWORD, or "
                             "bind it to 127.0.0.1)")
        if not 0 <= port <= 65535:
            raise InputError(f"broker port {port} is not a port number")
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self._loop: asyncio.AbstractEventLoop | None = None
        self._broker: Any = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"mqtt://{host}:{self.port}"

    def start(self, timeout: float = 15.0) -> "EmbeddedBroker":
        if self.port == 0:
            with socket.socket() as s:
                s.bind((self.host, 0))
                self.port = int(s.getsockname()[1])
        elif port_in_use(self.host, self.port):
            raise InputError(f"port {self.port} on {self.host} is in use (another broker?); pass "
                             f"--broker mqtt://{self.host}:{self.port} to use it")
        self._thread = threading.Thread(target=self._run, name="embedded-mqtt-broker", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise InputError(f"the embedded MQTT broker did not start within {timeout:.0f} s")
        if self._error is not None:
            raise InputError(f"the embedded MQTT broker could not start on {self.host}:{self.port}: "
                             f"{self._error}")
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._start())
        except Exception as exc:  # noqa: BLE001 - reported by start()
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        loop.run_forever()
        loop.close()

    async def _start(self) -> None:
        from amqtt.broker import Broker

        listeners = {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}}
        if self.username and self.password:
            # amqtt loads plugins by dotted name: give the class made here a module to live in.
            import sys
            import types

            cls = _password_plugin()
            mod = types.ModuleType("repsense_broker_auth")
            mod.PasswordAuth = cls  # type: ignore[attr-defined]
            sys.modules["repsense_broker_auth"] = mod
            cls.__module__ = "repsense_broker_auth"
            plugins: dict[str, Any] = {"repsense_broker_auth.PasswordAuth": {
                "username": self.username, "password": self.password}}
        else:
            plugins = {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}}
        config = {"listeners": listeners, "plugins": plugins}
        # amqtt's chatter ("Failed to initialize client session: No data to decode MQTT packet
        # fixed header" for every probe that connects and closes, a node that drops; its start
        # failures reach us as exceptions) is for -v.
        from repsense.logs import libraries_may_log

        logging.getLogger("amqtt").setLevel(logging.INFO if libraries_may_log() else logging.CRITICAL)
        self._broker = Broker(config)
        await self._broker.start()

    def stop(self) -> None:
        loop, broker = self._loop, self._broker
        if loop is None or self._thread is None:
            return
        if broker is not None and loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(broker.shutdown(), loop).result(10)
            except Exception:  # noqa: BLE001 - shutting down: nothing more to do
                log.debug("embedded broker shutdown failed", exc_info=True)
        if loop.is_running():
            loop.call_soon_threadsafe(loop.stop)
        self._thread.join(10)
        self._broker = None
        self._thread = None

    def __enter__(self) -> "EmbeddedBroker":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class BrokerKeeper:
    """Makes sure a broker listens on 127.0.0.1:``port`` for a command that was given no broker:
    it uses one that is already there (``repsense serve``'s, or a node's) and, when that one goes
    away, starts its own in its place. Several commands may race for the port; one wins, the
    others connect to it."""

    def __init__(self, port: int = DEFAULT_PORT, host: str = DEFAULT_HOST) -> None:
        self.host = host
        self.port = port
        self.embedded: EmbeddedBroker | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def ensure(self) -> bool:
        """Start the embedded broker if nothing listens on the port; True if it was started now."""
        if self.embedded is not None or port_in_use(self.host, self.port):
            return False
        try:
            self.embedded = EmbeddedBroker(self.host, self.port).start()
        except InputError:
            return False   # someone else bound it first: use theirs
        return True

    def watch(self, connected: "threading.Event", on_start: Any = None, every_s: float = 2.0) -> None:
        """In the background: while ``connected`` stays clear for ``every_s``, take over the port."""
        def run() -> None:
            while not self._stop.wait(every_s):
                if self.embedded is None and not connected.is_set() and self.ensure() and on_start:
                    on_start(self.embedded)

        self._thread = threading.Thread(target=run, name="broker-keeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.embedded is not None:
            self.embedded.stop()
            self.embedded = None


def main(argv: list[str] | None = None) -> int:
    """``python -m repsense.mqtt_broker [--host H] [--port P]``: the embedded broker alone, until
    Ctrl-C or SIGTERM (user name and password from REPSENSE_MQTT_USERNAME / _PASSWORD)."""
    import argparse
    import os
    import signal

    parser = argparse.ArgumentParser(prog="python -m repsense.mqtt_broker")
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    stop = threading.Event()
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda *_: stop.set())
    try:
        broker = EmbeddedBroker(args.host, args.port, username=os.environ.get("REPSENSE_MQTT_USERNAME"),
                                password=os.environ.get("REPSENSE_MQTT_PASSWORD")).start()
    except InputError as exc:
        print(f"repsense: {exc}", flush=True)
        return 2
    print(f"broker ready on {broker.host}:{broker.port}", flush=True)
    stop.wait()
    broker.stop()
    return 0


__all__ = ["BrokerKeeper", "EmbeddedBroker", "is_loopback", "port_in_use", "DEFAULT_HOST", "DEFAULT_PORT"]


if __name__ == "__main__":
    raise SystemExit(main())
