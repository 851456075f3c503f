"""The plans API under ``/api/plans`` (docs/web.md): the built-in plans and a profile's own, kept
in the history store; what the next session of a plan should ask for (progression).

Every call takes ``?profile=`` (default: the server's profile). Without a history store the
built-ins are listed and can be followed, but nothing can be added.
"""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from repsense.app.history import JSONResponse
from repsense.app.live import plan_json
from repsense.errors import InputError
from repsense.plans.model import Plan, builtin_plans, parse_plan
from repsense.store.db import Store


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def routes(store: Store | None, default_profile: str | None = None) -> list[Route]:
    from repsense.plans.progression import next_plan
    from repsense.store import plans as P

    def profile(request: Request) -> str | None:
        return request.query_params.get("profile") or default_profile

    def no_store() -> JSONResponse:
        return _error(503, "no_history", "this server keeps no history (--no-history), so it "
                      "cannot keep plans; the built-in plans can be followed")

    async def body_plan(request: Request) -> Plan:
        raw = await request.body()
        try:
            doc = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"the body must be a JSON plan ({exc})") from None
        if isinstance(doc, dict):
            doc = {k: v for k, v in doc.items() if k not in ("id", "builtin")}
        return parse_plan(doc, "plan")

    def list_plans(request: Request) -> Response:
        plans = P.all_plans(store, profile(request))
        return JSONResponse({"plans": [plan_json(p) for p in plans]})

    async def add(request: Request) -> Response:
        if store is None:
            return no_store()
        try:
            plan = await body_plan(request)
            plan_id = await run_in_threadpool(P.add_plan, store, plan, profile(request))
        except InputError as exc:
            return _error(400, "bad_plan", str(exc))
        return JSONResponse({"id": plan_id}, status_code=201)

    def get(request: Request) -> Response:
        plan = P.find_plan(store, request.path_params["id"], profile(request))
        if plan is None:
            return _error(404, "not_found", "no such plan")
        return JSONResponse(plan_json(plan))

    async def edit(request: Request) -> Response:
        plan_id = request.path_params["id"]
        if plan_id in builtin_plans():
            return _error(400, "builtin", f"{plan_id!r} is a built-in plan: save a copy under "
                          "another name to change it")
        if store is None:
            return no_store()
        try:
            plan = await body_plan(request)
            ok = await run_in_threadpool(P.replace_plan, store, plan_id, plan, profile(request))
        except InputError as exc:
            return _error(400, "bad_plan", str(exc))
        if not ok:
            return _error(404, "not_found", "no such plan")
        return JSONResponse({"id": plan_id})

    def delete(request: Request) -> Response:
        plan_id = request.path_params["id"]
        if plan_id in builtin_plans():
            return _error(400, "builtin", f"{plan_id!r} is a built-in plan: it cannot be removed")
        if store is None:
            return no_store()
        if not P.delete_plan(store, plan_id, profile(request)):
            return _error(404, "not_found", "no such plan")
        return JSONResponse({"deleted": plan_id})

    def upcoming(request: Request) -> Response:
        """The next session of a plan: targets carried from the last one, the suggestions, the
        plan's recent sessions with their adherence."""
        who = profile(request)
        plan = P.find_plan(store, request.path_params["id"], who)
        if plan is None:
            return _error(404, "not_found", "no such plan")
        history = P.plan_history(store, plan.id, who, limit=20) if store is not None else []
        current, suggestions = next_plan(plan, history)
        return JSONResponse({
            "plan": plan_json(current), "suggestions": suggestions,
            "sessions": [{k: h[k] for k in ("session_id", "started_at", "status", "adherence",
                                             "complete")} for h in history]})

    def sessions(request: Request) -> Response:
        """Sessions run with any plan (the history page), newest first, with what was done: of
        ``?profile=``, or everyone's without it."""
        if store is None:
            return JSONResponse({"sessions": []})
        try:
            limit = min(max(int(request.query_params.get("limit", 50)), 1), 1000)
        except ValueError:
            return _error(400, "bad_request", "limit must be a whole number")
        who = request.query_params.get("profile")
        return JSONResponse({"sessions": P.plan_history(store, None, who, limit,
                                                        everyone=not who)})

    def exercise_reference(request: Request) -> Response:
        """The reference animation of an exercise: poses of one good rep and its key cue."""
        from repsense.engine.exercises import catalog
        from repsense.plans.reference import reference

        name = request.path_params["name"]
        if name not in catalog():
            return _error(404, "not_found", f"no exercise {name!r}")
        return JSONResponse(reference(name), headers={"Cache-Control": "max-age=3600"})

    return [
        Route("/api/exercises/{name}/reference", exercise_reference, methods=["GET"]),
        Route("/api/plans", list_plans, methods=["GET"]),
        Route("/api/plans", add, methods=["POST"]),
        Route("/api/plans/sessions", sessions, methods=["GET"]),
        Route("/api/plans/{id}", get, methods=["GET"]),
        Route("/api/plans/{id}", edit, methods=["PUT"]),
        Route("/api/plans/{id}", delete, methods=["DELETE"]),
        Route("/api/plans/{id}/next", upcoming, methods=["GET"]),
    ]


__all__ = ["routes"]
