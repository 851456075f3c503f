"""The session runtime: one source of timed samples -> the engine -> sinks.

There is one such loop in repsense. ``analyze`` runs a session over a whole recording as fast as it
can (:func:`analyze_recording`); the web app runs one per browser tab and feeds it landmark messages
or motion samples; a camera node runs one per camera; ``imu analyze`` and ``imu listen`` run one per
sensor recording or stream; a camera that sees several people runs a :class:`PeopleSession`,
which keeps who is who and owns one Session per person. Each fed sample goes through the engine and
the events it yields go, in order, to every sink: the speaker, the MQTT publisher, the history
store.

The engine is one of two kinds behind the small :class:`Engine` interface: ``pose`` (the camera
``Tracker``: a ``(33, 4)`` pose per frame) or ``imu`` (the wearable ``ImuTracker``: the 12 motion
channels of ``repsense.imu.recording.CHANNELS`` per sample). Sinks see the same events either way.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from repsense.engine.events import Event, RepCompleted
from repsense.engine.sets import DEFAULT_REST_S
from repsense.engine.tracker import Sample, Tracker
from repsense.errors import InputError
from repsense.plans.guide import Guide
from repsense.pose import PoseRecording, missing_pose, validate_pose
from repsense.sinks.report import (InputReport, cues_from_events, segments_from_events,
                                   sets_from_events)

if TYPE_CHECKING:
    from repsense.pose.people import PeopleRecording, PeopleTracker

log = logging.getLogger(__name__)


class Engine(Protocol):
    """What a Session drives: a pure tracker, samples in, events out.

    ``kind`` is ``pose`` or ``imu``; ``ordered`` says whether the Session must refuse a sample
    that is not later than the one before (the pose tracker) or the engine sorts late and repeated
    samples out itself (the IMU tracker bins them into 100 ms steps)."""

    kind: str
    ordered: bool
    total_reps: int

    def check(self, sample: np.ndarray) -> np.ndarray:
        """The sample as the engine takes it; InputError says what is wrong with it."""
        ...

    def present(self, sample: np.ndarray) -> bool:
        """Whether the sample saw someone (a pose with landmarks, a sensor with values)."""
        ...

    def update(self, sample: np.ndarray, timestamp_ms: int) -> list[Event]: ...

    def finish(self) -> list[Event]: ...

    def live_state(self) -> tuple[str, str, int, tuple[str, ...]]:
        """(exercise, phase, count of the current set or exercise, faults in progress)."""
        ...

    def notes(self) -> list[str]: ...


class EventSink(Protocol):
    """Where a session's events go. ``emit`` gets each frame's events in order; ``close`` once."""

    def emit(self, events: Sequence[Event]) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class FrameState:
    """What the engine shows after one frame: for screens that draw the live state."""

    timestamp_ms: int
    exercise: str
    phase: str
    count: int           # reps of the current exercise
    total_reps: int
    faults: tuple[str, ...]   # codes of the frame faults in progress
    person: bool


@dataclass
class Analysis:
    """Everything one run over a recording found: the recording, the events, the engine's trace,
    the report."""

    recording: PoseRecording
    events: list[Event]
    trace: list[Sample]
    report: InputReport
    exercise: str = ""
    frame_events: dict[int, list[Event]] = field(default_factory=dict)


class Session:
    """One person's workout from one source: feed timed samples, read events and the report.

    ``engine``: the tracker to drive (default: a pose ``Tracker`` for ``exercise``; pass an
    ``ImuTracker`` for a motion sensor). ``exercise``: a name, ``generic`` or ``auto``. While ``recording_on`` (``record`` at the
    start) every fed pose is kept, so the session can be saved as a pose recording
    (``recording()``) that ``repsense analyze`` reads. A sink that fails is logged and dropped;
    the session and the other sinks go on.
    """

    def __init__(self, exercise: str = "auto", *, aspect: float = 1.0, source: str = "",
                 sinks: Iterable[EventSink] = (), keep_trace: bool = False, record: bool = False,
                 image_size: tuple[int, int] | None = None, source_fps: float | None = None,
                 session_id: str | None = None, set_rest_s: float = DEFAULT_REST_S,
                 engine: Engine | None = None, guide: Guide | None = None) -> None:
        if guide is not None:
            exercise = guide.exercise     # a guided session counts each step's exercise
        self.id = session_id or uuid.uuid4().hex[:12]
        self.exercise_option = exercise
        self.aspect = aspect
        self.source = source
        self.profile: str | None = None   # whose session, for the history store (None: default)
        self.image_size = image_size
        self.source_fps = source_fps
        self.started_at = time.time()
        self.ended_at: float | None = None
        self.tracker: Engine = engine if engine is not None else \
            Tracker(exercise, aspect=aspect, keep_trace=keep_trace, set_rest_s=set_rest_s)
        self.sinks: list[EventSink] = list(sinks)
        self.events: list[Event] = []
        self.frame_events: dict[int, list[Event]] = {}
        self.frames = 0
        self.person_frames = 0
        self.first_ms: int | None = None
        self.last_ms: int | None = None
        self._person = False
        self.recording_on = record
        self._poses: list[np.ndarray] = []
        self._times: list[int] = []
        self.guide = guide
        # what the guide said since the last take_prompts() (for screens and voices)
        self.prompts: list[dict[str, str]] = guide.take_prompts() if guide is not None else []

    @property
    def kind(self) -> str:
        """``pose`` (camera) or ``imu`` (motion sensor): the engine's kind."""
        return self.tracker.kind

    @property
    def ended(self) -> bool:
        return self.ended_at is not None

    def feed(self, pose: np.ndarray, timestamp_ms: int) -> list[Event]:
        """Run one sample taken at ``timestamp_ms`` through the engine — a pose ``(33, 4)`` (NaN
        rows: nobody in view) or a motion sample ``(12,)`` — and return its events, which the
        sinks have also received.

        Raises InputError for a sample of the wrong shape, a time that does not increase (pose
        engine), or a session that has ended; the session's state is unchanged then.
        """
        if self.ended:
            raise InputError(f"session {self.id} has ended")
        pose = self.tracker.check(pose)
        t = int(timestamp_ms)
        if self.tracker.ordered and self.last_ms is not None and t <= self.last_ms:
            raise InputError(f"timestamps must increase: got {t} ms after {self.last_ms} ms")
        events = self.tracker.update(pose, t)
        if self.guide is not None:
            events = self._guided(events, t)
        index = self.frames
        self.frames += 1
        if self.first_ms is None:
            self.first_ms = t
        self.last_ms = t if self.last_ms is None else max(self.last_ms, t)
        self._person = self.tracker.present(pose)
        if self._person:
            self.person_frames += 1
        if self.recording_on and self.kind == "pose":
            self._poses.append(pose)
            self._times.append(t)
        if events:
            self.frame_events[index] = events
            self._deliver(events)
        return events

    def _guided(self, events: list[Event], t: int) -> list[Event]:
        """Give the frame's events to the guide; switch the engine to the exercise it leads to."""
        assert self.guide is not None
        self.prompts.extend(self.guide.update(events, t))
        if self.guide.exercise != self.tracker.exercise:
            more = self.tracker.set_exercise(self.guide.exercise)
            self.prompts.extend(self.guide.update(more, t))
            events = events + more
        return events

    def guide_action(self, action: str) -> list[dict[str, str]]:
        """A guided session's buttons: ``skip`` (end the set or the rest) or ``add_rest``
        (+30 s). Returns the prompts they make."""
        if self.guide is None:
            raise InputError("this session follows no plan")
        t = self.last_ms or 0
        if action == "skip":
            said = self.guide.skip(t)
        elif action == "add_rest":
            said = self.guide.add_rest(t)
        else:
            raise InputError(f"unknown plan action {action!r}: skip or add_rest")
        self.prompts.extend(said)
        return said

    def take_prompts(self) -> list[dict[str, str]]:
        out, self.prompts = self.prompts, []
        return out

    def run(self, poses: Iterable[tuple[np.ndarray, int]]) -> None:
        """Feed every ``(pose, timestamp_ms)`` of a source in order."""
        for pose, t in poses:
            self.feed(pose, t)

    def finish(self) -> list[Event]:
        """End the session: close open reps and holds, emit ``SessionEnded``, close the sinks.
        Calling it again does nothing."""
        if self.ended:
            return []
        events = self.tracker.finish()
        if self.guide is not None:
            self.prompts.extend(self.guide.update(events, self.last_ms or 0))
            self.prompts.extend(self.guide.finish(self.last_ms or 0))
        self.ended_at = time.time()
        self._deliver(events)
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:  # noqa: BLE001 - one sink must not take the session down
                log.exception("closing sink %r failed", sink)
        return events

    def state(self) -> FrameState:
        exercise, phase, count, faults = self.tracker.live_state()
        return FrameState(timestamp_ms=self.last_ms or 0, exercise=exercise, phase=phase,
                          count=count, total_reps=self.tracker.total_reps, faults=faults,
                          person=self._person)

    def report(self) -> InputReport:
        """The report of what was seen so far (the same as ``repsense analyze`` gives)."""
        fps = 0.0
        if self.frames > 1 and self.first_ms is not None and self.last_ms is not None \
                and self.last_ms > self.first_ms:
            fps = round((self.frames - 1) * 1000.0 / (self.last_ms - self.first_ms), 3)
        return InputReport(
            path=self.source, fps=fps, frames=self.frames, person_frames=self.person_frames,
            exercises=segments_from_events(self.events),
            source_fps=None if self.source_fps is None else round(self.source_fps, 3),
            cues=cues_from_events(self.events), sets=sets_from_events(self.events),
            notes=self.tracker.notes())

    def recording(self) -> PoseRecording:
        """The poses fed while recording was on, as a recording."""
        if self.kind != "pose":
            raise InputError(f"session {self.id} is a {self.kind} session; only camera sessions "
                             "are recorded as poses")
        if not self._poses:
            raise InputError(f"session {self.id} has recorded no poses")
        return PoseRecording(np.stack(self._poses), np.asarray(self._times, np.int64),
                             self.image_size, self.source or f"session {self.id}",
                             self.source_fps)

    @property
    def recorded_frames(self) -> int:
        return len(self._poses)

    @property
    def reps(self) -> list[RepCompleted]:
        return [e for e in self.events if isinstance(e, RepCompleted)]

    def _deliver(self, events: list[Event]) -> None:
        self.events.extend(events)
        for sink in list(self.sinks):
            try:
                sink.emit(events)
            except Exception:  # noqa: BLE001 - a failing sink is dropped, the session goes on
                log.exception("sink %r failed; it gets no more events of session %s", sink,
                              self.id)
                self.sinks.remove(sink)


