"""Live sessions of the web app: the WebSocket protocol (docs/web.md) over repsense.session.Session.

Nothing here knows about sockets: ``LiveSession.handle(message)`` takes one decoded client message
and returns the answers, so the protocol is tested in-process and the server stays a thin shell.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from repsense.engine.events import Event, ExerciseDetected, RepCompleted
from repsense.engine.form import fault_landmarks
from repsense.errors import InputError
from repsense.plans import Guide, Plan, parse_plan
from repsense.imu.browser import MotionResampler, parse_rows
from repsense.pose import missing_pose
from repsense.session import EventSink, PeopleSession, Session
from repsense.sinks.words import phase_words
from repsense.sources.landmarks import pose_from_json, time_from_json

log = logging.getLogger(__name__)

MAX_TEXT_BYTES = 1 << 20        # one text message
MAX_BINARY_BYTES = 4 << 20      # one JPEG frame
MAX_BATCH = 3000                # poses in one `poses` message (100 s at 30 fps)
MAX_MOTION = 30000              # raw sensor rows in one `motion` message (5 min at 100 Hz)
DETACHED_TTL_S = 600.0          # a session nobody is connected to ends after this
KEEP_ENDED = 200                # ended sessions kept in memory for the API
PROFILE_NAME = re.compile(r"[\w .-]{1,64}")
MAX_PEOPLE = 6                  # people one page follows ("people" of a start message)


class ProtocolError(Exception):
    """A client message the server cannot take; becomes an ``error`` frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def frame(self) -> dict[str, Any]:
        return {"type": "error", "code": self.code, "message": self.message}


def parse_landmarks(value: Any) -> np.ndarray:
    try:
        return pose_from_json(value)
    except InputError as exc:
        raise ProtocolError("bad_pose", str(exc)) from None


def _time(value: Any) -> float:
    try:
        return time_from_json(value)
    except InputError as exc:
        raise ProtocolError("bad_time", str(exc)) from None


def plan_json(plan: Plan) -> dict[str, Any]:
    """A plan as the page reads it: its steps with their display names."""
    d = plan.to_dict()
    for s, step in zip(d["steps"], plan.steps):
        s["display"] = step.display
        s["hold"] = step.is_hold
    return d


def parse_people(value: Any) -> list[np.ndarray]:
    """The poses of one frame with several people: a list of landmark lists (empty: nobody)."""
    if not isinstance(value, list):
        raise ProtocolError("bad_pose", "'people' must be a list of poses (landmark lists)")
    if len(value) > MAX_PEOPLE:
        raise ProtocolError("bad_pose", f"at most {MAX_PEOPLE} poses in a frame")
    return [parse_landmarks(v) for v in value]


def state_of(session: Session, confidence: float | None = None) -> dict[str, Any]:
    """What the page shows of a session after a frame."""
    st = session.state()
    counter = getattr(session.tracker, "counter", None)
    spec = getattr(counter, "spec", None)
    joints = fault_landmarks(spec, st.faults) if spec is not None else []
    return {"exercise": st.exercise, "confidence": confidence,
            "phase": st.phase, "phase_words": phase_words(st.exercise, st.phase),
            "count": st.count,
            "total_reps": st.total_reps, "faults": list(st.faults),
            "fault_joints": joints, "person": st.person, "kind": session.kind}


def summary_of(session: Session) -> dict[str, Any]:
    """The session's report as JSON, with time under tension and duration."""
    doc = session.report().to_dict()
    doc["time_under_tension_s"] = round(sum(e.duration_s for e in session.reps), 2)
    doc["duration_s"] = round(((session.last_ms or 0) - (session.first_ms or 0)) / 1000.0, 2)
    return doc


def brief_of(session: Session) -> dict[str, Any]:
    """One line of the session list."""
    report = session.report()
    return {
        "id": session.id, "started_at": session.started_at, "ended_at": session.ended_at,
        "source": session.source, "exercise": session.exercise_option, "kind": session.kind,
        "live": not session.ended, "total_reps": report.total_reps,
        "exercises": [{"name": e.name, "reps": e.reps, "good_reps": e.good_reps,
                       "hold_s": e.hold_s} for e in report.exercises],
    }


