"""History at scale: generate 1,000 sessions / 100,000 reps, import them, time every history API
call the page makes (SQLite by default; --db for PostgreSQL).

    .venv/bin/python bench/history_scale.py [--sessions 1000] [--reps 100] [--db URL]

Prints the import time and, per API call, the median and worst of --repeat calls in milliseconds,
for everyone's sessions (all 100,000 reps) and for one profile. The server keeps the progress table a page's calls share until the data changes;
the bench turns that off (--cache turns it on), so every call pays for its own reading.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EXERCISES = {   # exercise: (rep seconds, full-range degrees, faults with their base rate)
    "squat": (2.4, 95.0, {"knees_cave": 0.3, "not_deep": 0.2, "heels_up": 0.05}),
    "push_up": (1.9, 80.0, {"hips_sag": 0.25, "not_deep": 0.15}),
    "biceps_curl": (2.2, 120.0, {"elbow_drift": 0.2, "leaning_back": 0.1}),
    "lunge": (3.0, 85.0, {"knee_over_toes": 0.2}),
}


def generate(sessions: int = 1000, reps_per_session: int = 100, seed: int = 7,
             end: float | None = None, profiles: tuple[str, ...] = ("ann", "bob")) -> dict[str, Any]:
    """An export document (the format `repsense import` reads) of made-up but plausible training:
    sessions spread over the days before ``end``, form and range improving over time, faults
    getting rarer, a plank hold in some sessions."""
    rng = random.Random(seed)
    end = end if end is not None else time.time()
    days = max(1, math.ceil(sessions / 8))
    docs = []
    for i in range(sessions):
        progress = i / max(1, sessions - 1)            # 0 at the oldest session, 1 at the newest
        started = end - (1 - progress) * days * 86400 - rng.uniform(0, 3600)
        sid = f"gen{seed:02d}{i:06d}"
        chosen = rng.sample(list(EXERCISES), 2)
        reps, sets, cues, holds = [], [], [], []
        t = 5000
        idx = 0
        last_set_end = None
        per_ex = [reps_per_session // 2, reps_per_session - reps_per_session // 2]
        for ex, n in zip(chosen, per_ex):
            rep_s, full, faults = EXERCISES[ex]
            count = 0
            while n > 0:
                size = min(n, rng.randint(8, 15))
                n -= size
                set_start, good_in_set = t, 0
                for _ in range(size):
                    idx += 1
                    count += 1
                    dur = rep_s * rng.uniform(0.8, 1.2) * (1 + 0.15 * progress)
                    ecc = dur * 0.55
                    codes = [c for c, p in faults.items() if rng.random() < p * (1.2 - progress)]
                    score = max(0.0, 100.0 - 25 * len(codes) - rng.uniform(0, 10))
                    rom = full * (0.75 + 0.15 * progress) * rng.uniform(0.93, 1.05)
                    start, end_ms = t, t + int(dur * 1000)
                    reps.append({
                        "idx": idx, "exercise": ex, "count": count, "set_idx": len(sets) + 1,
                        "t_ms": end_ms, "start_ms": start, "bottom_ms": start + int(ecc * 1000),
                        "end_ms": end_ms, "concentric_s": round(dur - ecc, 3),
                        "eccentric_s": round(ecc, 3), "pause_s": round(rng.uniform(0, 0.4), 2),
                        "rom_deg": round(rom, 1), "rom_pct": round(100 * rom / full, 1),
                        "form_score": round(score, 1), "good": not codes,
                        "faults": [{"code": c, "start_ms": start, "end_ms": end_ms}
                                   for c in codes]})
                    good_in_set += not codes
                    if codes and rng.random() < 0.3:
                        cues.append({"idx": len(cues) + 1, "t_ms": end_ms, "exercise": ex,
                                     "code": codes[0], "message": f"Watch the {codes[0]}",
                                     "severity": "warning", "rep": count})
                    t = end_ms + int(rng.uniform(300, 900))
                sets.append({"idx": len(sets) + 1, "exercise": ex, "reps": size,
                             "good_reps": good_in_set, "start_ms": set_start, "end_ms": t,
                             "tut_s": round(sum((r["end_ms"] - r["start_ms"]) / 1000
                                                for r in reps[-size:]), 3),
                             "rest_before_s": None if last_set_end is None else
                             round((set_start - last_set_end) / 1000, 3)})
                last_set_end = t
                t += int(rng.uniform(45, 120) * 1000)
        if rng.random() < 0.4:
            held = round(30 + 60 * progress * rng.uniform(0.7, 1.1), 2)
            holds.append({"idx": 1, "exercise": "plank", "start_ms": t,
                          "end_ms": t + int(held * 1000), "held_s": held,
                          "good_s": round(held * rng.uniform(0.7, 1.0), 2)})
            t += int(held * 1000)
        docs.append({"id": sid, "profile": profiles[i % len(profiles)], "kind": "live",
                     "source": "webcam", "exercise_option": "auto", "started_at": round(started, 3),
                     "ended_at": round(started + t / 1000, 3), "status": "ended",
                     "total_reps": len(reps), "sets": sets, "reps": reps, "holds": holds,
                     "cues": cues})
    docs.sort(key=lambda d: (d["started_at"], d["id"]))
    return {"format": "repsense-history", "version": 1,
            "profiles": [{"name": p} for p in sorted(profiles)], "sessions": docs}


def api_paths(profile: str | None = "ann") -> list[str]:
    """The history page's calls, in the order it makes them."""
    q = f"?profile={profile}&tz=0" if profile else "?tz=0"
    return ["/api/history/profiles", f"/api/history/sessions{q}&limit=50",
            f"/api/history/volume{q}&period=day", f"/api/history/volume{q}&period=week",
            f"/api/history/trends{q}", f"/api/history/faults{q}", f"/api/history/bests{q}",
            f"/api/history/streaks{q}", f"/api/history/insights{q}"]


