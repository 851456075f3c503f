"""Progress over weeks, computed from the history store: volume per day and week, form, range of
motion and tempo trends, the most frequent faults, personal bests, streaks, and insights in plain
words.

Everything starts from the derived tables ``session_stats`` (a row per exercise of a session: reps,
good reps, time under tension, means of form score, range of motion and tempo, sets, the biggest
set, hold times) and ``session_faults`` (reps per fault code). 1,000 sessions give a few thousand
rows; the rest is plain Python over them. Days are the user's local days: callers pass
their offset from UTC in minutes (``tz_offset_min``, as JavaScript's ``-getTimezoneOffset()``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import select

from repsense.store import schema as S
from repsense.store.db import Store

# Plain words for fault codes, for insights ("knees caved in on 30% of your squats").
FAULT_WORDS = {
    "knees_cave": "knees caved in", "not_deep": "reps were too shallow",
    "knees_past_toes": "knees drifted past the toes", "chest_down": "the chest dropped",
    "heels_up": "heels came up", "hips_sag": "hips sagged", "hips_pike": "hips piked up",
    "hips_high": "hips were high", "hips_low": "hips were low", "elbow_flare": "elbows flared",
    "elbow_drift": "elbows drifted", "half_curl": "curls stopped half way",
    "leaning_back": "you leaned back", "no_lockout": "reps missed the lockout",
    "no_full_extension": "reps missed full extension", "no_full_hang": "reps missed the full hang",
    "back_rounding": "the back rounded", "back_arch": "the lower back arched",
    "knee_over_toes": "the front knee passed the toes", "torso_lean": "the torso leaned",
    "short_range": "reps were short", "arms_low": "arms stayed low",
    "feet_narrow": "feet stayed narrow", "chin_below_bar": "the chin stayed below the bar",
    "hips_first": "hips rose first",
}
# Rep exercises use range of motion as "depth" in words where it means that.
DEPTH_WORD = {"squat": "depth", "lunge": "depth", "split_squat": "depth", "push_up": "depth",
              "bench_press": "range", "deadlift": "hinge"}


@dataclass(slots=True)
class Row:
    """One exercise in one session."""

    session_id: str
    started_at: float
    exercise: str
    reps: int = 0
    good_reps: int = 0
    tut_s: float = 0.0
    form_score: float | None = None
    rom_deg: float | None = None
    rom_pct: float | None = None
    concentric_s: float | None = None
    eccentric_s: float | None = None
    rep_s: float | None = None
    sets: int = 0
    best_set: int = 0
    hold_s: float = 0.0
    longest_hold_s: float = 0.0
    faults: dict[str, int] = field(default_factory=dict)


class Progress:
    """The per-(session, exercise) table of one profile (or everyone), and what it says."""

    def __init__(self, rows: list[Row], tz_offset_min: int = 0) -> None:
        self.rows = sorted(rows, key=lambda r: (r.started_at, r.session_id, r.exercise))
        self.tz = timezone(timedelta(minutes=tz_offset_min))

    # --- loading ------------------------------------------------------------------------------
    @classmethod
    def load(cls, store: Store, profile: str | None = None, tz_offset_min: int = 0) -> Progress:
        ses, st, sf = S.sessions, S.session_stats, S.session_faults
        cond = [] if profile is None else [ses.c.profile == profile]
        rows: dict[tuple[str, str], Row] = {}
        with store.engine.connect() as conn:
            q = select(st.c.session_id, ses.c.started_at, st.c.exercise, st.c.reps,
                       st.c.good_reps, st.c.tut_s, st.c.form_score, st.c.rom_deg, st.c.rom_pct,
                       st.c.concentric_s, st.c.eccentric_s, st.c.sets, st.c.best_set,
                       st.c.hold_s, st.c.longest_hold_s) \
                .join(ses, ses.c.id == st.c.session_id).where(*cond)
            for sid, started, ex, n, good, tut, *rest in conn.execute(q):
                rows[(sid, ex)] = Row(sid, started, ex, n, good, tut, *rest[:5],
                                      tut / n if n else None, *rest[5:])
            q = select(sf.c.session_id, sf.c.exercise, sf.c.code, sf.c.reps) \
                .join(ses, ses.c.id == sf.c.session_id).where(*cond)
            for sid, ex, code, n in conn.execute(q):
                if (sid, ex) in rows:
                    rows[(sid, ex)].faults[code] = n
        return cls(list(rows.values()), tz_offset_min)

    # --- helpers ------------------------------------------------------------------------------
    def day(self, ts: float) -> date:
        return datetime.fromtimestamp(ts, self.tz).date()

    @property
    def exercises(self) -> list[str]:
        """Exercises by how much they were done, most first."""
        c: Counter[str] = Counter()
        for r in self.rows:
            c[r.exercise] += r.reps + int(r.hold_s)
        return [ex for ex, _ in c.most_common()]

    # --- what the page shows ------------------------------------------------------------------
    def volume(self, period: str = "day") -> dict[str, Any]:
        """Reps, good reps, sets, time under tension and hold time per exercise per day (or ISO
        week, labelled by its Monday)."""
        if period not in ("day", "week"):
            raise ValueError(f"period must be day or week, got {period!r}")
        acc: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
        for r in self.rows:
            d = self.day(r.started_at)
            if period == "week":
                d = d - timedelta(days=d.weekday())
            key = d.isoformat()
            v = acc[r.exercise].setdefault(key, {"reps": 0, "good_reps": 0, "sets": 0,
                                                 "tut_s": 0.0, "hold_s": 0.0, "sessions": 0})
            v["reps"] += r.reps
            v["good_reps"] += r.good_reps
            v["sets"] += r.sets
            v["tut_s"] += r.tut_s
            v["hold_s"] += r.hold_s
            v["sessions"] += 1
        return {"period": period, "exercises": {
            ex: [{"period": k, **{n: round(x, 1) if isinstance(x, float) else x
                                  for n, x in v.items()}} for k, v in sorted(acc[ex].items())]
            for ex in self.exercises if ex in acc}}

    def trends(self, exercise: str | None = None) -> dict[str, Any]:
        """Per session: average form score, range of motion, tempo (seconds per rep and the
        concentric / eccentric split)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for r in self.rows:
            if r.reps == 0 or (exercise is not None and r.exercise != exercise):
                continue
            out.setdefault(r.exercise, []).append({
                "session": r.session_id, "started_at": _iso(r.started_at),
                "day": self.day(r.started_at).isoformat(), "reps": r.reps,
                "form_score": _r(r.form_score, 1), "rom_deg": _r(r.rom_deg, 1),
                "rom_pct": _r(r.rom_pct, 1), "rep_s": _r(r.rep_s, 2),
                "concentric_s": _r(r.concentric_s, 2), "eccentric_s": _r(r.eccentric_s, 2)})
        return {"exercises": out}

    def faults(self, last_sessions: int = 5) -> dict[str, Any]:
        """Most frequent faults overall and in the last ``last_sessions`` sessions of each
        exercise: how many reps showed each, and what share of the exercise's reps."""
        overall: Counter[tuple[str, str]] = Counter()
        reps_of: Counter[str] = Counter()
        for r in self.rows:
            reps_of[r.exercise] += r.reps
            for code, n in r.faults.items():
                overall[(r.exercise, code)] += n
        recent: dict[str, dict[str, Any]] = {}
        for ex in self.exercises:
            rows = [r for r in self.rows if r.exercise == ex and r.reps][-last_sessions:]
            n = sum(r.reps for r in rows)
            c: Counter[str] = Counter()
            for r in rows:
                c.update(r.faults)
            if n:
                recent[ex] = {"sessions": len(rows), "reps": n, "faults": [
                    {"code": code, "words": words(code), "reps": k, "share": round(k / n, 3)}
                    for code, k in c.most_common()]}
        return {"overall": [{"exercise": ex, "code": code, "words": words(code), "reps": n,
                             "share": round(n / reps_of[ex], 3) if reps_of[ex] else None}
                            for (ex, code), n in overall.most_common(12)],
                "recent": recent, "last_sessions": last_sessions}

    def bests(self) -> dict[str, Any]:
        """Personal bests per exercise: most reps in a set, most reps in a session, best session
        form score (sessions of 3 reps or more), longest hold."""
        out: dict[str, dict[str, Any]] = {}
        for ex in self.exercises:
            rows = [r for r in self.rows if r.exercise == ex]
            b: dict[str, Any] = {}
            best = max(rows, key=lambda r: (r.best_set, -r.started_at))
            if best.best_set:
                b["most_reps_in_a_set"] = _best(best.best_set, best, self)
            best = max(rows, key=lambda r: (r.reps, -r.started_at))
            if best.reps:
                b["most_reps_in_a_session"] = _best(best.reps, best, self)
            scored = [r for r in rows if r.form_score is not None and r.reps >= 3]
            if scored:
                best = max(scored, key=lambda r: (r.form_score or 0, -r.started_at))
                b["best_form_score"] = _best(round(best.form_score or 0, 1), best, self)
            best = max(rows, key=lambda r: (r.longest_hold_s, -r.started_at))
            if best.longest_hold_s:
                b["longest_hold_s"] = _best(round(best.longest_hold_s, 1), best, self)
            if b:
                out[ex] = b
        return {"exercises": out}

    def streaks(self, today: date | None = None) -> dict[str, Any]:
        """Days in a row with a session: the current run (ending today or yesterday), the longest,
        and active days and weeks."""
        days = sorted({self.day(r.started_at) for r in self.rows})
        today = today or datetime.now(self.tz).date()
        longest = run = 0
        prev: date | None = None
        best_end: date | None = None
        for d in days:
            run = run + 1 if prev is not None and d - prev == timedelta(days=1) else 1
            if run > longest:
                longest, best_end = run, d
            prev = d
        current = 0
        if days and (today - days[-1]).days <= 1:
            current = run
        weeks = sorted({d - timedelta(days=d.weekday()) for d in days})
        wrun = 0
        this_week = today - timedelta(days=today.weekday())
        w = this_week if this_week in weeks else this_week - timedelta(days=7)
        while w in weeks:
            wrun += 1
            w -= timedelta(days=7)
        return {"current_days": current, "longest_days": longest,
                "longest_ended": best_end.isoformat() if best_end else None,
                "active_days": len(days), "active_weeks": len(weeks), "current_weeks": wrun,
                "last_day": days[-1].isoformat() if days else None,
                "days_last_30": sum((today - d).days < 30 for d in days)}

    def insights(self, today: date | None = None) -> list[dict[str, Any]]:
        """Short sentences about what changed, each with the figures it rests on."""
        today = today or datetime.now(self.tz).date()
        out: list[dict[str, Any]] = []
        for ex in self.exercises[:4]:
            rows = [r for r in self.rows if r.exercise == ex and r.reps]
            name = _plural(ex)
            # range of motion over the last weeks: first vs last week that have data
            recent = [r for r in rows if (today - self.day(r.started_at)).days < 35]
            with_rom = [r for r in recent if r.rom_pct is not None or r.rom_deg is not None]
            if len(with_rom) >= 4:
                weekly = _weekly(with_rom, self)
                if len(weekly) >= 2:
                    (w0, a), (w1, b) = weekly[0], weekly[-1]
                    weeks = max(1, round((w1 - w0).days / 7))
                    if a and abs(b - a) / a >= 0.05:
                        change = (b - a) / a * 100
                        word = DEPTH_WORD.get(ex, "range of motion")
                        verb = "improved" if change > 0 else "dropped"
                        out.append(_insight("rom", ex, f"Your {ex.replace('_', ' ')} {word} {verb} "
                                            f"{abs(change):.0f}% over {weeks} week"
                                            f"{'s' if weeks != 1 else ''}.", change_pct=round(
                                                change, 1), weeks=weeks))
            # the most frequent fault in the last 5 sessions
            last5 = rows[-5:]
            n = sum(r.reps for r in last5)
            c: Counter[str] = Counter()
            for r in last5:
                c.update(r.faults)
            if n >= 5 and c:
                code, k = c.most_common(1)[0]
                share = k / n
                if share >= 0.1:
                    text = words(code)
                    out.append(_insight(
                        "fault", ex, f"{text[0].upper()}{text[1:]} on {share * 100:.0f}% of your "
                        f"{name} in your last {len(last5)} session{'s' if len(last5) != 1 else ''}.",
                        code=code, share=round(share, 3)))
            # form score: the last 5 sessions against the 5 before
            scored = [r for r in rows if r.form_score is not None]
            if len(scored) >= 6:
                a = _mean([r.form_score for r in scored[-10:-5]])
                b = _mean([r.form_score for r in scored[-5:]])
                if a is not None and b is not None and abs(b - a) >= 3:
                    verb = "rose" if b > a else "fell"
                    out.append(_insight("form", ex, f"Your {ex.replace('_', ' ')} form score "
                                        f"{verb} from {a:.0f} to {b:.0f} over your last 10 "
                                        "sessions.", before=round(a, 1), after=round(b, 1)))
            # tempo
            timed = [r for r in rows if r.rep_s]
            if len(timed) >= 6:
                a = _mean([r.rep_s for r in timed[-10:-5]])
                b = _mean([r.rep_s for r in timed[-5:]])
                if a and b and abs(b - a) / a >= 0.15:
                    word = "slower and more controlled" if b > a else "faster"
                    out.append(_insight("tempo", ex, f"Your {name} got {word}: {b:.1f} s per "
                                        f"rep lately against {a:.1f} s before.", before=round(
                                            a, 2), after=round(b, 2)))
        # volume this week so far against the same days of last week
        week = today - timedelta(days=today.weekday())
        this = sum(r.reps for r in self.rows if week <= self.day(r.started_at) <= today)
        last = sum(r.reps for r in self.rows if week - timedelta(days=7) <=
                   self.day(r.started_at) <= today - timedelta(days=7))
        if last and this:
            change = (this - last) / last * 100
            if abs(change) >= 10:
                same = "last week" if today.weekday() == 6 else "the same days of last week"
                out.append(_insight("volume", None, f"{this} reps this week, {abs(change):.0f}% "
                                    f"{'more' if change > 0 else 'fewer'} than {same} "
                                    f"({last}).", this_week=this, last_week=last))
        s = self.streaks(today)
        if s["current_days"] >= 2:
            out.append(_insight("streak", None, f"You have trained {s['current_days']} days in a "
                                "row" + (" - your longest streak yet." if s["current_days"] ==
                                         s["longest_days"] and s["longest_days"] > 2 else "."),
                                days=s["current_days"]))
        elif s["last_day"] and not s["current_days"]:
            gap = (today - date.fromisoformat(s["last_day"])).days
            if gap >= 3:
                out.append(_insight("streak", None, f"Your last session was {gap} days ago.",
                                    days_since=gap))
        for ex, b in self.bests()["exercises"].items():
            best = b.get("most_reps_in_a_set") or b.get("longest_hold_s")
            if best and (today - date.fromisoformat(best["day"])).days < 7:
                what = f"{best['value']} {_plural(ex)} in one set" if "most_reps_in_a_set" in b \
                    else f"a {best['value']:.0f} s {ex.replace('_', ' ')}"
                out.append(_insight("best", ex, f"Personal best this week: {what}.",
                                    value=best["value"]))
        return out