@dataclass
class LiveSession:
    """A Session driven by client messages. The client's clock (``t``, ms) is made relative to
    the first pose, so a page reload that resumes the session keeps time going forward."""

    session: Session
    mode: str = "landmarks"
    origin_ms: float | None = None
    attached: int = 0
    detached_at: float | None = None
    pose_estimator: Callable[[bytes, int], np.ndarray | None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    confidence: float | None = None     # of the exercise being counted (auto: the recogniser's)
    motion: MotionResampler | None = None   # sensors: raw browser rows -> 10 Hz model samples
    last_pose_ms: int | None = None
    # several people (start with "people": N > 1): one session per person; ``session`` then only
    # names the camera's session (its id, its end) and is fed nothing
    people: PeopleSession | None = None

    @property
    def id(self) -> str:
        return self.session.id

    def started(self, resumed: bool) -> dict[str, Any]:
        d = {"type": "started", "session": self.id, "exercise": self.session.exercise_option,
             "resumed": resumed, "state": self.state(), "summary": summary_of(self.session),
             "recording": self.session.recording_on, "mode": self.mode}
        if self.session.guide is not None:
            d["plan"] = plan_json(self.session.guide.plan)
            d["guide"] = self.session.guide.state()
            d["prompts"] = self.session.take_prompts()
        if self.people is not None:
            d["max_people"] = self.people.max_people
            d["people"] = self.people_json()
        return d

    def state(self) -> dict[str, Any]:
        return state_of(self.session, self.confidence)

    def sensor(self) -> dict[str, Any]:
        """How the motion stream is going (sensors and paired sessions)."""
        m = self.motion
        return {"events": m.events if m else 0, "dropped": m.dropped if m else 0,
                "steps": getattr(self.session.tracker, "steps", None)}

    def finish(self) -> None:
        """End the session (and every person's)."""
        if self.people is not None:
            self.people.finish()
        self.session.finish()

    def people_json(self, events: dict[int, list[Event]] | None = None) -> list[dict[str, Any]]:
        """Each person's id, name, state and (this frame's) events, in id order."""
        assert self.people is not None
        index = self.people.last_index
        return [{"person": pid, "profile": s.profile, "state": state_of(s),
                 "pose": index.get(pid),   # which pose of the frame sent is theirs (None: unseen)
                 "events": [_event_json(e) for e in (events or {}).get(pid, [])]}
                for pid, s in sorted(self.people.sessions.items())]

    def feed_people(self, t_client: float, poses: list[np.ndarray]) -> dict[int, list[Event]]:
        """Feed one frame's poses (several people) at the client's time."""
        assert self.people is not None
        if self.origin_ms is None:
            self.origin_ms = t_client
        t = int(round(t_client - self.origin_ms))
        last = self.people.last_t
        if t < 0 or (last is not None and t <= last):
            raise ProtocolError("bad_time", f"time went backwards or repeated: t={t_client:.0f} "
                                f"is not after the last pose")
        try:
            return self.people.feed(poses, t)
        except InputError as exc:
            raise ProtocolError("bad_pose", str(exc)) from None

    def _people_frame(self, seq: Any, t: float, events: dict[int, list[Event]],
                      t0: float) -> dict[str, Any]:
        frame = self._frame(seq, t, [], t0)
        frame["people"] = self.people_json(events)
        return frame

    def _handle_people(self, kind: str, msg: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The messages that differ with several people; None: handled as for one."""
        assert self.people is not None
        if kind == "pose":
            t0 = time.perf_counter()
            poses = parse_people(msg.get("people"))
            t = _time(msg.get("t"))
            with self.lock:
                events = self.feed_people(t, poses)
                return [self._people_frame(msg.get("seq"), t, events, t0)]
        if kind == "poses":
            raise ProtocolError("bad_message", "with several people send one 'pose' a frame")
        if kind == "name":
            person, profile = msg.get("person"), msg.get("profile")
            if not isinstance(profile, str) or not PROFILE_NAME.fullmatch(profile):
                raise ProtocolError("bad_message", "profile must be a name of 1-64 letters, "
                                    "digits, spaces, '.', '_' or '-'")
            with self.lock:
                session = self.people.sessions.get(person) if isinstance(person, int) else None
                if session is None:
                    raise ProtocolError("bad_message", f"no person {person!r} in this session")
                session.profile = profile
                for sink in session.sinks:
                    rename = getattr(sink, "set_profile", None)
                    if rename is not None:
                        rename(profile)
                return [{"type": "named", "person": person, "profile": profile}]
        if kind == "end":
            with self.lock:
                ended = self.people.finish()
                self.session.finish()
                return [{"type": "ended", "session": self.id, "state": self.state(),
                         "events": [], "summary": summary_of(self.session),
                         "people": [{**p, "events": [_event_json(e) for e in ended[p["person"]]],
                                     "summary": summary_of(self.people.sessions[p["person"]])}
                                    for p in self.people_json()]}]
        return None

    def feed(self, t_client: float, pose: np.ndarray) -> list[Event]:
        """Feed one pose at the client's time; errors leave the session as it was."""
        if self.origin_ms is None:
            self.origin_ms = t_client
        t = int(round(t_client - self.origin_ms))
        if t < 0 or (self.last_pose_ms is not None and t <= self.last_pose_ms):
            raise ProtocolError("bad_time", f"time went backwards or repeated: t={t_client:.0f} "
                                f"is not after the last pose")
        if self.session.kind == "imu":
            raise ProtocolError("bad_message", "this is a sensor session: send 'motion'")
        try:
            events = self.session.feed(pose, t)
        except InputError as exc:
            raise ProtocolError("bad_pose", str(exc)) from None
        self.last_pose_ms = t
        self._confidence(events)
        return events

    def _confidence(self, events: list[Event]) -> None:
        for e in events:
            if isinstance(e, ExerciseDetected):
                self.confidence = round(float(e.confidence), 3)

    def feed_motion(self, rows: list[list[float]]) -> list[Event]:
        """Raw browser sensor rows (repsense.imu.browser.RAW_FIELDS) through the resampler into
        the session's sensor engine."""
        if self.motion is None:
            raise ProtocolError("bad_message", "this session takes no motion samples; start it "
                                "with mode 'sensors'")
        events: list[Event] = []
        for row in rows:
            if self.origin_ms is None:
                self.origin_ms = row[0]
            for sample, t in self.motion.push(row):
                t_rel = int(round(t - self.origin_ms))
                if t_rel < 0:
                    continue   # before the session began (a clock set back): nothing to count
                events += self.session.feed(sample, t_rel)
        self._confidence(events)
        return events

    def handle(self, msg: Any) -> list[dict[str, Any]]:
        """Answers to one decoded text message (not ``start``: the manager handles that)."""
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            raise ProtocolError("bad_message", "a message is a JSON object with a 'type'")
        kind = msg["type"]
        if kind == "ping":
            return [{"type": "pong"}]
        if self.session.ended and kind in ("pose", "poses", "record", "motion", "name"):
            raise ProtocolError("ended", f"session {self.id} has ended; start a new one")
        if self.people is not None:
            answer = self._handle_people(kind, msg)
            if answer is not None:
                return answer
        if kind == "pose":
            t0 = time.perf_counter()
            pose = parse_landmarks(msg.get("landmarks"))
            t = _time(msg.get("t"))
            with self.lock:
                events = self.feed(t, pose)
                return [self._frame(msg.get("seq"), t, events, t0)]
        if kind == "poses":
            t0 = time.perf_counter()
            frames = msg.get("frames")
            if not isinstance(frames, list) or not frames:
                raise ProtocolError("bad_message", "poses needs a non-empty list 'frames'")
            if len(frames) > MAX_BATCH:
                raise ProtocolError("too_large", f"at most {MAX_BATCH} poses in one message")
            parsed = []
            for f in frames:
                if not isinstance(f, dict):
                    raise ProtocolError("bad_message", "each frame is {t, landmarks}")
                parsed.append((_time(f.get("t")), parse_landmarks(f.get("landmarks")), f.get("seq")))
            events: list[Event] = []
            errors: list[dict[str, Any]] = []
            with self.lock:
                for t, pose, _ in parsed:
                    try:
                        events.extend(self.feed(t, pose))
                    except ProtocolError as exc:   # one bad frame of a batch: skip it, say so
                        errors.append(exc.frame())
                last_t, last_seq = parsed[-1][0], parsed[-1][2]
                return errors[:1] + [self._frame(last_seq, last_t, events, t0)]
        if kind == "motion":
            t0 = time.perf_counter()
            try:
                rows = parse_rows(msg.get("samples"), MAX_MOTION)
            except InputError as exc:
                raise ProtocolError("bad_motion", str(exc)) from None
            with self.lock:
                events = self.feed_motion(rows)
                frame = self._frame(msg.get("seq"), rows[-1][0], events, t0)
                frame["sensor"] = self.sensor()
                return [frame]
        if kind == "record":
            on = msg.get("on")
            if not isinstance(on, bool):
                raise ProtocolError("bad_message", "record needs 'on': true or false")
            if self.session.kind != "pose":
                raise ProtocolError("bad_message", "only camera sessions record poses")
            with self.lock:
                self.session.recording_on = on
                return [{"type": "recording", "on": on, "frames": self.session.recorded_frames}]
        if kind == "plan":
            action = msg.get("action")
            if self.session.guide is None:
                raise ProtocolError("no_plan", "this session follows no plan")
            if action not in ("skip", "add_rest"):
                raise ProtocolError("bad_message", "plan needs 'action': 'skip' or 'add_rest'")
            with self.lock:
                self.session.guide_action(action)
                return [{"type": "guide", "guide": self.session.guide.state(),
                         "prompts": self.session.take_prompts()}]
        if kind == "end":
            with self.lock:
                events = []
                if self.motion is not None and self.origin_ms is not None:
                    for sample, t in self.motion.flush():   # the step being filled
                        events += self.session.feed(sample, int(round(t - self.origin_ms)))
                events += self.session.finish()
                ended = {"type": "ended", "session": self.id, "state": self.state(),
                         "events": [self._event_json(e) for e in events],
                         "summary": summary_of(self.session)}
                if self.session.guide is not None:
                    ended["guide"] = self.session.guide.state()
                    ended["prompts"] = self.session.take_prompts()
                    ended["plan_result"] = self.session.guide.result()
                return [ended]
        if kind == "start":
            raise ProtocolError("bad_message", "this connection already has a session")
        raise ProtocolError("bad_message", f"unknown message type {kind!r}")

    def handle_frame(self, data: bytes) -> list[dict[str, Any]]:
        """A binary message: 8 bytes big-endian ``t`` (ms) then a JPEG (frames mode)."""
        t0 = time.perf_counter()
        if self.pose_estimator is None:
            raise ProtocolError("pose_failed", "the server runs no pose model for this session")
        if len(data) < 9:
            raise ProtocolError("bad_message", "a frame is 8 bytes of time then a JPEG")
        t = float(int.from_bytes(data[:8], "big"))
        if self.session.ended:
            raise ProtocolError("ended", f"session {self.id} has ended; start a new one")
        with self.lock:
            offset = self.origin_ms if self.origin_ms is not None else t
            if self.session.last_ms is not None and t - offset <= self.session.last_ms:
                raise ProtocolError("bad_time", f"time went backwards or repeated: t={t:.0f} "
                                    "is not after the last frame")
            try:
                pose = self.pose_estimator(data[8:], int(round(t - offset)))
            except ProtocolError:
                raise
            except Exception as exc:  # noqa: BLE001 - the model's failure is the client's answer
                log.exception("pose model failed on a frame of session %s", self.id)
                raise ProtocolError("pose_failed", f"the pose model failed on this frame "
                                    f"({type(exc).__name__})") from None
            if pose is None:
                pose = missing_pose()
            events = self.feed(t, pose)
            frame = self._frame(None, t, events, t0)
        frame["landmarks"] = None if np.isnan(pose[:, 0]).all() else \
            np.round(np.nan_to_num(pose, nan=0.0), 4).tolist()
        return [frame]

    def _frame(self, seq: Any, t: float, events: list[Event], t0: float) -> dict[str, Any]:
        frame = {"type": "frame", "seq": seq if isinstance(seq, (int, str)) else None, "t": t,
                 "state": self.state(), "events": [self._event_json(e) for e in events],
                 "latency_ms": round((time.perf_counter() - t0) * 1000.0, 3)}
        if self.session.guide is not None:
            frame["guide"] = self.session.guide.state()
            frame["prompts"] = self.session.take_prompts()
        return frame


    def _event_json(self, event: Event) -> dict[str, Any]:
        """An event as JSON; a rep of a camera-and-phone session says which one counted it."""
        d = _event_json(event)
        by = getattr(self.session.tracker, "counted_by", None)
        if by is not None and isinstance(event, RepCompleted):
            d["counted_by"] = by.get((event.start_ms, event.end_ms))
        return d


def _event_json(event: Event) -> dict[str, Any]:
    d = event.to_dict()
    if isinstance(event, RepCompleted):
        d["duration_s"] = round(event.duration_s, 3)
    for k, v in d.items():
        if isinstance(v, float) and not math.isfinite(v):
            d[k] = None
    return d


class SessionManager:
    """Every live session of the server by id, and the ended ones kept for the API."""

    def __init__(self, sink_factories: list[Callable[[Session], EventSink]] | None = None,
                 pose_estimator_factory: Callable[[], Callable[[bytes, int], np.ndarray | None]]
                 | None = None,
                 plan_lookup: Callable[[str, str | None], Plan | None] | None = None) -> None:
        self.sink_factories = list(sink_factories or [])
        # a plan by id or name for a profile (the built-ins and, with a history, users' own)
        self.plan_lookup = plan_lookup or _builtin_plan
        self.pose_estimator_factory = pose_estimator_factory
        self.live: dict[str, LiveSession] = {}
        self.ended: dict[str, Session] = {}
        self._imu_model: Any = None
        self._lock = threading.Lock()

    def start(self, msg: dict[str, Any]) -> tuple[LiveSession, dict[str, Any]]:
        """Open a new session or resume one by id (a ``start`` message)."""
        wanted = msg.get("session")
        if wanted is not None:
            with self._lock:
                live = self.live.get(str(wanted))
            if live is not None:
                if msg.get("mode") == "sensors" and live.motion is None:
                    self._join(live)    # a phone joins a camera session
                if msg.get("mode") == "frames" and live.pose_estimator is None:
                    live.pose_estimator = self._estimator()   # the page fell back to frames
                    live.mode = "frames"
                live.attached += 1
                live.detached_at = None
                return live, live.started(resumed=True)
            if str(wanted) in self.ended:
                raise ProtocolError("ended", f"session {wanted} has ended; start a new one")
            # unknown id (the server restarted): a new session
        exercise = msg.get("exercise", "auto") or "auto"
        if not isinstance(exercise, str):
            raise ProtocolError("bad_message", "exercise must be a name")
        width, height = msg.get("width"), msg.get("height")
        size = None
        if isinstance(width, (int, float)) and isinstance(height, (int, float)) \
                and 0 < width < 100000 and 0 < height < 100000:
            size = (int(width), int(height))
        mode = msg.get("mode", "landmarks")
        if mode not in ("landmarks", "frames", "sensors"):
            raise ProtocolError("bad_message", "mode must be 'landmarks', 'frames' or 'sensors'")
        source = msg.get("source") or ("phone" if mode == "sensors" else "browser")
        profile = msg.get("profile")
        if profile is not None and (not isinstance(profile, str)
                                    or not PROFILE_NAME.fullmatch(profile)):
            raise ProtocolError("bad_message", "profile must be a name of 1-64 letters, digits, "
                                "spaces, '.', '_' or '-'")
        n_people = msg.get("people", 1)
        if not isinstance(n_people, int) or isinstance(n_people, bool) \
                or not 1 <= n_people <= MAX_PEOPLE:
            raise ProtocolError("bad_message", f"people must be 1 to {MAX_PEOPLE}")
        if n_people > 1 and mode != "landmarks":
            raise ProtocolError("bad_message", "several people need the page's pose model "
                                "(mode 'landmarks')")
        guide = self._guide(msg, profile)
        if guide is not None and mode == "sensors":
            raise ProtocolError("bad_message", "a plan is followed with the camera: a sensors "
                                "session counts without one")
        if n_people > 1 and guide is not None:
            raise ProtocolError("bad_message", "a workout plan follows one person: start with "
                                "people 1 to follow a plan")
        aspect = size[0] / size[1] if size else 1.0
        try:
            engine = self._sensor_engine() if mode == "sensors" else None
            session = Session(exercise, aspect=aspect, source=str(source)[:200], image_size=size,
                              engine=engine,
                              guide=guide)
        except InputError as exc:
            raise ProtocolError("bad_message", str(exc)) from None
        session.profile = profile
        # The demo (the bundled recording the page replays) is not the user's training: a sink
        # may leave it out (the history keeps no demo).
        session.demo = msg.get("demo") is True
        # the model before the sinks: a model that fails to load leaves nothing half-started
        estimator = self._estimator() if mode == "frames" else None
        people = None
        if n_people > 1:
            people = PeopleSession(n_people, exercise, aspect=aspect, source=session.source,
                                   sinks=self._person_sinks(profile), image_size=size)
        else:
            session.sinks.extend(self._sinks(session))
        live = LiveSession(session, mode=mode, attached=1, pose_estimator=estimator,
                           motion=MotionResampler() if mode == "sensors" else None,
                           people=people)
        with self._lock:
            self.live[session.id] = live
        return live, live.started(resumed=False)

    def _guide(self, msg: dict[str, Any], profile: str | None) -> Guide | None:
        """The guide of a ``start`` with ``plan`` (an id or name) and maybe ``targets`` (per step,
        reps or seconds: a progression accepted on the page)."""
        key = msg.get("plan")
        if key is None or key == "":
            return None
        if not isinstance(key, str):
            raise ProtocolError("bad_message", "plan must be a plan's id or name")
        plan = self.plan_lookup(key, profile)
        if plan is None:
            raise ProtocolError("bad_message", f"no plan {key!r}")
        targets = msg.get("targets")
        if targets is not None:
            if not isinstance(targets, list) or len(targets) != len(plan.steps) or not all(
                    t is None or (isinstance(t, (int, float)) and not isinstance(t, bool))
                    for t in targets):
                raise ProtocolError("bad_message", "targets is a list with a number (or null) "
                                    "per step of the plan")
            doc = {k: v for k, v in plan.to_dict().items() if k != "builtin"}
            for step, t in zip(doc["steps"], targets):
                if t is not None:
                    step["hold_s" if "hold_s" in step else "reps"] = t
            try:
                plan = parse_plan(doc, f"plan {plan.name!r}", plan_id=plan.id,
                                  builtin=plan.builtin)
            except InputError as exc:
                raise ProtocolError("bad_message", str(exc)) from None
        return Guide(plan)

    def _sensor_engine(self) -> Any:
        """A fresh IMU tracker over the shared step model (loaded once)."""
        from repsense.imu.tracker import ImuTracker

        if self._imu_model is None:
            from repsense.imu.model import StepModel

            self._imu_model = StepModel.load()
        return ImuTracker(self._imu_model)

    def _join(self, live: LiveSession) -> None:
        """A phone joins a camera session: its engine becomes the camera and phone pair."""
        from repsense.pairing import pair

        with live.lock:
            try:
                pair(live.session, self._sensor_engine())
            except InputError as exc:
                raise ProtocolError("bad_message", str(exc)) from None
            live.motion = MotionResampler()

    def _sinks(self, session: Session) -> list[EventSink]:
        sinks = []
        for factory in self.sink_factories:
            try:
                sink = factory(session)
            except Exception:  # noqa: BLE001 - a sink that cannot start must not stop the session
                log.exception("could not attach a sink to session %s", session.id)
                continue
            if sink is not None:          # None: this sink is not for this session
                sinks.append(sink)
        return sinks

    def _person_sinks(self, profile: str | None) -> Callable[[int, Session], list[EventSink]]:
        """Sinks of each person's session (stored under the page's profile until named)."""
        def make(person: int, session: Session) -> list[EventSink]:
            session.profile = profile
            return self._sinks(session)

        return make

    def _estimator(self) -> Callable[[bytes, int], np.ndarray | None]:
        if self.pose_estimator_factory is None:
            raise ProtocolError("pose_failed", "this server cannot run the pose model")
        try:
            return self.pose_estimator_factory()
        except Exception as exc:  # noqa: BLE001 - say so on the page, keep serving
            log.exception("could not load the server's pose model")
            raise ProtocolError("pose_failed", f"the server could not load its pose model "
                                f"({type(exc).__name__})") from None

    def detach(self, live: LiveSession) -> None:
        live.attached = max(0, live.attached - 1)
        if live.attached == 0:
            live.detached_at = time.monotonic()
        if live.session.ended:
            self._retire(live)

    def reap(self, now: float | None = None) -> int:
        """End sessions nobody has been connected to for DETACHED_TTL_S; returns how many."""
        now = time.monotonic() if now is None else now
        stale = [lv for lv in list(self.live.values())
                 if lv.session.ended or (lv.detached_at is not None
                                         and now - lv.detached_at > DETACHED_TTL_S)]
        for lv in stale:
            with lv.lock:
                lv.finish()
            self._retire(lv)
        return len(stale)

    def close(self) -> None:
        """End every session (server shutdown): what was counted reaches the sinks."""
        for lv in list(self.live.values()):
            with lv.lock:
                lv.finish()
            self._retire(lv)

    def get(self, session_id: str) -> Session | None:
        lv = self.live.get(session_id)
        if lv is not None:
            return lv.session
        if session_id in self.ended:
            return self.ended[session_id]
        return next((s for s in self._people_sessions() if s.id == session_id), None)

    def all(self) -> list[Session]:
        sessions = [lv.session for lv in self.live.values()] + list(self.ended.values()) + \
            self._people_sessions()
        return sorted(sessions, key=lambda s: s.started_at, reverse=True)

    def _people_sessions(self) -> list[Session]:
        """Each person's session of the live sessions that follow several people."""
        return [s for lv in list(self.live.values()) if lv.people is not None
                for s in lv.people.sessions.values()]

    def _retire(self, live: LiveSession) -> None:
        with self._lock:
            if self.live.get(live.id) is live and live.session.ended:
                del self.live[live.id]
                self.ended[live.id] = live.session
                while len(self.ended) > KEEP_ENDED:
                    self.ended.pop(next(iter(self.ended)))
                # frames-mode pose model: free it with the session
                close = getattr(live.pose_estimator, "close", None)
                live.pose_estimator = None
                if close is not None:
                    close()


def _builtin_plan(key: str, profile: str | None) -> Plan | None:
    from repsense.store.plans import find_plan

    return find_plan(None, key, profile)


def decode_text(data: str) -> Any:
    if len(data.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise ProtocolError("too_large", f"a message is at most {MAX_TEXT_BYTES} bytes")
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise ProtocolError("bad_json", "a message must be JSON") from None


__all__ = ["LiveSession", "ProtocolError", "SessionManager", "brief_of", "decode_text",
           "parse_landmarks", "summary_of"]