def time_api(store: Any, repeat: int = 5, profiles: tuple[str | None, ...] = (None, "ann"),
             cache: bool = False) -> dict[str, tuple[float, float]]:
    """Median and worst milliseconds of each history API call through the ASGI app."""
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from repsense.app import history

    history.CACHE = cache
    figures = {}
    with TestClient(Starlette(routes=history.routes(store))) as client:
        first = client.get("/api/history/sessions?limit=1").json()["sessions"]
        paths = [p for profile in profiles for p in api_paths(profile)]
        paths += [f"/api/history/sessions/{first[0]['id']}"] if first else []
        for path in paths:
            times = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                resp = client.get(path)
                times.append((time.perf_counter() - t0) * 1000)
                assert resp.status_code == 200, (path, resp.status_code, resp.text[:200])
            figures[path] = (statistics.median(times), max(times))
    return figures


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=100, help="reps per session")
    ap.add_argument("--db", help="database URL (default: a new SQLite file in a temp dir)")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--cache", action="store_true", help="keep the server's cache on")
    args = ap.parse_args()
    from repsense.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{tmp}/history.db"
        doc = generate(args.sessions, args.reps)
        store = Store(url)
        t0 = time.perf_counter()
        added, _ = store.import_doc(doc)
        took = time.perf_counter() - t0
        n_reps = sum(len(s["reps"]) for s in doc["sessions"])
        print(f"{store.dialect}: imported {added} sessions / {n_reps} reps in {took:.1f} s")
        figures = time_api(store, args.repeat, cache=args.cache)
        print(f"{'API call':62} {'median ms':>9} {'worst ms':>9}")
        for path, (med, worst) in figures.items():
            print(f"{path:62} {med:9.1f} {worst:9.1f}")
        print(f"slowest median: {max(m for m, _ in figures.values()):.1f} ms")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
