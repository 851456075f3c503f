"""The web app: the page, the live WebSocket, the HTTP API (docs/web.md). Starlette under uvicorn.

``create_app(settings)`` builds the ASGI app; ``repsense serve`` (repsense.cli.serve) runs it. Every
live session is a repsense.session.Session held by the SessionManager; the engine runs on the
event loop (well under a millisecond a pose), the pose model and uploaded-video analysis in threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import io
import logging
import pathlib
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.responses import JSONResponse as _StarletteJSON
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from repsense import __version__
from repsense.app.history import open_history
from repsense.app.jobs import JobRunner
from repsense.app.teach import teach_routes
from repsense.app.live import (ProtocolError, SessionManager, brief_of,
                               decode_text, summary_of)
from repsense.errors import RepsenseError
from repsense.session import EventSink, Session
from repsense.sinks.jsonio import dumps
from repsense.sources import VIDEO_SUFFIXES

log = logging.getLogger(__name__)

APP_DIR = pathlib.Path(__file__).resolve().parent
STATIC_DIR = APP_DIR / "static"
WEB_DIR = APP_DIR / "web"          # package.json; node_modules after `npm install`
MODELS_DIR = APP_DIR.parent / "models"
SAMPLE = APP_DIR.parent / "samples" / "squats.npz"
MODEL_FILES = {"pose_landmarker_lite.task", "pose_landmarker_full.task"}
TOKEN_COOKIE = "repsense_token"
REAP_EVERY_S = 30.0


class JSONResponse(_StarletteJSON):
    """JSON without NaN (None instead), as every repsense JSON output."""

    def render(self, content: Any) -> bytes:
        return dumps(content).encode("utf-8")


@dataclass
class Settings:
    """What ``repsense serve`` was asked for."""

    token: str | None = None            # required on every request when set
    max_upload_mb: float = 500.0
    pose_model: str = "lite"           # the server's model for frames mode and uploads use full
    work_dir: pathlib.Path | None = None   # uploads and their results (a temp dir by default)
    web_dir: pathlib.Path = WEB_DIR
    # One factory per extra sink every live session gets (the history store, MQTT).
    sink_factories: list[Callable[[Session], EventSink]] = field(default_factory=list)
    # Routes of other parts of the app (the gym view, the history), mounted as they come.
    extra_routes: list[Any] = field(default_factory=list)
    # Async context managers entered for the app's lifetime (e.g. an embedded broker).
    lifespans: list[Callable[[Starlette], contextlib.AbstractAsyncContextManager[Any]]] = \
        field(default_factory=list)
    # The history store (docs/history.md): with a database URL every live session and upload is
    # kept under ``profile`` and /api/history answers; None keeps nothing.
    db_url: str | None = None
    profile: str | None = None


class TokenGuard:
    """ASGI middleware: with a token set, every HTTP and WebSocket request must carry it (cookie,
    ``?token=`` or ``Authorization: Bearer``). Opening a page with ``?token=`` sets the cookie."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    def _presented(self, scope: Scope) -> tuple[str | None, bool]:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        if "token" in query:
            return query["token"][0], True
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        auth = headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip(), False
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == TOKEN_COOKIE:
                return value, False
        return None, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        given, from_query = self._presented(scope)
        ok = given is not None and hmac.compare_digest(given.encode(), self.token.encode())
        if not ok:
            if scope["type"] == "websocket":
                await receive()   # websocket.connect
                await send({"type": "websocket.close", "code": 4401,
                            "reason": "a token is required"})
                return
            response = JSONResponse({"error": "a token is required: open the URL that "
                                     "`repsense serve` printed"}, status_code=401)
            await response(scope, receive, send)
            return
        if scope["type"] == "http" and from_query:
            async def send_with_cookie(message: Any) -> None:
                if message["type"] == "http.response.start":
                    cookie = (f"{TOKEN_COOKIE}={self.token}; Path=/; HttpOnly; SameSite=Strict")
                    message.setdefault("headers", []).append((b"set-cookie", cookie.encode()))
                await send(message)
            await self.app(scope, receive, send_with_cookie)
            return
        await self.app(scope, receive, send)


