"""Camera and phone in one session: two engines behind the session's one Engine interface.

Both engines count all along, each on its own input (poses from the camera, motion samples from
the phone on the arm). A rep either one counts is a candidate; the session counts each rep once:

- Two candidates from the two sources are **the same rep** when their time spans overlap by at
  least ``OVERLAP`` of the shorter one. Of the two, the session keeps the rep of the source that
  is **more sure**: the one whose latest ``ExerciseDetected`` confidence for its exercise is
  higher (the camera's recogniser, or 1.0 for a chosen exercise; the phone's share of exercise
  probability over the rep); on a tie the camera's, which also judges form.
- A rep only one source counted is kept (the other missed it: out of view, phone loose).
- The phone reports a rep about 4 s after it ends, the camera at once; so a camera rep waits
  until the phone could have reported the same rep (its stream has passed the rep's end by its
  latency) or the phone has stopped sending; a phone rep waits for the camera likewise. A rep
  that arrives after its twin was already counted is a duplicate and dropped.

Every counted rep says which source counted it (``counted_by``: rep ``(start_ms, end_ms)`` ->
``camera`` / ``phone``); the report's notes give the split. Sets are made again over the counted
reps (``SetKeeper``), since each engine's own sets see only its reps. Form cues, holds and the
exercise announcements are the camera's (the phone's announcements pass while the camera sees
nobody).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from repsense.engine.events import (Event, ExerciseDetected, PersonLost, RepCompleted,
                                    SessionEnded, SetCompleted)
from repsense.engine.sets import DEFAULT_REST_S, SetKeeper
from repsense.errors import InputError

CAMERA, PHONE = "camera", "phone"
OVERLAP = 0.3            # share of the shorter rep two reps must share to be one
IDLE_MS = 3000           # a source without input (a person, valid samples) this long confirms nothing
CAMERA_LAG_MS = 1000     # how long after a rep's end the camera has reported it


@dataclasses.dataclass
class _Candidate:
    source: str
    rep: RepCompleted
    confidence: float


class PairedEngine:
    """A camera engine (``kind`` pose) and a sensor engine (``kind`` imu) as one engine."""

    kind = "pair"
    ordered = False     # two clocks; the camera's order is checked here

    def __init__(self, camera: Any, sensor: Any, set_rest_s: float = DEFAULT_REST_S,
                 sensor_lag_ms: int | None = None) -> None:
        self.engines = {CAMERA: camera, PHONE: sensor}
        self.lag = {CAMERA: CAMERA_LAG_MS,
                    PHONE: sensor_lag_ms if sensor_lag_ms is not None
                    else int(getattr(sensor, "latency_ms", 4000)) + 500}
        self.confidence = {CAMERA: 1.0 if camera.exercise not in ("auto", "idle") else 0.5,
                           PHONE: 0.5}
        self.last_input: dict[str, int | None] = {CAMERA: None, PHONE: None}
        self.last_present: dict[str, int | None] = {CAMERA: None, PHONE: None}
        self._held: list[_Candidate] = []
        self._counted: list[_Candidate] = []
        self.counted_by: dict[tuple[int, int], str] = {}
        self.duplicates = 0
        self._sets = SetKeeper(set_rest_s)
        self._rest_ms = int(round(set_rest_s * 1000))
        self._last_end: int | None = None
        self.paired_at: int | None = None    # sets the camera began before the phone joined pass
        self._set_exercise: str | None = None
        self._set_count = 0
        self.total_reps = 0
        self._now = 0

    # -- Engine interface -------------------------------------------------------------------------
    def _source_of(self, sample: np.ndarray) -> str:
        shape = np.shape(sample)
        if shape == (33, 4):
            return CAMERA
        if shape == (12,):
            return PHONE
        raise InputError(f"a sample is a pose (33, 4) or 12 motion channels; got shape {shape}")

    def check(self, sample: np.ndarray) -> np.ndarray:
        return self.engines[self._source_of(sample)].check(sample)

    def present(self, sample: np.ndarray) -> bool:
        return bool(self.engines[self._source_of(sample)].present(sample))

    def update(self, sample: np.ndarray, timestamp_ms: int) -> list[Event]:
        source = self._source_of(sample)
        engine = self.engines[source]
        t = int(timestamp_ms)
        last = self.last_input[source]
        if engine.ordered and last is not None and t <= last:
            raise InputError(f"timestamps must increase: got {t} ms after {last} ms")
        events = engine.update(sample, t)
        self.last_input[source] = t if last is None else max(last, t)
        if engine.present(sample):
            self.last_present[source] = t
        self._now = max(self._now, t)
        return self._merge(source, events, t)

    def finish(self) -> list[Event]:
        out: list[Event] = []
        for source, engine in self.engines.items():
            out += self._merge(source, engine.finish(), self._now, final=True)
        out += self._release(final=True)
        out += self._sets.finish(self._now)
        out.append(SessionEnded(self._now, total_reps=self.total_reps))
        return out

    def live_state(self) -> tuple[str, str, int, tuple[str, ...]]:
        cam = self.engines[CAMERA].live_state()
        phone = self.engines[PHONE].live_state()
        lead = cam if self._sees(CAMERA) or not self._sees(PHONE) else phone
        exercise = self._set_exercise or lead[0]
        return exercise, lead[1], self._set_count, cam[3]

    def notes(self) -> list[str]:
        by = [c.source for c in self._counted]
        note = (f"camera and phone together: {by.count(CAMERA)} rep(s) counted by the camera, "
                f"{by.count(PHONE)} by the phone; {self.duplicates} counted by both were taken "
                "once, from the more sure")
        return list(self.engines[CAMERA].notes()) + [note]

    @property
    def counter(self) -> Any:
        """The camera's counter (form faults and their joints)."""
        return getattr(self.engines[CAMERA], "counter", None)

    @property
    def exercise(self) -> str:
        return self.live_state()[0]

    # -- merging -----------------------------------------------------------------------------------
    def _sees(self, source: str) -> bool:
        seen = self.last_present[source]
        return seen is not None and self._now - seen <= IDLE_MS

    def _merge(self, source: str, events: list[Event], t: int, final: bool = False) -> list[Event]:
        out: list[Event] = []
        for ev in events:
            if isinstance(ev, RepCompleted):
                self._held.append(_Candidate(source, ev, self.confidence[source]))
            elif isinstance(ev, ExerciseDetected):
                self.confidence[source] = float(ev.confidence)
                if source == CAMERA or not self._sees(CAMERA):
                    out.append(ev)
            elif isinstance(ev, SetCompleted) and source == CAMERA and \
                    self.paired_at is not None and ev.start_ms <= self.paired_at:
                out.append(ev)   # a set the camera began alone
            elif isinstance(ev, (SetCompleted, SessionEnded)):
                continue     # sets are made again over the counted reps; one SessionEnded
            elif isinstance(ev, PersonLost) and source == PHONE:
                continue     # the phone's stream paused; the camera may still see the person
            else:
                out.append(ev)
        out += self._release(final)
        return self._sets.process(out, self._now)

    @staticmethod
    def _overlap(a: RepCompleted, b: RepCompleted) -> bool:
        shared = min(a.end_ms, b.end_ms) - max(a.start_ms, b.start_ms)
        shorter = max(1, min(a.end_ms - a.start_ms, b.end_ms - b.start_ms))
        return shared >= OVERLAP * shorter

    def _settled(self, c: _Candidate) -> bool:
        """The other source can no longer report this rep's twin."""
        other = PHONE if c.source == CAMERA else CAMERA
        progress = self.last_input[other]
        return (not self._sees(other) or progress is None
                or progress >= c.rep.end_ms + self.lag[other])

    def _release(self, final: bool = False) -> list[Event]:
        out: list[Event] = []
        held = sorted(self._held, key=lambda c: c.rep.end_ms)
        used: set[int] = set()
        for i, c in enumerate(held):
            if i in used:
                continue
            if any(self._overlap(c.rep, d.rep) for d in self._counted[-8:] if d.source != c.source):
                self.duplicates += 1      # its twin was counted already
                used.add(i)
                continue
            j = next((k for k, d in enumerate(held) if k not in used and k != i
                      and d.source != c.source and self._overlap(c.rep, d.rep)), None)
            if j is not None:
                used |= {i, j}
                self.duplicates += 1
                out += self._count(max((c, held[j]),
                                       key=lambda x: (x.confidence, x.source == CAMERA)))
            elif final or self._settled(c):
                used.add(i)
                out += self._count(c)
        self._held = [c for k, c in enumerate(held) if k not in used]
        return out

    def _count(self, c: _Candidate) -> list[Event]:
        rep = c.rep
        if rep.exercise != self._set_exercise or (
                self._last_end is not None and rep.start_ms - self._last_end >= self._rest_ms):
            self._set_exercise, self._set_count = rep.exercise, 0
        self._set_count += 1
        self.total_reps += 1
        self._last_end = rep.end_ms
        self._counted.append(c)
        self.counted_by[(rep.start_ms, rep.end_ms)] = c.source
        return [dataclasses.replace(rep, count=self._set_count)]


def pair(session: Any, sensor: Any, set_rest_s: float = DEFAULT_REST_S) -> PairedEngine:
    """Join a sensor engine to a live camera session: its engine becomes the pair."""
    if session.kind != "pose":
        raise InputError(f"session {session.id} is a {session.kind} session; a phone joins a "
                         "camera session")
    engine = PairedEngine(session.tracker, sensor, set_rest_s)
    engine.last_input[CAMERA] = session.last_ms
    engine.last_present[CAMERA] = session.last_ms if session.person_frames else None
    engine._now = session.last_ms or 0
    engine.paired_at = session.last_ms
    engine.total_reps = session.tracker.total_reps
    exercise, _, count, _ = session.tracker.live_state()
    if count and session.reps:     # the camera's set in progress goes on
        engine._set_exercise, engine._set_count = exercise, count
        engine._last_end = session.reps[-1].end_ms
    session.tracker = engine
    return engine

__all__ = ["CAMERA", "PHONE", "PairedEngine", "pair"]
