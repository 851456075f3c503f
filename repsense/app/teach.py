"""The page's "Teach a new exercise" API (docs/teach.md, docs/web.md).

- ``POST /api/teach?name=NAME[&sid=SID[&from_frame=N]][&start=S&end=S]``: learn from the poses a
  live session recorded (``sid``; the page's record button; ``from_frame``: only those recorded
  after the first N, i.e. the last part recorded) or from a pose recording sent as the body
  (``.npz``). Answers what was learned (reps, the signal, the description's text, the plot's
  address) under a lesson id, or ``{"error": one line}`` with 400.
- ``GET /api/teach/{lesson}/plot.png``: the taught signal with the reps found.
- ``POST /api/teach/{lesson}/save[?overwrite=1]``: write it to the user's exercise library; from
  then on it is in ``/api/exercises``, the live page's list and ``auto``.
"""

from __future__ import annotations

import collections
import pathlib
import secrets
import tempfile
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from repsense.errors import RepsenseError

# Lessons kept for the page to look at and save (the oldest go first).
KEEP = 8
MAX_BODY = 64 * 1024 * 1024


def _load_body(body: bytes) -> Any:
    from repsense.pose import PoseRecording

    with tempfile.TemporaryDirectory(prefix="repsense-teach-") as tmp:
        path = pathlib.Path(tmp) / "set.npz"
        path.write_bytes(body)
        rec = PoseRecording.load(path)
    return rec


def teach_routes(manager: Any) -> list[Route]:
    """The teach routes over a live SessionManager (``manager.get(sid)``)."""
    lessons: collections.OrderedDict[str, Any] = collections.OrderedDict()
    plots: dict[str, bytes] = {}

    def error(text: str, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": text}, status_code=status)

    def _float(request: Request, key: str) -> float | None:
        v = request.query_params.get(key)
        return float(v) if v not in (None, "") else None

    async def teach(request: Request) -> Response:
        from repsense.pose import PoseRecording
        from repsense.sources import select_span
        from repsense.teaching import teach_recording

        name = request.query_params.get("name", "").strip()
        if not name:
            return error("give the new exercise a name (?name=)")
        try:
            start, end = _float(request, "start"), _float(request, "end")
        except ValueError:
            return error("start and end are seconds")
        sid = request.query_params.get("sid")
        try:
            if sid:
                session = manager.get(sid)
                if session is None:
                    return error("no such session", 404)
                rec = session.recording()
                first = int(request.query_params.get("from_frame") or 0)
                if first > 0:
                    if first >= len(rec):
                        return error("nothing was recorded for this set: record it first")
                    rec = PoseRecording(rec.landmarks[first:], rec.timestamp_ms[first:],
                                        rec.image_size, rec.source, rec.source_fps)
            else:
                body = await request.body()
                if not body:
                    return error("send a pose recording (.npz) or give a live session (?sid=)")
                if len(body) > MAX_BODY:
                    return error("the recording is too large", 413)
                rec = await run_in_threadpool(_load_body, body)
            rec = select_span(rec, start, end)
            lesson = await run_in_threadpool(teach_recording, rec, name,
                                             request.query_params.get("source", "the page"))
        except RepsenseError as exc:
            return error(str(exc))
        except (ValueError, OSError, KeyError) as exc:   # a body numpy cannot read, a bad number
            return error(f"cannot learn from this: {exc}")
        lid = secrets.token_hex(6)
        lessons[lid] = lesson
        while len(lessons) > KEEP:
            lessons.popitem(last=False)
        t = lesson.taught
        return JSONResponse({
            "lesson": lid, "name": t.spec.name, "reps": len(t.chosen.reps),
            "signal": t.chosen.label(), "notes": t.notes, "text": t.text,
            "rep_times": [[r.start_ms / 1000, r.end_ms / 1000] for r in t.chosen.reps],
            "plot": f"/api/teach/{lid}/plot.png", "save": f"/api/teach/{lid}/save"})

    async def plot(request: Request) -> Response:
        from repsense.teaching import plot_lesson

        lid = str(request.path_params["lesson"])
        lesson = lessons.get(lid)
        if lesson is None:
            return error("no such lesson", 404)
        if lid not in plots:
            def draw() -> bytes:
                with tempfile.TemporaryDirectory(prefix="repsense-teach-") as tmp:
                    out = pathlib.Path(tmp) / "plot.png"
                    plot_lesson(lesson, out)
                    return out.read_bytes()
            plots[lid] = await run_in_threadpool(draw)
            for old in [k for k in plots if k not in lessons]:
                del plots[old]
        return Response(plots[lid], media_type="image/png")

    async def save(request: Request) -> Response:
        from repsense.teaching import save_lesson

        lesson = lessons.get(str(request.path_params["lesson"]))
        if lesson is None:
            return error("no such lesson (teach again)", 404)
        overwrite = request.query_params.get("overwrite") in ("1", "true")
        try:
            path = await run_in_threadpool(save_lesson, lesson, None, overwrite)
        except RepsenseError as exc:
            return error(str(exc), 409 if "already" in str(exc) else 400)
        return JSONResponse({"saved": lesson.taught.spec.name, "path": str(path)})

    return [Route("/api/teach", teach, methods=["POST"]),
            Route("/api/teach/{lesson}/plot.png", plot),
            Route("/api/teach/{lesson}/save", save, methods=["POST"])]