class FramePose:
    """Frames mode: one MediaPipe landmarker (VIDEO mode) per session, fed decoded JPEGs."""

    def __init__(self, model: str) -> None:
        from repsense.pose.backends import create_backend

        self._backend = create_backend(model)

    def __call__(self, jpeg: bytes, t_ms: int) -> np.ndarray | None:
        import cv2

        img = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise ProtocolError("bad_message", "the frame is not a JPEG image")
        return self._backend.estimate(cv2.cvtColor(img, cv2.COLOR_BGR2RGB), t_ms)

    def close(self) -> None:
        self._backend.close()


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    history = open_history(settings.db_url, settings.profile)
    from repsense.app import plans as plans_api
    from repsense.store.plans import find_plan

    store = history.store if history else None
    manager = SessionManager(settings.sink_factories + ([history.live_sink] if history else []),
                             lambda: FramePose(settings.pose_model),
                             lambda key, who: find_plan(store, key, who or settings.profile))
    work_tmp: tempfile.TemporaryDirectory[str] | None = None
    if settings.work_dir is None:
        work_tmp = tempfile.TemporaryDirectory(prefix="repsense-serve-")
        work_dir = pathlib.Path(work_tmp.name)
    else:
        work_dir = settings.work_dir
        work_dir.mkdir(parents=True, exist_ok=True)
    jobs = JobRunner(work_dir, sinks_for=history.upload_sinks if history else None)
    max_upload = int(settings.max_upload_mb * 1024 * 1024)

    # --- pages and files ------------------------------------------------------------------------
    def page(name: str) -> Callable[[Request], Any]:
        async def serve_page(request: Request) -> Response:
            path = STATIC_DIR / name
            if not path.is_file():
                return JSONResponse({"error": f"{name} is not part of this installation"}, 404)
            return FileResponse(path, headers={"Cache-Control": "no-cache"})
        return serve_page

    async def model(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in MODEL_FILES:
            return JSONResponse({"error": "no such model"}, status_code=404)
        return FileResponse(MODELS_DIR / name, media_type="application/octet-stream",
                            headers={"Cache-Control": "max-age=86400"})

    # --- API ------------------------------------------------------------------------------------
    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__,
                             "sessions": len(manager.live)})

    async def exercises(request: Request) -> Response:
        from repsense.engine.exercises import catalog, user_catalog
        from repsense.sinks.catalog import placement_hint

        taught = user_catalog()
        return JSONResponse([{"name": s.name, "display": s.display, "hold": s.is_hold,
                              "taught": s.name in taught,
                              "placement": placement_hint(s),
                              "cues": [{"code": r.code, "cue": r.cue, "severity": r.severity}
                                       for r in s.form]}
                             for s in catalog().values()])

    async def sessions(request: Request) -> Response:
        return JSONResponse({"sessions": [brief_of(s) for s in manager.all()]})

    def _session(request: Request) -> Session | None:
        return manager.get(str(request.path_params["sid"]))

    async def session_detail(request: Request) -> Response:
        s = _session(request)
        if s is None:
            return JSONResponse({"error": "no such session"}, status_code=404)
        return JSONResponse({**brief_of(s), "summary": summary_of(s)})

    async def session_recording(request: Request) -> Response:
        s = _session(request)
        if s is None:
            return JSONResponse({"error": "no such session"}, status_code=404)
        try:
            rec = s.recording()
        except RepsenseError as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        buf = io.BytesIO()
        rec.save(buf)  # type: ignore[arg-type]  # numpy writes to any binary file object
        return Response(buf.getvalue(), media_type="application/octet-stream", headers={
            "Content-Disposition": f'attachment; filename="repsense-{s.id}.npz"'})

    async def demo(request: Request) -> Response:
        from repsense.pose import PoseRecording

        rec = PoseRecording.load(SAMPLE)
        frames = []
        for pose, t in zip(rec.landmarks, rec.timestamp_ms):
            seen = not np.isnan(pose[:, 0]).all()
            frames.append({"t": int(t), "landmarks": np.round(pose, 5).tolist() if seen else None})
        w, h = rec.image_size or (640, 480)
        return JSONResponse({"width": w, "height": h, "fps": round(rec.fps, 3),
                             "exercise": "squat", "frames": frames},
                            headers={"Cache-Control": "max-age=3600"})

    async def analyze_upload(request: Request) -> Response:
        """The body is the video file itself; ``?name=`` its file name, ``?exercise=``."""
        from repsense.engine.exercises import GENERIC, catalog

        name = request.query_params.get("name", "upload.mp4")
        exercise = request.query_params.get("exercise", "auto")
        if exercise not in ("auto", GENERIC) and exercise not in catalog():
            return JSONResponse({"error": f"unknown exercise {exercise!r}"}, status_code=400)
        suffix = pathlib.Path(name).suffix.lower()
        if suffix not in VIDEO_SUFFIXES:
            return JSONResponse({"error": f"{name}: not a video file name (expected one of "
                                 f"{', '.join(sorted(VIDEO_SUFFIXES))})"}, status_code=415)
        length = request.headers.get("content-length")
        too_big = {"error": f"the upload is over the limit of {settings.max_upload_mb:g} MB"}
        if length is not None and length.isdigit() and int(length) > max_upload:
            return JSONResponse(too_big, status_code=413)
        job = jobs.new_job(name, exercise)
        size = 0
        try:
            with job.input.open("wb") as fh:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > max_upload:
                        raise OverflowError
                    await run_in_threadpool(fh.write, chunk)
        except OverflowError:
            jobs.discard(job)
            return JSONResponse(too_big, status_code=413)
        except Exception:  # noqa: BLE001 - the client went away mid-upload
            jobs.discard(job)
            raise
        if size == 0:
            jobs.discard(job)
            return JSONResponse({"error": f"{job.name}: the file is empty"}, status_code=400)
        from repsense.sources.video import probe

        try:
            await run_in_threadpool(probe, job.input)
        except RepsenseError as exc:
            jobs.discard(job)
            return JSONResponse({"error": str(exc).replace(str(job.input), job.name)},
                                status_code=415)
        jobs.submit(job)
        return JSONResponse({"job": job.id, "status": job.status}, status_code=202)

    def _job(request: Request) -> Any:
        return jobs.get(str(request.path_params["job"]))

    async def job_status(request: Request) -> Response:
        job = _job(request)
        if job is None:
            return JSONResponse({"error": "no such job"}, status_code=404)
        return JSONResponse(job.to_dict("/api/analyze"))

    async def job_video(request: Request) -> Response:
        job = _job(request)
        if job is None or job.status != "done" or not job.video.is_file():
            return JSONResponse({"error": "no such video"}, status_code=404)
        return FileResponse(job.video, media_type="video/mp4")

    async def job_plot(request: Request) -> Response:
        job = _job(request)
        if job is None or job.status != "done" or not job.plot.is_file():
            return JSONResponse({"error": "no such plot"}, status_code=404)
        return FileResponse(job.plot, media_type="image/png")

    # --- live -----------------------------------------------------------------------------------
    async def live(ws: WebSocket) -> None:
        await ws.accept()
        current = None

        async def send(frames: list[dict[str, Any]]) -> None:
            for frame in frames:
                await ws.send_text(dumps(frame))

        try:
            while True:
                message = await ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                try:
                    if message.get("text") is not None:
                        msg = decode_text(message["text"])
                        if current is None:
                            if isinstance(msg, dict) and msg.get("type") == "ping":
                                await send([{"type": "pong"}])
                                continue
                            if not isinstance(msg, dict) or msg.get("type") != "start":
                                raise ProtocolError("no_session", "send 'start' first")
                            if msg.get("mode") == "frames":   # loads a model: off the loop
                                current, started = await run_in_threadpool(manager.start, msg)
                            else:
                                current, started = manager.start(msg)
                            await send([started])
                            continue
                        answers = current.handle(msg)
                        await send(answers)
                        if current.session.ended:
                            manager.detach(current)
                            current = None
                    elif message.get("bytes") is not None:
                        if current is None:
                            raise ProtocolError("no_session", "send 'start' first")
                        await send(await run_in_threadpool(current.handle_frame, message["bytes"]))
                except ProtocolError as exc:
                    await send([exc.frame()])
        except WebSocketDisconnect:
            pass
        finally:
            if current is not None:
                manager.detach(current)

    # --- lifetime -------------------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async def reaper() -> None:
            while True:
                await asyncio.sleep(REAP_EVERY_S)
                manager.reap()

        task = asyncio.create_task(reaper())
        async with contextlib.AsyncExitStack() as stack:
            for extra in settings.lifespans:
                await stack.enter_async_context(extra(app))
            try:
                yield
            finally:
                task.cancel()
                await run_in_threadpool(manager.close)
                jobs.close()
                if history is not None:
                    history.close()
                if work_tmp is not None:
                    work_tmp.cleanup()

    vendor = settings.web_dir / "node_modules"
    routes = [
        Route("/", page("index.html")),
        Route("/healthz", healthz),
        Route("/models/{name}", model),
        Route("/api/exercises", exercises),
        Route("/api/sessions", sessions),
        Route("/api/sessions/{sid}", session_detail),
        Route("/api/sessions/{sid}/recording.npz", session_recording),
        Route("/api/demo", demo),
        Route("/api/analyze", analyze_upload, methods=["POST"]),
        Route("/api/analyze/{job}", job_status),
        Route("/api/analyze/{job}/video.mp4", job_video),
        Route("/api/analyze/{job}/plot.png", job_plot),
        *teach_routes(manager),
        WebSocketRoute("/ws", live),
        *settings.extra_routes,
        *(history.routes if history else []),
        *plans_api.routes(store, settings.profile),
        Route("/gym", page("gym.html")),
        Route("/history", page("history.html")),
        Route("/sensors", page("sensors.html")),
        Mount("/static", StaticFiles(directory=STATIC_DIR, check_dir=False), name="static"),
        Mount("/vendor/tasks-vision", StaticFiles(
            directory=vendor / "@mediapipe" / "tasks-vision", check_dir=False)),
        Mount("/vendor/chart.js", StaticFiles(directory=vendor / "chart.js" / "dist",
                                              check_dir=False)),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(TokenGuard, token=settings.token)
    app.state.manager = manager
    app.state.jobs = jobs
    app.state.settings = settings
    return app


__all__ = ["Settings", "TokenGuard", "create_app"]
