"""``repsense plans`` (list, show, add, remove) and ``repsense analyze VIDEO --plan NAME|FILE``."""

from __future__ import annotations

import argparse
import json
import pathlib
from typing import Any

from repsense.errors import InputError


def add_parsers(sub: Any) -> None:
    from repsense.cli.history import DEFAULT_PROFILE, add_store_options

    analyze = sub.choices.get("analyze")
    if analyze is not None:
        analyze.add_argument("--plan", metavar="NAME|FILE",
                             help="score the workout against a plan: a built-in or stored plan's "
                                  "name or id, or a plan file (.toml); prints done/planned per "
                                  "step (docs/plans.md)")

    p = sub.add_parser("plans", help="workout plans: list, show, add from TOML, remove",
                       description="The built-in workout plans and your own (kept in the history "
                                   "database per profile). See docs/plans.md for the format.")
    p.add_argument("action", nargs="?", default="list", choices=["list", "show", "add", "remove"],
                   help="list (default), show NAME, add FILE.toml, remove NAME")
    p.add_argument("target", nargs="?", metavar="NAME|FILE",
                   help="the plan (name or id) for show and remove; the TOML file for add")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_store_options(p, DEFAULT_PROFILE)
    p.set_defaults(func=cmd_plans)


def _store(args: argparse.Namespace) -> Any:
    from repsense.cli.history import open_store

    return open_store(args)


def resolve_plan(args: argparse.Namespace) -> Any:
    """``--plan`` as a Plan (None without it): a file when it names one, else a built-in or a
    stored plan of the profile by name or id."""
    key = getattr(args, "plan", None)
    if not key:
        return None
    from repsense.plans.model import builtin_plans, load_plan_file

    path = pathlib.Path(key)
    if path.suffix.lower() == ".toml" or path.is_file():
        return load_plan_file(path, plan_id=path.stem)
    for plan in builtin_plans().values():
        if key in (plan.id, plan.name) or key.lower() == plan.name.lower():
            return plan
    from repsense.store.plans import find_plan

    with _store(args) as store:
        plan = find_plan(store, key, getattr(args, "profile", None))
    if plan is None:
        names = ", ".join(sorted(builtin_plans()))
        raise InputError(f"--plan {key}: no such plan (not a file, not a built-in: {names}, "
                         "nor one of yours: `repsense plans`)")
    return plan


def _steps_text(plan: Any) -> str:
    return "; ".join(s.describe() for s in plan.steps)


def cmd_plans(args: argparse.Namespace) -> int:
    from repsense.plans.model import builtin_plans, load_plan_file
    from repsense.store import plans as P

    if args.action in ("show", "add", "remove") and not args.target:
        what = "a plan file" if args.action == "add" else "a plan's name or id"
        raise InputError(f"repsense plans {args.action} needs {what}")
    with _store(args) as store:
        if args.action == "list":
            plans = P.all_plans(store, args.profile)
            if args.json:
                print(json.dumps({"plans": [p.to_dict() for p in plans]}, indent=1))
                return 0
            for p in plans:
                kind = "built-in" if p.builtin else "yours"
                print(f"{p.id:20s} {p.name} ({kind}): {_steps_text(p)}")
            return 0
        if args.action == "add":
            plan = load_plan_file(args.target)
            plan_id = P.add_plan(store, plan, args.profile)
            print(f"added plan {plan.name!r} as {plan_id} ({len(plan.steps)} steps) for "
                  f"profile {args.profile}")
            return 0
        plan = P.find_plan(store, args.target, args.profile)
        if plan is None:
            raise InputError(f"no plan {args.target!r} for profile {args.profile} "
                             "(`repsense plans` lists them)")
        if args.action == "remove":
            if plan.id in builtin_plans():
                raise InputError(f"{plan.name!r} is a built-in plan: it cannot be removed")
            P.delete_plan(store, plan.id, args.profile)
            print(f"removed plan {plan.name!r} ({plan.id}); its sessions stay in the history")
            return 0
        from repsense.plans.progression import next_plan

        history = P.plan_history(store, plan.id, args.profile, limit=20)
        current, suggestions = next_plan(plan, history)
    if args.json:
        print(json.dumps({"plan": plan.to_dict(), "next": current.to_dict(),
                          "suggestions": suggestions,
                          "sessions": [{k: h[k] for k in ("session_id", "started_at",
                                                          "adherence", "complete")}
                                       for h in history]}, indent=1))
        return 0
    print(f"# {plan.id}" + (" (built-in)" if plan.builtin else ""))
    print(plan.to_toml(), end="")
    if history:
        print(f"\n# sessions ({len(history)}, newest first):")
        for h in history:
            print(f"#   {h['started_at']}  {h['session_id']}  {h['adherence']:.0%} done"
                  + (" (complete)" if h["complete"] else ""))
    for s in suggestions:
        print(f"# next time: {s['text']}")
    return 0


__all__ = ["add_parsers", "cmd_plans", "resolve_plan"]
