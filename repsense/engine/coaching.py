"""Coaching: which cue is said, and when. A person wants to hear what to fix, once, soon, and not
again and again: faults found by repsense.engine.form and camera problems become FormWarning events
through a scheduler with a cooldown per cue, hysteresis (a fault must clear before it is news
again), a gap between any two cues, and the most severe cue first.

Pure state machines like the rest of the engine; the cue texts come from the exercise
descriptions (``cue = ...``) and from CAMERA_CUES, one text for the spoken voice and the page.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from repsense.engine.events import FormWarning
from repsense.engine.specs import ExerciseSpec
from repsense.engine.form import SEVERITY_RANK, Fault
from repsense.pose import is_missing
from repsense.engine.signals import JOINT_NAMES

COOLDOWN_S = 12.0   # the same cue is not said again within this, even if the fault came back
REPEAT_S = 30.0     # a fault that never went away is recalled at most this often
CLEAR_S = 6.0       # a fault not seen for this long was fixed; when it returns it is news again
MIN_GAP_S = 2.5     # between any two cues: one thing at a time
PENDING_S = 6.0     # a cue that could not be said within this is stale and dropped

NOT_FOUND_S = 3.0   # nobody in view this long: say so
CUT_OFF_S = 1.5     # the joints the exercise needs hidden this long: step back
CUT_OFF_SHARE = 0.7
WRONG_VIEW_S = 2.5  # seen from the wrong side this long: turn

CAMERA_CUES = {
    "not_found": ("I can't see you. Step into the picture and make sure the room is lit.",
                  "critical"),
    "step_back": ("Step back: I need to see your whole body.", "critical"),
    "turn_side": ("Turn side-on to the camera.", "warning"),
    "face_camera": ("Face the camera.", "warning"),
}


@dataclass(frozen=True)
class Observation:
    """A fault or camera problem seen at ``t_ms``. ``repeat``: remind while it persists
    (form faults) or say once until it clears (camera checks)."""

    code: str
    cue: str
    severity: str
    t_ms: int
    exercise: str = ""
    repeat: bool = True


@dataclass
class _CueState:
    last_seen_ms: int
    last_cue_ms: int | None = None
    cleared: bool = True


class CueScheduler:
    """Decides which observed problem is said now. ``observe`` whenever a problem is seen
    (every frame it persists, or once per rep); ``poll`` once per frame returns at most one cue."""

    def __init__(self) -> None:
        self._state: dict[str, _CueState] = {}
        self._pending: dict[str, Observation] = {}
        self._last_cue_ms: int | None = None

    def observe(self, obs: Observation) -> None:
        st = self._state.get(obs.code)
        if st is None:
            st = self._state[obs.code] = _CueState(obs.t_ms)
        elif obs.t_ms - st.last_seen_ms > CLEAR_S * 1000:
            st.cleared = True
        st.last_seen_ms = obs.t_ms
        if st.last_cue_ms is None:
            due = True
        elif st.cleared:
            due = obs.t_ms - st.last_cue_ms >= COOLDOWN_S * 1000
        else:
            due = obs.repeat and obs.t_ms - st.last_cue_ms >= REPEAT_S * 1000
        if due and obs.code not in self._pending:
            self._pending[obs.code] = obs

    def poll(self, t_ms: int) -> list[Observation]:
        for code, obs in list(self._pending.items()):
            if t_ms - obs.t_ms > PENDING_S * 1000:
                del self._pending[code]
        if not self._pending or (self._last_cue_ms is not None and
                                 t_ms - self._last_cue_ms < MIN_GAP_S * 1000):
            return []
        obs = min(self._pending.values(), key=lambda o: (-SEVERITY_RANK[o.severity], o.t_ms))
        del self._pending[obs.code]
        st = self._state[obs.code]
        st.last_cue_ms, st.cleared = t_ms, False
        self._last_cue_ms = t_ms
        return [obs]


class CameraCheck:
    """Before and during a set: is anybody in view, are the joints this exercise needs in the
    picture, does the camera see the body from the side the exercise is judged from."""

    def __init__(self) -> None:
        self._since_seen_ms: int | None = None       # nobody in view since
        self._hidden: deque[tuple[int, bool]] = deque()
        self._wrong_view_since: int | None = None

    def update(self, gated: np.ndarray | None, t: int, spec: ExerciseSpec | None,
               view: str | None) -> list[Observation]:
        out: list[Observation] = []
        if gated is None or is_missing(gated):
            if self._since_seen_ms is None:
                self._since_seen_ms = t
            if t - self._since_seen_ms >= NOT_FOUND_S * 1000:
                out.append(self._obs("not_found", t, spec))
            self._hidden.clear()
            self._wrong_view_since = None
            return out
        self._since_seen_ms = None
        if spec is None:
            return out
        if spec.camera.visible:
            hidden = any(np.isnan(gated[list(JOINT_NAMES[j])][:, 0]).all()
                         for j in spec.camera.visible)
            self._hidden.append((t, hidden))
            while t - self._hidden[0][0] > CUT_OFF_S * 1000:
                self._hidden.popleft()
            span = t - self._hidden[0][0]
            share = sum(h for _, h in self._hidden) / len(self._hidden)
            if span >= 0.8 * CUT_OFF_S * 1000 and share >= CUT_OFF_SHARE:
                out.append(self._obs("step_back", t, spec))
        want = spec.camera.view
        if want != "any" and view is not None and view != want:
            if self._wrong_view_since is None:
                self._wrong_view_since = t
            if t - self._wrong_view_since >= WRONG_VIEW_S * 1000:
                out.append(self._obs("turn_side" if want == "side" else "face_camera", t, spec))
        else:
            self._wrong_view_since = None
        return out

    @staticmethod
    def _obs(code: str, t: int, spec: ExerciseSpec | None) -> Observation:
        text, severity = CAMERA_CUES[code]
        if code == "turn_side" and spec is not None:
            text = f"Turn side-on to the camera for {spec.display.lower()}s."
        return Observation(code, text, severity, t, spec.name if spec else "", repeat=False)


class Coach:
    """Camera checks and form faults in, FormWarning events out (one person)."""

    def __init__(self, person_id: int = 0) -> None:
        self.person_id = person_id
        self.camera = CameraCheck()
        self.scheduler = CueScheduler()
        self.count = 0

    def update(self, t: int, gated: np.ndarray | None, spec: ExerciseSpec | None,
               view: str | None, faults: list[Fault] | tuple[Fault, ...] = ()) -> list[FormWarning]:
        for obs in self.camera.update(gated, t, spec, view):
            self.scheduler.observe(obs)
        for f in faults:
            self.scheduler.observe(Observation(f.code, f.cue, f.severity, t,
                                               spec.name if spec else ""))
        return [FormWarning(t, exercise=o.exercise, code=o.code, message=o.cue,
                            severity=o.severity, rep=self.count, person_id=self.person_id)
                for o in self.scheduler.poll(t)]