def analyze_recording(rec: PoseRecording, exercise: str = "auto",
                      sinks: Iterable[EventSink] = (),
                      set_rest_s: float = DEFAULT_REST_S, guide: Guide | None = None) -> Analysis:
    """Run a session over a whole recording, as fast as it goes, and keep what plots and annotated
    videos need."""
    session = Session(exercise, aspect=rec.aspect, source=rec.source, sinks=sinks,
                      keep_trace=True, image_size=rec.image_size, source_fps=rec.source_fps,
                      set_rest_s=set_rest_s, guide=guide)
    session.run(zip(rec.landmarks, rec.timestamp_ms))
    session.finish()
    return Analysis(rec, session.events, session.tracker.trace or [], session.report(),
                    session.tracker.exercise, session.frame_events)


class PeopleSession:
    """Several people from one camera: one :class:`Session` per person, created when the person is
    first seen (someone who appears mid-video starts their own session).

    ``feed(poses, timestamp_ms)`` takes every pose the model found in a frame (no identity, any
    order); the identity tracker (:class:`repsense.pose.people.PeopleTracker`) says whose each is,
    and every person's session gets their pose, or a missing pose while they are out of view.
    ``sinks(person_id, session)`` gives the sinks of a new person's session; ``session_kwargs`` go
    to each Session (keep_trace, record, image_size, ...).
    """

    def __init__(self, max_people: int, exercise: str = "auto", *, aspect: float = 1.0,
                 source: str = "", frame_rate: float = 15.0,
                 sinks: Callable[[int, Session], Iterable[EventSink]] | None = None,
                 tracker: PeopleTracker | None = None, **session_kwargs: Any) -> None:
        from repsense.pose.people import PeopleTracker

        self.max_people = max_people
        self.exercise = exercise
        self.aspect = aspect
        self.source = source
        self.tracker = tracker or PeopleTracker(max_people, aspect=aspect, frame_rate=frame_rate)
        self._sinks = sinks
        self._kwargs = session_kwargs
        self.sessions: dict[int, Session] = {}
        self.first_ms: dict[int, int] = {}
        self.last_ms: dict[int, int] = {}
        self.frames = 0
        self.person_frames = 0      # frames in which anyone was seen
        self.ended = False
        self._last_t: int | None = None
        self.last_index: dict[int, int] = {}

    def feed(self, poses: Sequence[np.ndarray], timestamp_ms: int) -> dict[int, list[Event]]:
        """Run one frame's poses through the tracker and every person's session; returns each
        person's events of this frame (only people with events).

        Raises InputError for a pose of the wrong shape or a time that does not increase; nothing
        changes then."""
        t = int(timestamp_ms)
        if self.ended:
            raise InputError("the session has ended")
        if self._last_t is not None and t <= self._last_t:
            raise InputError(f"timestamps must increase: got {t} ms after {self._last_t} ms")
        try:
            poses = [validate_pose(np.asarray(p, np.float32)) for p in poses]
        except ValueError as exc:
            raise InputError(f"pose rejected: {exc}") from None
        self._last_t = t
        seen = self.tracker.update(poses, t)
        # which of this frame's poses is whose (for screens that colour each skeleton)
        self.last_index = {pid: next(i for i, q in enumerate(poses) if q is pose)
                           for pid, pose in seen.items()}
        for pid in sorted(seen):
            if pid not in self.sessions:
                source = f"{self.source}#person{pid}" if self.source else f"person {pid}"
                session = Session(self.exercise, aspect=self.aspect, source=source,
                                  **self._kwargs)
                if self._sinks is not None:
                    session.sinks.extend(self._sinks(pid, session))
                self.sessions[pid] = session
                self.first_ms[pid] = t
            self.last_ms[pid] = t
        self.frames += 1
        self.person_frames += bool(seen)
        out: dict[int, list[Event]] = {}
        for pid, session in self.sessions.items():
            events = session.feed(seen.get(pid, missing_pose()), t)
            if events:
                out[pid] = events
        return out

    @property
    def last_t(self) -> int | None:
        """The time of the last frame fed (ms)."""
        return self._last_t

    def finish(self) -> dict[int, list[Event]]:
        self.ended = True
        return {pid: s.finish() for pid, s in self.sessions.items()}

    def states(self) -> dict[int, FrameState]:
        return {pid: s.state() for pid, s in self.sessions.items()}


