"""Progression: what the next session of a plan should ask for, from the plan's stored sessions.

A step whose every set was completed with good form in the last two sessions of the plan gets a
little more (one rep under 10, two from 10, or 5 s for a hold); a step whose form dropped in the
last session is suggested to stay where it is. A target once raised (an accepted suggestion) is
the plan's target from then on: ``current_targets`` carries the highest of the plan's and the
last session's. Users accept or ignore suggestions (docs/plans.md).
"""

from __future__ import annotations

from typing import Any

from repsense.plans.model import MAX_HOLD_S, MAX_REPS, Plan

GOOD_SHARE = 0.8       # good reps / reps (holds: good-form seconds / seconds held) of "good form"
DROP = 0.1             # a fall of the good share by this much from the session before is a drop
HOLD_STEP_S = 5.0


def _steps_of(result: dict[str, Any], plan: Plan) -> dict[int, dict[str, Any]]:
    """The result's steps that are the plan's steps (same place, same exercise)."""
    out = {}
    for i, s in enumerate(result.get("steps", [])):
        if i < len(plan.steps) and s.get("exercise") == plan.steps[i].exercise:
            out[i] = s
    return out


def current_targets(plan: Plan, history: list[dict[str, Any]]) -> dict[int, float]:
    """Per step, the target the next session starts from: the plan's, or the last session's when
    that was higher (a suggestion accepted)."""
    targets = {i: s.target for i, s in enumerate(plan.steps)}
    if history:
        for i, s in _steps_of(history[0]["result"], plan).items():
            targets[i] = max(targets[i], float(s.get("target", 0)))
    return targets


def _good(step: dict[str, Any]) -> bool:
    share = step.get("good_share")
    return bool(step.get("complete")) and share is not None and share >= GOOD_SHARE


def suggestions(plan: Plan, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What to suggest for the next session of ``plan`` given its sessions (newest first, as
    repsense.store.plans.plan_history gives them): ``{step, exercise, kind: "more" | "stay",
    target, suggested, text}``."""
    if not history:
        return []
    targets = current_targets(plan, history)
    last = _steps_of(history[0]["result"], plan)
    before = _steps_of(history[1]["result"], plan) if len(history) > 1 else {}
    out = []
    for i, step in enumerate(plan.steps):
        now = targets[i]
        unit = "s" if step.is_hold else "reps"
        what = f"{now:g} {unit}" if step.is_hold else f"{int(now)} reps"
        a, b = last.get(i), before.get(i)
        if a is not None and b is not None and _good(a) and _good(b) and \
                float(a.get("target", 0)) >= now and float(b.get("target", 0)) >= now:
            if step.is_hold:
                new = min(now + HOLD_STEP_S, MAX_HOLD_S)
                more = f"{new:g} s"
            else:
                new = float(min(int(now) + (1 if now < 10 else 2), MAX_REPS))
                more = f"{int(new)} reps"
            if new > now:
                out.append({"step": i, "exercise": step.exercise, "kind": "more",
                            "target": now, "suggested": new,
                            "text": f"{step.display}: every set done with good form two sessions "
                                    f"running. Try {more} (from {what})."})
            continue
        if a is not None and a.get("good_share") is not None:
            share = float(a["good_share"])
            prev = b.get("good_share") if b is not None else None
            if share < GOOD_SHARE or (prev is not None and share <= float(prev) - DROP):
                out.append({"step": i, "exercise": step.exercise, "kind": "stay",
                            "target": now, "suggested": now,
                            "text": f"{step.display}: form dropped last time ({share:.0%} good). "
                                    f"Stay at {what} and make each one clean."})
    return out


def next_plan(plan: Plan, history: list[dict[str, Any]],
              accepted: bool = False) -> tuple[Plan, list[dict[str, Any]]]:
    """The plan for the next session (with targets carried, and raised when ``accepted``) and the
    suggestions."""
    targets = current_targets(plan, history)
    found = suggestions(plan, history)
    if accepted:
        for s in found:
            targets[s["step"]] = s["suggested"]
    return plan.with_targets(targets), found


__all__ = ["GOOD_SHARE", "current_targets", "next_plan", "suggestions"]
