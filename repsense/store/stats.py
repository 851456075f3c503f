"""The derived per-(session, exercise) rows of ``session_stats`` and ``session_faults``, from a
session's reps, sets and holds (dicts with the columns of those tables; rep dicts carry their
``faults`` as a list of ``{"code", ...}``)."""

from __future__ import annotations

from typing import Any


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def session_stats(session_id: str, reps: list[dict[str, Any]], sets: list[dict[str, Any]],
                  holds: list[dict[str, Any]]) -> tuple[list[dict[str, Any]],
                                                        list[dict[str, Any]]]:
    """(session_stats rows, session_faults rows) of one session."""
    order: dict[str, int] = {}
    by_ex: dict[str, list[dict[str, Any]]] = {}
    for r in reps:
        order.setdefault(r["exercise"], r["idx"])
        by_ex.setdefault(r["exercise"], []).append(r)
    for h in holds:
        order.setdefault(h["exercise"], 10**9 + h["idx"])
    for s in sets:
        order.setdefault(s["exercise"], 10**9)
    stats, faults = [], []
    for ex, first in order.items():
        rs = by_ex.get(ex, [])
        ss = [s for s in sets if s["exercise"] == ex]
        hs = [h for h in holds if h["exercise"] == ex]
        stats.append({
            "session_id": session_id, "exercise": ex, "first_rep": first, "reps": len(rs),
            "good_reps": sum(bool(r["good"]) for r in rs),
            "tut_s": round(sum(r["end_ms"] - r["start_ms"] for r in rs) / 1000.0, 3),
            "form_score": _mean([r["form_score"] for r in rs]),
            "rom_deg": _mean([r["rom_deg"] for r in rs]),
            "rom_pct": _mean([r["rom_pct"] for r in rs]),
            "concentric_s": _mean([r["concentric_s"] for r in rs]),
            "eccentric_s": _mean([r["eccentric_s"] for r in rs]),
            "sets": len(ss), "best_set": max((s["reps"] for s in ss), default=0),
            "hold_s": round(sum(h["held_s"] for h in hs), 3),
            "longest_hold_s": max((h["held_s"] for h in hs), default=0.0)})
        counts: dict[str, int] = {}
        for r in rs:
            for code in {f["code"] for f in r.get("faults", ())}:
                counts[code] = counts.get(code, 0) + 1
        faults.extend({"session_id": session_id, "exercise": ex, "code": c, "reps": n}
                      for c, n in sorted(counts.items()))
    return stats, faults


__all__ = ["session_stats"]