def words(code: str) -> str:
    return FAULT_WORDS.get(code, code.replace("_", " "))


def _plural(exercise: str) -> str:
    name = exercise.replace("_", " ")
    return name if name.endswith("s") else name + "s"


def _insight(kind: str, exercise: str | None, text: str, **figures: Any) -> dict[str, Any]:
    return {"kind": kind, "exercise": exercise, "text": text, "figures": figures}


def _weekly(rows: list[Row], p: Progress) -> list[tuple[date, float]]:
    """Range of motion (share of full, else degrees) per week, weighted by reps."""
    acc: dict[date, list[float]] = defaultdict(list)
    for r in rows:
        d = p.day(r.started_at)
        v = r.rom_pct if r.rom_pct is not None else r.rom_deg
        if v is not None:
            acc[d - timedelta(days=d.weekday())].extend([v] * r.reps)
    return [(w, sum(v) / len(v)) for w, v in sorted(acc.items())]


def _best(value: Any, row: Row, p: Progress) -> dict[str, Any]:
    return {"value": value, "session": row.session_id, "day": p.day(row.started_at).isoformat()}


def _mean(values: list[Any]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _f(v: Any) -> float | None:
    return None if v is None else float(v)


def _r(v: float | None, n: int) -> float | None:
    return None if v is None else round(v, n)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


__all__ = ["FAULT_WORDS", "Progress", "Row", "words"]
