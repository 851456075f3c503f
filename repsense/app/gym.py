"""The gym view's server side: every node on the broker, live, for the page ``/gym``.

The page gets the nodes through the server's WebSocket ``/ws/gym`` rather than speaking MQTT over
WebSockets itself: the broker stays bound to 127.0.0.1 with no WebSocket listener to configure
(Mosquitto needs one set up; many hosted brokers charge for it), broker credentials never reach a
browser, the server's token guards the gym like every other page, and the server sends a page one
snapshot of every node when it connects instead of the page rebuilding state from replayed
messages. docs/mqtt.md says more.

``Gym`` owns the :class:`repsense.sources.nodes.BrokerHub` (and the embedded broker when no
external one is given); ``install(settings, ...)`` mounts its routes and lifespan in the web app.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from repsense.sources.nodes import BrokerHub, NodeView

log = logging.getLogger(__name__)

# Node updates a slow page may fall behind by before it gets a fresh snapshot instead.
CLIENT_QUEUE = 256


class Gym:
    """The nodes on a broker for the web app. ``broker_url`` None: use 127.0.0.1:``port``,
    starting the embedded broker there unless one already listens."""

    def __init__(self, broker_url: str | None = None, *, port: int = 1883, ca_file: str | None = None,
                 prefix: str = "repsense", run_engine: bool = True) -> None:
        self.broker_url = broker_url
        self.port = port
        self.ca_file = ca_file
        self.prefix = prefix
        self.run_engine = run_engine
        self.hub: BrokerHub | None = None
        self.keeper: Any = None
        self.url = ""
        self._clients: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- life

    def start(self) -> None:
        """Start the embedded broker (when asked for) and the hub; blocking, call off the loop."""
        from repsense.mqtt_broker import BrokerKeeper
        from repsense.sinks.mqtt import BrokerAddress, Topics

        url = self.broker_url
        if url is None:
            self.keeper = BrokerKeeper(self.port)
            if self.keeper.ensure():
                log.warning("embedded MQTT broker on %s", self.keeper.url)
            url = self.keeper.url
        address = BrokerAddress.parse(url, ca_file=self.ca_file)
        self.url = address.url
        self.hub = BrokerHub(address, topics=Topics(self.prefix), run_engine=self.run_engine,
                             on_change=self._changed).start()
        if self.keeper is not None:
            # A node's broker we borrowed may go away with the node: then serve one ourselves.
            self.keeper.watch(self.hub.link.connected, on_start=lambda b: log.warning(
                "the broker on %s went away; started the embedded one in its place", b.url))

    @property
    def embedded(self) -> Any:
        return self.keeper.embedded if self.keeper is not None else None

    def stop(self) -> None:
        if self.hub is not None:
            self.hub.close(2.0)
            self.hub = None
        if self.keeper is not None:
            self.keeper.stop()
            self.keeper = None

    @contextlib.asynccontextmanager
    async def lifespan(self, app: Any = None) -> AsyncIterator[None]:
        self._loop = asyncio.get_running_loop()
        await run_in_threadpool(self.start)
        try:
            yield
        finally:
            for q in list(self._clients):
                q.put_nowait(None)
            await run_in_threadpool(self.stop)

    # -- updates from the hub (MQTT thread) to the pages (event loop)

    def _changed(self, view: NodeView) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._fan_out, view.to_dict())

    def _fan_out(self, node: dict[str, Any]) -> None:
        for q in list(self._clients):
            try:
                q.put_nowait({"type": "node", "node": node})
            except asyncio.QueueFull:
                while not q.empty():
                    q.get_nowait()
                q.put_nowait(self._snapshot_message())

    def _snapshot_message(self) -> dict[str, Any]:
        nodes = self.hub.snapshot() if self.hub is not None else []
        return {"type": "nodes", "broker": self.url, "nodes": nodes}

    # -- routes

    async def api(self, request: Request) -> Response:
        return JSONResponse(self._snapshot_message())

    async def ws(self, ws: WebSocket) -> None:
        await ws.accept()
        q: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(CLIENT_QUEUE)
        self._clients.add(q)
        try:
            await ws.send_json(self._snapshot_message())
            receiver = asyncio.create_task(self._drain(ws))
            while True:
                getter = asyncio.create_task(q.get())
                done, _ = await asyncio.wait({getter, receiver}, return_when=asyncio.FIRST_COMPLETED)
                if receiver in done:
                    getter.cancel()
                    break
                msg = getter.result()
                if msg is None:
                    break
                await ws.send_json(msg)
            receiver.cancel()
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            self._clients.discard(q)
            with contextlib.suppress(Exception):
                await ws.close()

    @staticmethod
    async def _drain(ws: WebSocket) -> None:
        """The page sends nothing that matters; read until it goes away."""
        while True:
            msg = await ws.receive()
            if msg.get("type") == "websocket.disconnect":
                return

    def session_sink(self, session: Any) -> "WebSessionPublisher":
        """An ``EventSink`` for a live browser session (``Settings.sink_factories``): the session
        shows up in the gym as node ``web-<session id>`` while it lasts."""
        if self.hub is None:
            raise RuntimeError("the gym is not running")
        return WebSessionPublisher(self.hub, session.id)

    def routes(self) -> list[Any]:
        return [WebSocketRoute("/ws/gym", self.ws), Route("/api/gym", self.api)]


class WebSessionPublisher:
    """A browser session's events on the broker, as node ``web-<session id>``: ``online`` retained
    while it runs, the retained status cleared when it ends (the gym drops the card)."""

    def __init__(self, hub: BrokerHub, session_id: str) -> None:
        from repsense.sinks.mqtt import EventPublisher

        self.node = f"web-{session_id}"[:64]
        self.link = hub.link
        self.status_topic = hub.topics.status(self.node)
        self.publisher = EventPublisher(hub.link, self.node, session_id, topics=hub.topics)
        self.link.send(self.status_topic, b"online", qos=1, retain=True)

    def emit(self, events: Any) -> None:
        self.publisher.emit(events)

    def close(self) -> None:
        self.link.send(self.status_topic, b"", qos=1, retain=True)


def install(settings: Any, broker_url: str | None = None, **options: Any) -> Gym:
    """Mount the gym in the web app's ``Settings``: its routes, the broker and hub for the app's
    lifetime, and every live browser session's events on the broker."""
    gym = Gym(broker_url, **options)
    settings.extra_routes.extend(gym.routes())
    settings.lifespans.append(gym.lifespan)
    settings.sink_factories.append(gym.session_sink)
    return gym


__all__ = ["Gym", "install"]