@dataclass
class PersonAnalysis:
    """One person of a several-people recording: their id, when they were in view, their run."""

    person: int
    first_s: float
    last_s: float
    analysis: Analysis


def analyze_people(rec: PeopleRecording, max_people: int, exercise: str = "auto",
                   set_rest_s: float = DEFAULT_REST_S) -> list[PersonAnalysis]:
    """Run a :class:`PeopleSession` over a several-people recording; one analysis per person,
    by id. A person's analysis covers the frames from their first appearance to the end."""
    fps = 15.0
    if len(rec) > 1:
        fps = 1000.0 * (len(rec) - 1) / float(rec.timestamp_ms[-1] - rec.timestamp_ms[0])
    people = PeopleSession(max_people, exercise, aspect=rec.aspect, source=rec.source,
                           frame_rate=fps, keep_trace=True, record=True,
                           image_size=rec.image_size, source_fps=rec.source_fps,
                           set_rest_s=set_rest_s)
    for t in range(len(rec)):
        people.feed(rec.frame(t), int(rec.timestamp_ms[t]))
    people.finish()
    out = []
    for pid, session in sorted(people.sessions.items()):
        analysis = Analysis(session.recording(), session.events, session.tracker.trace or [],
                            session.report(), session.tracker.exercise, session.frame_events)
        out.append(PersonAnalysis(pid, people.first_ms[pid] / 1000.0, people.last_ms[pid] / 1000.0,
                                  analysis))
    return out


__all__ = ["Analysis", "Engine", "EventSink", "FrameState", "PeopleSession", "PersonAnalysis",
           "Session", "analyze_people", "analyze_recording"]
