"""The history API under ``/api/history/...`` and the history page, as Starlette routes.

``routes(store)`` is mounted by the web server; the endpoints are plain functions (Starlette runs
them in its thread pool, off the event loop). Every list-of-sessions call accepts ``profile``;
calls that group by day take ``tz``, the caller's offset from UTC in minutes (JavaScript's
``-new Date().getTimezoneOffset()``). See docs/history.md.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse as _StarletteJSON
from starlette.responses import Response
from starlette.routing import Route

from repsense.errors import InputError
from repsense.sinks.jsonio import dumps
from repsense.store.db import Store, parse_since
from repsense.store.progress import Progress

CACHE = True    # keep progress tables until the data changes (off: every call reads the database)


class JSONResponse(_StarletteJSON):
    """JSON as every repsense output writes it (NaN as null). The store's answers are plain
    JSON already, so the converting walk runs only when the fast path refuses."""

    def render(self, content: Any) -> bytes:
        try:
            text = json.dumps(content, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError):
            text = dumps(content)
        return text.encode("utf-8")


class _ProgressCache:
    """The last few progress tables, by (profile, tz), kept while the data stays the same: the
    page asks for volume, trends, faults, bests, streaks and insights at once, from one table.
    The data's version is the sessions' count and latest start and heartbeat (every write of a
    live session beats; an import adds sessions), read in one small query."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[str | None, int], tuple[Any, Progress]] = OrderedDict()
        self._loading: dict[tuple[str | None, int], threading.Lock] = {}

    def _version(self) -> Any:
        from sqlalchemy import func, select

        from repsense.store.schema import sessions as ses

        with self.store.engine.connect() as conn:
            return tuple(conn.execute(select(func.count(), func.max(ses.c.heartbeat_at),
                                             func.max(ses.c.started_at),
                                             func.max(ses.c.ended_at))).one())

    def get(self, profile: str | None, tz: int) -> Progress:
        if not CACHE:
            return Progress.load(self.store, profile, tz)
        key = (profile, tz)
        version = self._version()
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and hit[0] == version:
                return hit[1]
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:       # one load per key at a time; the others wait for it
            with self._lock:
                hit = self._items.get(key)
                if hit is not None and hit[0] == version:
                    return hit[1]
            progress = Progress.load(self.store, profile, tz)
            with self._lock:
                self._items[key] = (version, progress)
                self._items.move_to_end(key)
                while len(self._items) > 16:
                    self._items.popitem(last=False)
            return progress


