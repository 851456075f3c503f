"""StoreSink: a session's events into the history store, off the live loop.

``emit`` only puts the events on a queue; a writer thread turns them into rows and commits them in
small transactions at most ``flush_s`` apart (0.25 s), so a crash of the process loses at most the
last fraction of a second. The writer also beats a heartbeat into the session row; a session whose
process died stays ``live`` in the database until the next ``Store`` opens it and marks it
``interrupted``. ``close`` (called by ``Session.finish``) writes the rest and marks it ``ended``.
"""

from __future__ import annotations

import logging
import math
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, update
from sqlalchemy.engine import Connection

from repsense.engine.events import (Event, ExerciseDetected, FormWarning, HoldUpdated, RepCompleted,
                                    SessionEnded, SetCompleted)
from repsense.store import schema as S
from repsense.store.db import DEFAULT_PROFILE, HOST, Store
from repsense.store.stats import session_stats

log = logging.getLogger(__name__)

FLUSH_S = 0.25       # the longest time an event waits in memory
HEARTBEAT_S = 5.0    # the session row is touched this often while nothing happens
_CLOSE = object()


def _num(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


@dataclass(frozen=True)
class _Profile:
    name: str


class StoreSink:
    """An EventSink that stores one session. ``kind``: live, video, recording or imu. A session
    that ends with nothing counted, held or cued is removed at ``close`` (a page opened and
    closed, a video without a person) unless ``keep_empty``. ``plan_result``: a guided session's
    result (Guide.result), stored with it as it ends."""

    def __init__(self, store: Store, *, session_id: str | None = None, profile: str | None = None,
                 source: str = "", kind: str = "live", exercise: str = "auto",
                 started_at: float | None = None, flush_s: float = FLUSH_S,
                 keep_empty: bool = False,
                 plan_result: Callable[[], dict[str, Any] | None] | None = None) -> None:
        self.store = store
        self.session_id = session_id or uuid.uuid4().hex[:12]
        self.profile = profile or DEFAULT_PROFILE
        self.flush_s = flush_s
        self.keep_empty = keep_empty
        # a guided session: what was planned and done, read as the session ends (docs/plans.md)
        self.plan_result = plan_result
        self._meta = {"id": self.session_id, "profile": self.profile, "kind": kind,
                      "source": source, "exercise_option": exercise,
                      "started_at": started_at if started_at is not None else time.time(),
                      "status": "live", "total_reps": 0, "host": HOST, "pid": os.getpid()}
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._rep_idx = self._set_idx = self._hold_idx = self._cue_idx = 0
        self._hold_open: dict[str, int] = {}      # exercise -> idx of its hold row
        self._hold_written: set[int] = set()
        self._total = 0
        # The session so far, for its derived session_stats / session_faults rows.
        self._reps: list[dict[str, Any]] = []
        self._sets: list[dict[str, Any]] = []
        self._holds: dict[int, dict[str, Any]] = {}
        self.error: BaseException | None = None
        self.closed = False
        self._thread = threading.Thread(target=self._run, name=f"store-{self.session_id}",
                                        daemon=True)
        self._thread.start()

    # --- the live side: never blocks ------------------------------------------------------------
    def emit(self, events: Sequence[Event]) -> None:
        if self.error is not None:
            raise RuntimeError(f"history store writer failed: {self.error}")
        self._queue.put(list(events))

    def set_profile(self, profile: str) -> None:
        """Store the session under ``profile`` (a person named on the page after it started)."""
        self.profile = profile
        self._queue.put(_Profile(profile))

    def close(self) -> None:
        """Write what is queued, mark the session ended, stop the writer (waits for it)."""
        if self.closed:
            return
        self.closed = True
        self._queue.put(_CLOSE)
        self._thread.join()
        if self.error is not None:
            raise RuntimeError(f"history store writer failed: {self.error}")

    # --- the writer thread -------------------------------------------------------------------
    def _run(self) -> None:
        try:
            with self.store.engine.begin() as conn:
                Store.ensure_profile(conn, self.profile)
                conn.execute(S.sessions.insert().values(**self._meta,
                                                        heartbeat_at=time.time()))
            last_beat = time.monotonic()
            done = False
            while not done:
                batch: list[Event] = []
                try:
                    item = self._queue.get(timeout=HEARTBEAT_S)
                except queue.Empty:
                    item = None
                deadline = time.monotonic() + self.flush_s
                while item is not None:
                    if item is _CLOSE:
                        done = True
                        break
                    if isinstance(item, _Profile):
                        with self.store.engine.begin() as conn:
                            Store.ensure_profile(conn, item.name)
                            conn.execute(S.sessions.update().where(
                                S.sessions.c.id == self.session_id).values(profile=item.name))
                        item = None
                        break
                    batch.extend(item)
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    try:
                        item = self._queue.get(timeout=left)
                    except queue.Empty:
                        item = None
                if batch or done or time.monotonic() - last_beat >= HEARTBEAT_S:
                    with self.store.engine.begin() as conn:
                        self._write(conn, batch, done)
                    last_beat = time.monotonic()
        except BaseException as exc:  # noqa: BLE001 - reported to the session through emit
            log.exception("history store writer of session %s failed", self.session_id)
            self.error = exc

    def _write(self, conn: Connection, events: list[Event], done: bool) -> None:
        sid = self.session_id
        for ev in events:
            if isinstance(ev, RepCompleted):
                self._rep_idx += 1
                self._total += 1
                row = dict(
                    idx=self._rep_idx, exercise=ev.exercise, count=ev.count,
                    t_ms=ev.timestamp_ms, start_ms=ev.start_ms, bottom_ms=ev.bottom_ms,
                    end_ms=ev.end_ms, concentric_s=float(ev.concentric_s),
                    eccentric_s=float(ev.eccentric_s), pause_s=float(ev.pause_s),
                    rom_deg=_num(ev.rom_deg), rom_pct=_num(ev.rom_pct),
                    form_score=_num(ev.form_score), good=bool(ev.good))
                conn.execute(S.reps.insert().values(session_id=sid, **row))
                spans = list(ev.fault_spans) + [(ev.end_ms, ev.end_ms)] * len(ev.faults)
                faults = [{"code": code, "start_ms": int(a), "end_ms": int(b)}
                          for code, (a, b) in zip(ev.faults, spans)]
                if faults:
                    conn.execute(S.rep_faults.insert(), [
                        {"session_id": sid, "rep_idx": self._rep_idx, "n": n, **f}
                        for n, f in enumerate(faults)])
                self._reps.append({**row, "faults": faults})
            elif isinstance(ev, SetCompleted):
                self._set_idx += 1
                row = dict(idx=self._set_idx, exercise=ev.exercise, reps=ev.reps,
                           good_reps=ev.good_reps, start_ms=ev.start_ms, end_ms=ev.end_ms,
                           tut_s=_num(ev.tut_s), rest_before_s=_num(ev.rest_before_s))
                conn.execute(S.sets.insert().values(session_id=sid, **row))
                self._sets.append(row)
                conn.execute(update(S.reps).where(and_(
                    S.reps.c.session_id == sid, S.reps.c.set_idx.is_(None),
                    S.reps.c.exercise == ev.exercise, S.reps.c.end_ms <= ev.end_ms))
                    .values(set_idx=self._set_idx))
            elif isinstance(ev, HoldUpdated):
                self._hold(conn, ev)
            elif isinstance(ev, ExerciseDetected):
                self._hold_open.clear()     # a later hold of the same exercise is a new one
            elif isinstance(ev, FormWarning):
                self._cue_idx += 1
                conn.execute(S.cues.insert().values(
                    session_id=sid, idx=self._cue_idx, t_ms=ev.timestamp_ms,
                    exercise=ev.exercise, code=ev.code, message=ev.message,
                    severity=ev.severity, rep=ev.rep))
            elif isinstance(ev, SessionEnded):
                self._total = max(self._total, ev.total_reps)
        if events:
            stats, faults = session_stats(sid, self._reps, self._sets, list(self._holds.values()))
            conn.execute(S.session_stats.delete().where(S.session_stats.c.session_id == sid))
            conn.execute(S.session_faults.delete().where(S.session_faults.c.session_id == sid))
            if stats:
                conn.execute(S.session_stats.insert(), stats)
            if faults:
                conn.execute(S.session_faults.insert(), faults)
        values: dict[str, Any] = {"heartbeat_at": time.time(), "total_reps": self._total}
        if done and not self.keep_empty and not (self._rep_idx or self._holds or self._cue_idx):
            conn.execute(S.sessions.delete().where(S.sessions.c.id == sid))
            return
        if done:
            values.update(status="ended", ended_at=time.time())
            result = self.plan_result() if self.plan_result is not None else None
            if result is not None:
                from repsense.store.plans import record_result

                record_result(conn, sid, result)
        conn.execute(update(S.sessions).where(S.sessions.c.id == sid).values(**values))

    def _hold(self, conn: Connection, ev: HoldUpdated) -> None:
        if ev.held_s <= 0:
            return
        idx = self._hold_open.get(ev.exercise)
        if idx is None:
            self._hold_idx += 1
            idx = self._hold_open[ev.exercise] = self._hold_idx
        start = int(ev.timestamp_ms - ev.held_s * 1000)
        row = {"exercise": ev.exercise, "end_ms": ev.timestamp_ms, "held_s": float(ev.held_s),
               "good_s": _num(ev.good_s)}
        if idx in self._hold_written:
            conn.execute(update(S.holds).where(and_(S.holds.c.session_id == self.session_id,
                                                    S.holds.c.idx == idx)).values(**row))
        else:
            conn.execute(S.holds.insert().values(session_id=self.session_id, idx=idx,
                                                 start_ms=start, **row))
            self._hold_written.add(idx)
        self._holds[idx] = {"idx": idx, **row}


def store_events(store: Store, events: Sequence[Event], **meta: Any) -> str:
    """Store a finished run's events as one session (e.g. an IMU recording: ``kind="imu"``);
    ``meta`` as StoreSink takes it. Returns the session id."""
    sink = StoreSink(store, **meta)
    sink.emit(events)
    sink.close()
    return sink.session_id


__all__ = ["FLUSH_S", "StoreSink", "store_events"]
