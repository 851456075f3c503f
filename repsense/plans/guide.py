"""The guide of a workout plan: a state machine fed by the engine's events that knows the current
step and set, the progress to the target, the rest countdown and what to say.

``Guide(plan).update(events, t_ms)`` takes a frame's events at the pose clock and returns the
prompts to say and show (``{"kind", "text"}``); ``state(t_ms)`` is what a screen draws;
``skip``/``add_rest`` are the buttons; ``result()`` compares done with planned. It never reads a
clock of its own, so a recorded workout replays to the same result (``repsense analyze --plan``).

Rules (docs/plans.md): a set is done when its target is reached (reps, or seconds held in good
form for a hold); reps that follow on without a break (``follow_ms``) still count to it; then the
rest counts down; a rep of the next set's exercise during the rest (after a break) starts that
set early. Skip ends a set short or a rest early. A recording scored against a plan
(``follow_ms=0``) splits a run of reps into the plan's sets at their targets.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from repsense.engine.events import Event, HoldUpdated, RepCompleted
from repsense.plans.model import Plan, Step

FOLLOW_MS = 3000          # a rep starting this soon after the last one continues the set
COUNTDOWN_S = 10          # "10 seconds" is said this long before the end of a rest
ADD_REST_S = 30.0


class Phase(str, enum.Enum):
    WORK = "work"
    REST = "rest"
    DONE = "done"


@dataclass
class SetResult:
    """One set of a step: the target and what was done (reps, or good-form seconds held)."""

    target: float
    done: float = 0.0
    good: int = 0                 # good reps (rep steps)
    scores: list[float] = field(default_factory=list)   # form scores of the reps
    held_s: float = 0.0           # hold steps: time in position, good form or not
    start_ms: int | None = None
    end_ms: int | None = None
    skipped: bool = False

    @property
    def complete(self) -> bool:
        return self.done >= self.target - 1e-6

    def to_dict(self, hold: bool) -> dict[str, Any]:
        d: dict[str, Any] = {"target": _n(self.target), "done": _n(round(self.done, 1)),
                             "complete": self.complete}
        if hold:
            d["held_s"] = round(self.held_s, 1)
        else:
            d["good_reps"] = self.good
            d["form_score"] = round(sum(self.scores) / len(self.scores), 3) if self.scores \
                else None
        return d


def _n(v: float) -> float | int:
    return int(v) if float(v).is_integer() else v


def _plural(step: Step) -> str:
    return step.display.lower() + ("" if step.is_hold else "s")


class Guide:
    """One run through a plan. Steps and sets are 0-based inside, 1-based in what it says."""

    def __init__(self, plan: Plan, *, follow_ms: int = FOLLOW_MS) -> None:
        self.plan = plan
        self.follow_ms = follow_ms
        self.step = 0
        self.set = 0
        self.phase = Phase.WORK
        self.results: list[list[SetResult]] = [[] for _ in plan.steps]
        self._rest_from_ms: int | None = None
        self._rest_until_ms: int | None = None
        self._counted_down = False
        self._last_rep_end_ms: int | None = None
        self._hold_v = 0.0          # the engine's good-form (else total) seconds of the hold
        self._hold_held = 0.0
        self._hold_base = (0.0, 0.0)
        self._extending = False     # a hold set done and still held: its seconds go on counting
        self._now: int | None = None
        self._prompts: list[dict[str, str]] = []
        self._open(None)
        first = plan.steps[0]
        self._say("go", f"{first.display}: {self._target_words(first)}"
                  + (f", {first.sets} sets" if first.sets > 1 else ""))

    # --- what it is doing ---------------------------------------------------------------------
    @property
    def current(self) -> Step:
        return self.plan.steps[self.step]

    def _upcoming(self) -> tuple[int, int] | None:
        """(step, set) of the set after the current one; None after the last."""
        if self.set + 1 < self.current.sets:
            return self.step, self.set + 1
        if self.step + 1 < len(self.plan.steps):
            return self.step + 1, 0
        return None

    @property
    def exercise(self) -> str:
        """The exercise the engine should count now: the current step's, and during a rest,
        once the finished set's reps can no longer follow on, the next set's."""
        if self.phase is Phase.REST and self._rest_from_ms is not None and self._now is not None \
                and not self._extending and self._now - max(
                    self._rest_from_ms, self._last_rep_end_ms or 0) >= self.follow_ms:
            nxt = self._upcoming()
            if nxt is not None:
                return self.plan.steps[nxt[0]].exercise
        return self.current.exercise

    def _target_words(self, step: Step) -> str:
        return f"hold {_n(step.target)} seconds" if step.is_hold else f"{step.reps} reps"

    def _say(self, kind: str, text: str) -> None:
        self._prompts.append({"kind": kind, "text": text})

    def take_prompts(self) -> list[dict[str, str]]:
        out, self._prompts = self._prompts, []
        return out

    def _open(self, t: int | None) -> None:
        self._set = SetResult(self.current.target, start_ms=t)
        self.results[self.step].append(self._set)
        if self.current.is_hold:
            self._hold_base = (self._hold_v, self._hold_held)

    # --- the engine's events ------------------------------------------------------------------
    def update(self, events: list[Event], t_ms: int) -> list[dict[str, str]]:
        """Take one frame's events (at the pose clock ``t_ms``); returns the prompts to say."""
        self._now = t_ms
        for ev in events:
            if isinstance(ev, RepCompleted):
                self._rep(ev)
            elif isinstance(ev, HoldUpdated):
                self._hold(ev)
        self._tick(t_ms)
        return self.take_prompts()

    def _rep(self, ev: RepCompleted) -> None:
        follows = self._last_rep_end_ms is not None and \
            ev.start_ms - self._last_rep_end_ms < self.follow_ms
        self._last_rep_end_ms = ev.end_ms
        if self.phase is Phase.WORK:
            if ev.exercise == self.current.exercise and not self.current.is_hold:
                self._add_rep(self._set, ev)
                if self._set.complete and self._set.done - 1 < self._set.target:
                    self._set_done(ev.end_ms)
            return
        if self.phase is Phase.REST:
            last = self.results[self.step][-1]
            same = ev.exercise == self.current.exercise and not self.current.is_hold
            if follows and same:
                self._add_rep(last, ev)           # past the target: still counts
                return
            nxt = self._upcoming()
            if nxt is not None and ev.exercise == self.plan.steps[nxt[0]].exercise and \
                    not self.plan.steps[nxt[0]].is_hold:
                self._next_set(ev.start_ms, early=True)
                self._add_rep(self._set, ev)
                if self._set.complete:
                    self._set_done(ev.end_ms)
            elif same:                            # no set of it is next: the one just done
                self._add_rep(last, ev)
            return
        # DONE: the plan is over; reps of the last step still count to its last set
        if ev.exercise == self.current.exercise and not self.current.is_hold:
            self._add_rep(self.results[self.step][-1], ev)

    @staticmethod
    def _add_rep(s: SetResult, ev: RepCompleted) -> None:
        s.done += 1
        s.good += int(ev.good)
        if ev.form_score is not None:
            s.scores.append(float(ev.form_score))
        if s.start_ms is None:
            s.start_ms = ev.start_ms
        s.end_ms = ev.end_ms

    def _hold(self, ev: HoldUpdated) -> None:
        if ev.exercise != self.current.exercise or not self.current.is_hold:
            return
        self._hold_v = float(ev.good_s if ev.good_s is not None else ev.held_s)
        self._hold_held = float(ev.held_s)
        base_v, base_held = self._hold_base
        if self.phase is Phase.WORK:
            s = self._set
            s.done = max(0.0, self._hold_v - base_v)
            s.held_s = max(0.0, self._hold_held - base_held)
            if s.start_ms is None and ev.holding:
                s.start_ms = ev.timestamp_ms
            s.end_ms = ev.timestamp_ms
            if s.complete:
                self._extending = ev.holding
                self._set_done(ev.timestamp_ms)
        elif self._extending:
            s = self.results[self.step][-1]
            s.done = max(0.0, self._hold_v - base_v)
            s.held_s = max(0.0, self._hold_held - base_held)
            s.end_ms = ev.timestamp_ms
            self._extending = ev.holding

    def _tick(self, t: int) -> None:
        if self.phase is not Phase.REST or self._rest_until_ms is None:
            return
        left = self._rest_until_ms - t
        if not self._counted_down and 0 < left <= COUNTDOWN_S * 1000 and \
                self._rest_until_ms - (self._rest_from_ms or 0) > COUNTDOWN_S * 1000:
            self._counted_down = True
            nxt = self._upcoming()
            self._say("countdown", f"{COUNTDOWN_S} seconds"
                      + (f". Next: {self._next_words(*nxt)}" if nxt else ""))
        if left <= 0:
            self._next_set(t)

    def _next_words(self, step_i: int, set_i: int) -> str:
        step = self.plan.steps[step_i]
        if step_i == self.step:
            return f"set {set_i + 1} of {step.sets}"
        return _plural(step)

    # --- moving on ----------------------------------------------------------------------------
    def _set_done(self, t: int) -> None:
        self._set.end_ms = self._set.end_ms or t
        nxt = self._upcoming()
        rest = self.current.rest_s if nxt is not None and nxt[0] == self.step \
            else self.current.rest_after
        if nxt is None and rest <= 0:
            self.phase = Phase.DONE
            self._say("done", "Set done. Workout complete!")
            return
        self.phase = Phase.REST        # after the last set too: its rest, then the summary
        self._rest_from_ms = t
        self._rest_until_ms = t + int(round(rest * 1000))
        self._counted_down = False
        then = f"Next: {self._next_words(*nxt)}" if nxt is not None else "Then the summary"
        if rest <= 0:
            self._say("set_done", f"Set done. {then}")
            self._next_set(t)
            return
        self._say("set_done", f"Set done. Rest {_n(rest)} seconds. {then}")

    def _next_set(self, t: int, early: bool = False) -> None:
        nxt = self._upcoming()
        if nxt is None:
            self.phase = Phase.DONE
            self._rest_from_ms = self._rest_until_ms = None
            self._say("done", "Workout complete!")
            return
        new_step = nxt[0] != self.step
        self.step, self.set = nxt
        self.phase = Phase.WORK
        self._rest_from_ms = self._rest_until_ms = None
        self._extending = False
        self._open(t)
        step = self.current
        if new_step:
            self._say("go", f"{step.display}: {self._target_words(step)}"
                      + (f", {step.sets} sets" if step.sets > 1 else ""))
        elif not early:
            self._say("go", f"Set {self.set + 1} of {step.sets}: {self._target_words(step)}")

    # --- the buttons --------------------------------------------------------------------------
    def skip(self, t_ms: int) -> list[dict[str, str]]:
        """During a set: end it as it is (short). During a rest: end the rest."""
        self._now = t_ms
        if self.phase is Phase.WORK:
            self._set.skipped = not self._set.complete
            self._set.end_ms = self._set.end_ms or t_ms
            self._set_done(t_ms)
        elif self.phase is Phase.REST:
            self._next_set(t_ms)
        return self.take_prompts()

    def add_rest(self, t_ms: int, seconds: float = ADD_REST_S) -> list[dict[str, str]]:
        """A longer rest (+30 s); nothing outside a rest."""
        if self.phase is Phase.REST and self._rest_until_ms is not None:
            self._rest_until_ms += int(round(seconds * 1000))
            if self._rest_until_ms - t_ms > COUNTDOWN_S * 1000:
                self._counted_down = False
            self._say("rest", f"{_n(seconds)} more seconds")
        return self.take_prompts()

    def finish(self, t_ms: int) -> list[dict[str, str]]:
        """The session ended: the plan stops where it is."""
        self._now = t_ms
        self.phase = Phase.DONE
        return self.take_prompts()

    # --- what a screen shows ------------------------------------------------------------------
    def state(self, t_ms: int | None = None) -> dict[str, Any]:
        t = self._now if t_ms is None else t_ms
        step = self.current
        shown = self.results[self.step][-1]
        unit = " s" if step.is_hold else ""
        d: dict[str, Any] = {
            "plan": self.plan.name, "plan_id": self.plan.id, "phase": self.phase.value,
            "step": self.step + 1, "steps": len(self.plan.steps), "set": self.set + 1,
            "sets": step.sets, "exercise": step.exercise, "display": step.display,
            "hold": step.is_hold, "target": _n(step.target), "done": int(shown.done),
            "progress": f"{int(shown.done)}/{_n(step.target)}{unit}",
            "title": f"{step.display} · set {self.set + 1} of {step.sets}",
            "rest_left_s": None, "rest_s": None, "next": None,
        }
        if self.phase is Phase.REST and self._rest_until_ms is not None:
            d["rest_left_s"] = max(0.0, round((self._rest_until_ms - (t or 0)) / 1000.0, 1))
            d["rest_s"] = round((self._rest_until_ms - (self._rest_from_ms or 0)) / 1000.0, 1)
        nxt = self._upcoming()
        if nxt is not None and self.phase is not Phase.DONE:
            s = self.plan.steps[nxt[0]]
            d["next"] = {"exercise": s.exercise, "display": s.display, "set": nxt[1] + 1,
                         "sets": s.sets, "target": _n(s.target), "hold": s.is_hold,
                         "text": f"{s.display} · set {nxt[1] + 1} of {s.sets}: "
                                 f"{self._target_words(s)}"}
        return d

    def result(self) -> dict[str, Any]:
        """Done against planned, per step: sets, reps (or seconds held), form; and the plan's
        adherence (the planned reps and seconds done, each set counted up to its target)."""
        steps = []
        planned = done = 0.0
        for i, step in enumerate(self.plan.steps):
            sets = [s for s in self.results[i] if s.done > 0 or s.complete or s.skipped]
            scores = [x for s in sets for x in s.scores]
            reps = sum(s.done for s in sets)
            planned += step.sets * step.target
            done += sum(min(s.done, s.target) for s in sets[:step.sets])
            entry: dict[str, Any] = {
                "exercise": step.exercise, "display": step.display, "hold": step.is_hold,
                "planned_sets": step.sets, "target": _n(step.target),
                "sets_done": sum(s.complete for s in sets),
                "planned_total": _n(step.sets * step.target), "done_total": _n(round(reps, 1)),
                "sets": [s.to_dict(step.is_hold) for s in sets],
                "complete": sum(s.complete for s in sets) >= step.sets,
            }
            if step.is_hold:
                held = sum(s.held_s for s in sets)
                entry["good_share"] = round(reps / held, 3) if held > 0 else None
            else:
                good = sum(s.good for s in sets)
                entry["good_reps"] = good
                entry["good_share"] = round(good / reps, 3) if reps else None
                entry["form_score"] = round(sum(scores) / len(scores), 3) if scores else None
            steps.append(entry)
        return {"plan_id": self.plan.id, "name": self.plan.name,
                "adherence": round(done / planned, 3) if planned else 0.0,
                "complete": all(s["complete"] for s in steps), "steps": steps}


__all__ = ["ADD_REST_S", "COUNTDOWN_S", "FOLLOW_MS", "Guide", "Phase", "SetResult"]