def _int(request: Request, name: str, default: int, lo: int, hi: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{name} must be a whole number, got {text!r}") from None
    if not lo <= value <= hi:
        raise InputError(f"{name} must be within {lo}..{hi}, got {value}")
    return value


def _profile(request: Request) -> str | None:
    return request.query_params.get("profile") or None


def _json(fn: Callable[[Request], Any]) -> Callable[[Request], Response]:
    def endpoint(request: Request) -> Response:
        try:
            result = fn(request)
        except (InputError, ValueError) as exc:
            return JSONResponse({"error": "bad_request", "message": str(exc)}, status_code=400)
        if isinstance(result, Response):
            return result
        return JSONResponse(result)
    endpoint.__name__ = fn.__name__
    return endpoint


def routes(store: Store) -> list[Route]:
    """The history API (``/api/history/...``) over ``store``; the server serves the page
    (``/history``: static/history.html)."""
    cache = _ProgressCache(store)

    def progress(request: Request) -> Progress:
        return cache.get(_profile(request), _int(request, "tz", 0, -900, 900))

    @_json
    def profiles(request: Request) -> Any:
        return {"profiles": store.profiles()}

    @_json
    def sessions(request: Request) -> Any:
        since = request.query_params.get("since")
        return {"sessions": store.list_sessions(
            _profile(request), _int(request, "limit", 50, 1, 10_000),
            parse_since(since) if since else None)}

    @_json
    def session(request: Request) -> Any:
        doc = store.get_session(request.path_params["id"])
        if doc is None:
            return JSONResponse({"error": "not_found", "message": "no such session"},
                                status_code=404)
        return doc

    @_json
    def volume(request: Request) -> Any:
        return progress(request).volume(request.query_params.get("period", "day"))

    @_json
    def trends(request: Request) -> Any:
        return progress(request).trends(request.query_params.get("exercise") or None)

    @_json
    def faults(request: Request) -> Any:
        return progress(request).faults(_int(request, "sessions", 5, 1, 1000))

    @_json
    def bests(request: Request) -> Any:
        return progress(request).bests()

    @_json
    def streaks(request: Request) -> Any:
        return progress(request).streaks()

    @_json
    def insights(request: Request) -> Any:
        return {"insights": progress(request).insights()}

    @_json
    def export(request: Request) -> Any:
        since_text = request.query_params.get("since")
        since = parse_since(since_text) if since_text else None
        fmt = request.query_params.get("format", "json")
        if fmt == "json":
            return Response(store.export_json(since, _profile(request)),
                            media_type="application/json", headers={
                                "Content-Disposition": 'attachment; filename="repsense-history.json"'})
        if fmt == "csv":
            return Response(store.export_csv(since, _profile(request)), media_type="text/csv",
                            headers={"Content-Disposition":
                                     'attachment; filename="repsense-history.csv"'})
        raise InputError(f"format must be json or csv, got {fmt!r}")

    async def import_(request: Request) -> Response:
        body = await request.body()
        try:
            doc = json.loads(body)
        except json.JSONDecodeError as exc:
            return JSONResponse({"error": "bad_json", "message": str(exc)}, status_code=400)
        from starlette.concurrency import run_in_threadpool

        try:
            added, skipped = await run_in_threadpool(store.import_doc, doc)
        except InputError as exc:
            return JSONResponse({"error": "bad_request", "message": str(exc)}, status_code=400)
        return JSONResponse({"added": added, "skipped": skipped})

    return [
        Route("/api/history/profiles", profiles),
        Route("/api/history/sessions", sessions),
        Route("/api/history/sessions/{id}", session),
        Route("/api/history/volume", volume),
        Route("/api/history/trends", trends),
        Route("/api/history/faults", faults),
        Route("/api/history/bests", bests),
        Route("/api/history/streaks", streaks),
        Route("/api/history/insights", insights),
        Route("/api/history/export", export),
        Route("/api/history/import", import_, methods=["POST"]),
    ]


class History:
    """The history as the web app uses it: a store, a StoreSink for every live session and every
    uploaded video (under ``profile``), and the API routes."""

    def __init__(self, store: Store, profile: str | None = None) -> None:
        self.store = store
        self.profile = profile
        self.routes = routes(store)

    def live_sink(self, session: Any) -> Any:
        """A StoreSink for a live session; None for the demo, which is kept out of the history
        (its reps are no one's: they would count toward streaks and personal bests)."""
        from repsense.store.sink import StoreSink

        if getattr(session, "demo", False):
            return None
        profile = getattr(session, "profile", None) or self.profile
        guide = getattr(session, "guide", None)
        kind = "imu" if getattr(session, "kind", "pose") == "imu" else "live"
        return StoreSink(self.store, session_id=session.id, profile=profile, kind=kind,
                         source=session.source, exercise=session.exercise_option,
                         started_at=session.started_at,
                         plan_result=guide.result if guide is not None else None)

    def upload_sinks(self, job: Any) -> list[Any]:
        from repsense.store.sink import StoreSink

        return [StoreSink(self.store, profile=self.profile, kind="video", source=job.name,
                          exercise=job.exercise)]

    def close(self) -> None:
        self.store.close()


def open_history(db_url: str | None, profile: str | None = None) -> History | None:
    """The history of the web app's settings: None without a database URL (tests, --no-history)."""
    return None if db_url is None else History(Store(db_url), profile)


def attach(settings: Any, store: Store, profile: str | None = None) -> None:
    """Wire a history into ``Settings`` by hand: every live session gets a StoreSink (stored under
    ``profile``), and the API routes are mounted."""
    history = History(store, profile)
    settings.sink_factories.append(history.live_sink)
    settings.extra_routes.extend(history.routes)


__all__ = ["History", "attach", "open_history", "routes"]
