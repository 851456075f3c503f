"""A recorded workout scored against a plan (``repsense analyze VIDEO --plan``), and a guided
session's result in words (the CLI and the session summary)."""

from __future__ import annotations

from typing import Any

from repsense.plans.guide import Guide
from repsense.plans.model import Plan
from repsense.pose import PoseRecording
from repsense.session import Analysis, EventSink, analyze_recording


def score_recording(rec: PoseRecording, plan: Plan,
                    sinks: list[EventSink] | None = None) -> tuple[Analysis, dict[str, Any]]:
    """Run the recording through the engine led by the plan's guide. A recording does not wait
    for rests, so reps past a set's target start the plan's next set of the same exercise
    (``follow_ms=0``); the engine counts each step's exercise in turn."""
    guide = Guide(plan, follow_ms=0)
    analysis = analyze_recording(rec, guide=guide, sinks=sinks or [])
    return analysis, guide.result()


def _n(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def result_text(result: dict[str, Any]) -> str:
    """Per step: done against planned (sets, reps or seconds, good form), then the adherence."""
    lines = [f"plan {result['name']}: {result['adherence']:.0%} of the planned work done"
             + (" (complete)" if result["complete"] else "")]
    for i, s in enumerate(result["steps"], 1):
        unit = " s" if s["hold"] else " reps"
        sets = ", ".join(f"{_n(x['done'])}/{_n(x['target'])}" for x in s["sets"]) or "none"
        form = ""
        if s.get("good_share") is not None:
            form = f"; good form {s['good_share']:.0%}"
        if s.get("form_score") is not None:
            form += f", form score {s['form_score']:.0f}"
        lines.append(f"  {i}. {s['display']}: {s['sets_done']}/{s['planned_sets']} sets done, "
                     f"{_n(s['done_total'])}/{_n(s['planned_total'])}{unit} "
                     f"(sets: {sets}){form}")
    return "\n".join(lines)


__all__ = ["result_text", "score_recording"]
