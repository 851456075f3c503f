"""Plans in the history store: a profile's own plans (add, replace, delete, find by id or name),
and the results of the sessions run with a plan, newest first (docs/plans.md).

Built-in plans live in the package (repsense.plans.builtin_plans); ``all_plans`` lists them with
the profile's own.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from repsense.errors import InputError
from repsense.plans.model import Plan, builtin_plans, parse_plan
from repsense.store import schema as S
from repsense.store.db import DEFAULT_PROFILE, Store


def _plan_of(row: Any) -> Plan:
    doc = json.loads(row.doc)
    return parse_plan({"name": row.name, **doc}, f"stored plan {row.id}", plan_id=row.id)


def _doc(plan: Plan) -> str:
    d = plan.to_dict()
    return json.dumps({"description": d["description"], "steps": d["steps"]}, sort_keys=True)


def user_plans(store: Store, profile: str | None = None) -> list[Plan]:
    """The profile's own plans, by name."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(S.plans).where(S.plans.c.profile == (profile or DEFAULT_PROFILE))
                            .order_by(S.plans.c.name, S.plans.c.id)).all()
    return [_plan_of(r) for r in rows]


def all_plans(store: Store | None, profile: str | None = None) -> list[Plan]:
    """The built-in plans, then the profile's own."""
    out = list(builtin_plans().values())
    if store is not None:
        out += user_plans(store, profile)
    return out


def _name_taken(conn: Connection, profile: str, name: str, but: str | None = None) -> None:
    if name.lower() in (p.name.lower() for p in builtin_plans().values()):
        raise InputError(f"a built-in plan is called {name!r}: give yours another name")
    rows = conn.execute(select(S.plans.c.id, S.plans.c.name)
                        .where(S.plans.c.profile == profile)).all()
    if any(n.lower() == name.lower() and i != but for i, n in rows):
        raise InputError(f"you already have a plan called {name!r}: give it another name, or "
                         "edit that one")


def add_plan(store: Store, plan: Plan, profile: str | None = None) -> str:
    """Keep a user's plan; returns its id."""
    profile = profile or DEFAULT_PROFILE
    plan_id = "p" + uuid.uuid4().hex[:11]
    now = time.time()
    with store.engine.begin() as conn:
        Store.ensure_profile(conn, profile)
        _name_taken(conn, profile, plan.name)
        conn.execute(S.plans.insert().values(id=plan_id, profile=profile, name=plan.name,
                                             doc=_doc(plan), created_at=now, updated_at=now))
    return plan_id


def replace_plan(store: Store, plan_id: str, plan: Plan, profile: str | None = None) -> bool:
    """Edit a user's plan in place (its sessions stay its sessions); False when there is none."""
    profile = profile or DEFAULT_PROFILE
    with store.engine.begin() as conn:
        _name_taken(conn, profile, plan.name, but=plan_id)
        n = conn.execute(S.plans.update().where((S.plans.c.id == plan_id)
                                                & (S.plans.c.profile == profile))
                         .values(name=plan.name, doc=_doc(plan), updated_at=time.time())).rowcount
    return n > 0


def delete_plan(store: Store, plan_id: str, profile: str | None = None) -> bool:
    """Remove a user's plan (the sessions run with it stay in the history)."""
    if plan_id in builtin_plans():
        raise InputError(f"{plan_id!r} is a built-in plan: it cannot be removed")
    with store.engine.begin() as conn:
        return conn.execute(S.plans.delete().where(
            (S.plans.c.id == plan_id) & (S.plans.c.profile == (profile or DEFAULT_PROFILE)))) \
            .rowcount > 0


def find_plan(store: Store | None, key: str, profile: str | None = None) -> Plan | None:
    """A plan by id or by name (any case): built-ins first, then the profile's own."""
    want = key.strip().lower()
    for p in all_plans(store, profile):
        if p.id == key or p.name.lower() == want or p.id == want:
            return p
    return None


def record_result(conn: Connection, session_id: str, result: dict[str, Any]) -> None:
    """Store what a guided session planned and did (StoreSink calls this as the session ends)."""
    conn.execute(S.plan_sessions.delete().where(S.plan_sessions.c.session_id == session_id))
    conn.execute(S.plan_sessions.insert().values(
        session_id=session_id, plan_id=result["plan_id"] or result["name"],
        plan_name=result["name"], result=json.dumps(result, sort_keys=True),
        adherence=float(result["adherence"]), complete=bool(result["complete"])))


def plan_history(store: Store, plan_id: str | None = None, profile: str | None = None,
                 limit: int | None = None, everyone: bool = False) -> list[dict[str, Any]]:
    """Sessions run with a plan (or with any plan), newest first, of a profile (or of
    ``everyone``): ``{session_id, started_at, profile, plan_id, plan_name, adherence, complete,
    result}``."""
    ps, ses = S.plan_sessions, S.sessions
    q = select(ps, ses.c.started_at, ses.c.status, ses.c.profile) \
        .join(ses, ses.c.id == ps.c.session_id).order_by(ses.c.started_at.desc(), ses.c.id)
    if not everyone:
        q = q.where(ses.c.profile == (profile or DEFAULT_PROFILE))
    if plan_id is not None:
        q = q.where(ps.c.plan_id == plan_id)
    if limit is not None:
        q = q.limit(limit)
    with store.engine.connect() as conn:
        rows = conn.execute(q).all()
    from repsense.store.db import iso

    return [{"session_id": r.session_id, "started_at": iso(r.started_at), "status": r.status,
             "profile": r.profile,
             "plan_id": r.plan_id, "plan_name": r.plan_name,
             "adherence": round(float(r.adherence), 3), "complete": bool(r.complete),
             "result": json.loads(r.result)} for r in rows]


__all__ = ["add_plan", "all_plans", "delete_plan", "find_plan", "plan_history", "record_result",
           "replace_plan", "user_plans"]
