"""Sets: consecutive reps of one exercise, closed by a rest without reps or a change of exercise.

``SetKeeper`` watches the engine's events frame by frame and inserts a ``SetCompleted`` where a set
ends: before the first rep of another exercise, when another exercise is recognised, once
``rest_s`` have passed since the set's last rep, and at the end of the session.
"""

from __future__ import annotations

from repsense.engine.events import Event, ExerciseDetected, RepCompleted, SetCompleted

DEFAULT_REST_S = 20.0
IDLE = "idle"


class SetKeeper:
    """Per-person set state. ``process(events, t)`` returns the frame's events with the sets that
    ended inserted in order; ``finish(t)`` closes the open set."""

    def __init__(self, rest_s: float = DEFAULT_REST_S, person_id: int = 0) -> None:
        if not rest_s > 0:
            raise ValueError(f"rest between sets must be > 0 s, got {rest_s}")
        self.rest_ms = int(round(rest_s * 1000))
        self.person_id = person_id
        self._reps: list[RepCompleted] = []
        self._last_end_ms: int | None = None   # end of the previous set, for the rest before

    def process(self, events: list[Event], t: int) -> list[Event]:
        out: list[Event] = []
        for ev in events:
            if isinstance(ev, RepCompleted) and self._reps and ev.exercise != self._reps[0].exercise:
                out += self._close(ev.timestamp_ms)
            elif isinstance(ev, ExerciseDetected) and self._reps and \
                    ev.exercise not in (IDLE, self._reps[0].exercise):
                out += self._close(ev.timestamp_ms)
            out.append(ev)
            if isinstance(ev, RepCompleted):
                self._reps.append(ev)
        if self._reps and t - self._reps[-1].end_ms >= self.rest_ms:
            out += self._close(t)
        return out

    def finish(self, t: int) -> list[Event]:
        return self._close(t)

    def _close(self, t: int) -> list[Event]:
        reps, self._reps = self._reps, []
        if not reps:
            return []
        start, end = reps[0].start_ms, reps[-1].end_ms
        rest = None if self._last_end_ms is None else max(0.0, (start - self._last_end_ms) / 1000)
        self._last_end_ms = end
        return [SetCompleted(
            max(t, end), exercise=reps[0].exercise, reps=len(reps), start_ms=start, end_ms=end,
            good_reps=sum(r.good for r in reps),
            tut_s=round(sum(r.end_ms - r.start_ms for r in reps) / 1000, 3),
            rest_before_s=None if rest is None else round(rest, 3), person_id=self.person_id)]


__all__ = ["DEFAULT_REST_S", "SetKeeper"]
