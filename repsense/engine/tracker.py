"""The tracking engine: one person's workout as a pure state machine.

``Tracker.update(pose, timestamp_ms) -> list[Event]`` does no I/O, so the same engine serves a
file, a webcam, a browser, an edge node and a replay, and tests drive it from arrays.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, replace

import numpy as np

from repsense.engine.coaching import Coach
from repsense.engine.counting import HoldTimer, Phase, Rep, RepCounter, Rhythm
from repsense.engine.events import (Event, ExerciseDetected, HoldUpdated, PersonLost, RepCompleted,
                             SessionEnded)
from repsense.engine.form import Fault, FormJudge, view_of, view_ratio
from repsense.engine.sets import DEFAULT_REST_S, SetKeeper
from repsense.engine.generic import GENERIC_SPEC, MotionParams, MotionSignal
from repsense.engine.exercises import GENERIC, ExerciseSpec, catalog, get_spec
from repsense.errors import InputError
from repsense.pose import is_missing, validate_pose
from repsense.engine.signals import (ORIENTATION_MEASURES, body_point, box_normalised,
                              combine_sides, condition_failure, measure, segment_signal,
                              side_values, torso_length)
from repsense.pose.smoothing import MIN_VISIBILITY, OneEuroFilter, gate_visibility
from repsense.pose.geometry import to_metric

PERSON_LOST_MS = 1000
# In auto mode an exercise's own description counts only when the recogniser is at least this
# sure of it; below, and for ``unknown``, the generic counter (which runs from the first frame,
# so switching costs no reps) counts the segment under the recognised name. Chosen on RepCount-A
# and the dev clips (docs/benchmarks.md). Box-normalised poses (see BOXED_FRAMES) have no true
# angles or heights for a description to count: the generic counter counts all of them.
AUTO_SURE = 0.7
# ... and hands a segment over to the generic counter when that has counted at least
# HANDOVER_REPS reps in it and the description fewer than HANDOVER_SHARE of them: the movement
# repeats, but not as the description expects (a variant, a view it cannot read, a posture gate
# that blocks, or a wrong recognition).
HANDOVER_REPS = 4
HANDOVER_SHARE = 0.5
# A counter's posture gate is reported (ExerciseCounter.gate_note) when it blocked at least this
# share of the frames of a segment of at least this many frames.
GATE_NOTE_SHARE = 0.5
GATE_NOTE_FRAMES = 30
# This many box-normalised poses in a row (signals.box_normalised) mark the input as such.
BOXED_FRAMES = 10
# In auto mode, poses kept for replay into the counter of a newly recognised exercise.
REPLAY_MS = 4000
# Auto mode takes what the recogniser says only once it has said it for this long: a new exercise
# (or idle, or unknown) is not reported, and the set being counted is not closed, before then.
# Until then the current counter goes on, its reps held back; if the recogniser returns to the
# current exercise (a moment of doubt), they are reported and nothing changed; if the newcomer
# holds, the poses since the last change are replayed into its counter (REPLAY_MS + this), and a
# rep goes to one exercise only (see Tracker._commit). Chosen by cross-validation grouped by source
# video on the dev clips, UCFRep dev and RepCount-A dev (docs/recognition.md "Auto: evidence").
AUTO_EVIDENCE_MS = 3500
# A description's tilt checks (the body's angle to the image vertical, ORIENTATION_MEASURES) are
# evidence, not a wall, where the view cannot read the tilt: a torso pointing at the camera (a
# bench press filmed from its foot end, push-ups from the head) shows in the image shorter than
# FORESHORTENED times the shoulder width (form.view_ratio: ~0.8 facing the camera, ~0 side-on),
# and its tilt says nothing. A body seen at its length keeps the wall: someone standing with
# bending elbows is not doing push-ups. A second counter per side counts the driving signal when
# only such unreadable tilt checks fail, and its reps that the gated counter did not count are
# counted once EVIDENCE_REPS of them in a row look alike (depth within EVIDENCE_ROM times,
# duration within EVIDENCE_TIME times each other, each starting within the description's
# max_rep_s of the last) - the signal repeats like reps, where one lone excursion (racking the
# bar, getting up) does not - or at once when the tilt check failed in most of the frames so far
# (ExerciseCounter.tilt_misfit: it does not fit this view). A check of the joints' order (hands
# above the shoulders) holds in any view and stays a wall. Cross-validated by source video
# (bench/count_accuracy.py --cv, docs/benchmarks.md).
FORESHORTENED = 1.5
EVIDENCE_REPS = 2
EVIDENCE_ROM = 1.5
EVIDENCE_TIME = 2.0
IDLE = "idle"
UNKNOWN = "unknown"
TRAVEL_WINDOW_MS = 500
# Pause at the turning point: time the signal stays within this share of the rep's range of it.
PAUSE_BAND = 0.1
# Reps a regular run hid (CountSpec.fill_missed) are counted only when the signal moved between
# the reps around them by at least this share of a rep's range.
MISSED_MOTION = 0.5
# A driving signal whose joints the model sees too poorly to trust (MIN_VISIBILITY: feet behind
# plates or just below the frame, the far arm behind the body) is read from the joints the model
# still places with at least this visibility, rather than lost - while the torso is seen (the body
# is in the frame; a close-up of an arm has no anchor for the joints it hides). Cross-validated
# by source video (bench/count_accuracy.py --cv, docs/benchmarks.md).
LOOSE_VISIBILITY = 0.2



@dataclass(frozen=True)
class Sample:
    """What the engine saw in one frame, kept for plots and debugging."""

    timestamp_ms: int
    values: tuple[float, ...]  # the driving signal, one per counted side (NaN when gated)
    phase: str
    exercise: str = ""
    faults: tuple[str, ...] = ()   # frame faults in progress (form rules judged per frame)


def _torso_seen(pose: np.ndarray) -> bool:
    """A shoulder and a hip of a gated pose are visible."""
    return not (np.isnan(body_point(pose[:, :2], "shoulder")).any() or
                np.isnan(body_point(pose[:, :2], "hip")).any())


class ExerciseCounter:
    """Counts one exercise from gated, smoothed poses: driving signal, posture gate, walk gate,
    one counter per side where the description says ``each``."""

    def __init__(self, spec: ExerciseSpec, aspect: float = 1.0, person_id: int = 0) -> None:
        self.spec = spec
        self.aspect = aspect
        self.person_id = person_id
        self.count = 0
        sides = 2 if spec.signal is not None and spec.signal.side == "each" else 1
        self._counters = [RepCounter(spec.count) for _ in range(sides)] if spec.count else []
        self._last_reps: list[Rep | None] = [None] * sides
        fill = spec.count.fill_missed if spec.count else 0
        self._rhythms = [Rhythm(fill) for _ in range(sides)] if fill else []
        self._hold = HoldTimer(spec.hold.enter_s, spec.hold.grace_s) if spec.hold else None
        self._hips: deque[tuple[int, float]] = deque()   # (t, hip x) for the walking gate
        self._motion = MotionSignal(aspect, params=spec.extra.get("motion", MotionParams())) \
            if spec.signal is not None and spec.signal.type == "motion" else None
        self._last_hold_report = -1
        self.last_values: tuple[float, ...] = (math.nan,) * max(1, sides)
        # Samples of earlier frames the last update made known (the generic signal's first
        # window comes at once): the trace takes them, so a plot shows what the reps were counted on.
        self.backfill: list[tuple[int, float]] = []
        self.form = FormJudge(spec, aspect)
        self.rep_faults: list[Fault] = []   # turning-point faults since the coach took them
        self._signal_history: list[deque[tuple[int, float]]] = [deque() for _ in range(sides)]
        self._good_s = 0.0
        self._last_t: int | None = None
        # Poses stretched to their own box (signals.box_normalised): no position, no tilt.
        self.boxed = False
        self.frames_seen = 0
        self.posture_failures: dict[str, int] = {}   # failed condition -> frames it blocked
        # tilt checks as evidence (EVIDENCE_REPS): a counter per side that no tilt check gates,
        # its reps waiting for the evidence of a run, and those counted
        free = any(c.measure in ORIENTATION_MEASURES for c in spec.posture) and \
            spec.count is not None and spec.signal is not None and spec.signal.type != "motion"
        self._free = [RepCounter(spec.count) for _ in range(sides)] \
            if free and spec.count is not None else []
        self._pending: list[list[Rep]] = [[] for _ in range(sides)]
        self._free_run: list[Rep | None] = [None] * sides   # last rep counted on evidence
        self._reported: list[deque[Rep]] = [deque(maxlen=4) for _ in range(sides)]
        self.evidence_reps = 0
        self.tilt_failures = 0    # frames a tilt check (ORIENTATION_MEASURES) blocked
        self.views: dict[str, int] = {}   # frames seen from the side / the front (view_note)
        self._tilt_only = True

    @property
    def phase(self) -> str:
        if self._hold is not None:
            return "holding" if self._hold.holding else "waiting"
        moving = [c.phase for c in self._counters if c.phase is not Phase.REST]
        return (moving[0] if moving else Phase.REST).value

    # --- gates -------------------------------------------------------------------------------
    def _posture_ok(self, pose: np.ndarray) -> bool:
        """Every posture check passes (or cannot be measured). Sets ``_tilt_only``: the checks
        that failed are all of the body's tilt in the image (ORIENTATION_MEASURES) and the torso
        points at the camera, so the view cannot read the tilt (see FORESHORTENED)."""
        ok, self._tilt_only = True, True
        for cond in self.spec.posture:
            if self.boxed and cond.measure in ORIENTATION_MEASURES:
                continue  # the body's tilt is lost in a box-normalised pose
            v = measure(cond.measure, pose, self.aspect)
            if math.isnan(v):
                continue  # not measurable from this view: do not block
            below = cond.min is not None and v < cond.min
            if below or (cond.max is not None and v > cond.max):
                bound = cond.min if below else cond.max
                if ok:
                    why = condition_failure(cond.measure, below, bound)  # type: ignore[arg-type]
                    self.posture_failures[why] = self.posture_failures.get(why, 0) + 1
                    if cond.measure in ORIENTATION_MEASURES:
                        self.tilt_failures += 1
                ok = False
                self._tilt_only &= cond.measure in ORIENTATION_MEASURES
        if not ok and self._tilt_only:   # a tilt the view can read is no evidence
            r = view_ratio(to_metric(pose, self.aspect, use_z=True))
            self._tilt_only = not math.isnan(r) and r >= FORESHORTENED
        return ok

    def gate_note(self) -> str | None:
        """When the posture gate blocked most frames: which condition, how often, and either the
        reps counted on the signal anyway (EVIDENCE_REPS) with the description's ``[extra]
        variant`` (what the failed check suggests), or its ``gate_hint``: e.g. "push_up: body
        not horizontal in 63% of frames; 12 reps counted on the signal anyway (an incline or
        wall push-up, or a camera at the head or feet?)"."""
        if not self.posture_failures or self.frames_seen < GATE_NOTE_FRAMES:
            return None
        why, n = max(self.posture_failures.items(), key=lambda kv: kv[1])
        if n < GATE_NOTE_SHARE * self.frames_seen:
            return None
        head = f"{self.spec.name}: {why} in {100.0 * n / self.frames_seen:.0f}% of frames"
        if self.evidence_reps:
            variant = self.spec.extra.get("variant")
            return f"{head}; {self.evidence_reps} reps counted on the signal anyway" + \
                (f" ({variant}?)" if variant else "")
        hint = self.spec.extra.get("gate_hint")
        return head + (f": {hint}" if hint else "")

    def view_note(self) -> str | None:
        """When nothing was counted and the camera saw the body mostly from another side than
        the description's ``[camera] view``: that this view hides the movement, and the view
        that shows it, e.g. "push_up: no reps counted: the camera sees the body from the front
        (or above), where the elbow angle hides the movement; film from the side"."""
        want = self.spec.camera.view
        if want == "any" or self.count or self.frames_seen < GATE_NOTE_FRAMES or not self.views:
            return None
        seen, n = max(self.views.items(), key=lambda kv: kv[1])
        if seen == want or n < GATE_NOTE_SHARE * self.frames_seen:
            return None
        sig = self.spec.signal
        what = f"the {sig.joints[1]} angle" if sig is not None and sig.type == "angle" and \
            len(sig.joints) == 3 else "its signal"
        where = "the front (or above)" if seen == "front" else "the side"
        return f"{self.spec.name}: no reps counted: the camera sees the body from {where}, " \
            f"where {what} hides the movement; film from the {want}"

    def note(self) -> str | None:
        """What the report should say about this counter: the posture gate (gate_note), else
        a view that hides the movement (view_note)."""
        return self.gate_note() or self.view_note()

    def _travelling(self, pose: np.ndarray, t: int) -> bool:
        if self.spec.max_travel_speed is None or self.boxed:
            return False   # a box-normalised pose has no position in the image
        p = to_metric(pose, self.aspect)
        hip = body_point(p, "hip")
        torso = torso_length(p)
        if np.isnan(hip).any() or not torso > 0:
            return False
        self._hips.append((t, float(hip[0])))
        while self._hips and t - self._hips[0][0] > TRAVEL_WINDOW_MS:
            self._hips.popleft()
        t0, x0 = self._hips[0]
        if t - t0 < TRAVEL_WINDOW_MS / 2:
            return False
        speed = abs(float(hip[0]) - x0) / ((t - t0) / 1000.0) / torso
        return speed > self.spec.max_travel_speed

    # --- signals ------------------------------------------------------------------------------
    def _values(self, pose: np.ndarray, t: int, loose: np.ndarray | None = None) -> list[float]:
        """The driving signal, one value per counter; where the pose's joints do not give it,
        from the ``loose`` pose (the joints the model places with LOOSE_VISIBILITY)."""
        values = self._signal(pose)
        if loose is not None and any(math.isnan(v) for v in values) and _torso_seen(pose):
            other = self._signal(loose)
            values = [o if math.isnan(v) else v for v, o in zip(values, other)]
        return values

    def _signal(self, pose: np.ndarray) -> list[float]:
        sig = self.spec.signal
        assert sig is not None  # counted exercises always have one (checked when loaded)
        if sig.type == "angle":
            left, right = side_values(sig, pose, self.aspect)
            if sig.side == "each":
                return [left, right]
            return [combine_sides(sig, pose, left, right)]
        if sig.type == "vertical":
            return [segment_signal(sig, pose, self.aspect)]
        raise AssertionError(f"signal type {sig.type!r} has no per-frame value")

    # --- update -------------------------------------------------------------------------------
    def take_faults(self) -> list[Fault]:
        """Faults for the coach: those judged at reps completed since the last call, and the
        frame faults in progress (the coach must know a fault persists to recall it after
        REPEAT_S rather than take it for a new one)."""
        out, self.rep_faults = self.rep_faults, []
        return out + self.form.open_faults

    def update(self, pose: np.ndarray, t: int, loose: np.ndarray | None = None) -> list[Event]:
        """Count one smoothed, visibility-gated pose; ``loose``: the same pose gated at
        LOOSE_VISIBILITY, for a driving signal the gated pose does not give."""
        self.frames_seen += 1
        if self.spec.camera.view != "any" and not self.boxed:
            view = view_of(pose, self.aspect)
            if view is not None:
                self.views[view] = self.views.get(view, 0) + 1
        posture_ok = self._posture_ok(pose)
        travelling = self._travelling(pose, t) if posture_ok or self._free else False
        gated = not posture_ok or travelling
        if gated:
            self.form.close()
            self.form.view = None
        if self._hold is not None:
            in_position = not gated and self._in_hold_position(pose)
            if in_position:   # a hold's form is judged while it is held, not while setting up
                self.form.update(pose, t)
            else:
                self.form.close()
            return self._update_hold(in_position, t)
        if not gated:
            at_rest = all(c.phase is Phase.REST for c in self._counters)
            self.form.update(pose, t, at_rest)
        if self._motion is not None:
            samples = [] if gated else self._motion.update(pose, t, self.boxed)
            self.last_values = (samples[-1][1] if samples else math.nan,)
            self.backfill = samples[:-1]
            return [e for ts, v in samples for e in self._count([v], ts, t)]
        seen = [math.nan] * len(self._counters) if travelling else self._values(pose, t, loose)
        values = [math.nan] * len(self._counters) if gated else seen
        self.last_values = tuple(values)
        events = self._count(values, t, t)
        if self._free:
            free = seen if posture_ok or self._tilt_only else [math.nan] * len(seen)
            events.extend(self._count_on_evidence(free, t))
            if not posture_ok and self._tilt_only and not travelling:
                self.last_values = tuple(seen)
        return events

    @property
    def tilt_misfit(self) -> bool:
        """The description's tilt check failed in most frames so far (GATE_NOTE_SHARE): it does
        not fit this variant or view, so its reps need no run to count (EVIDENCE_REPS)."""
        return self.frames_seen >= GATE_NOTE_FRAMES and \
            self.tilt_failures >= GATE_NOTE_SHARE * self.frames_seen

    def _count_on_evidence(self, values: list[float], t: int) -> list[Event]:
        """Feed the counters no posture check gates (EVIDENCE_REPS); events for their reps that
        the gated counters did not count, once a run of them looks like reps."""
        events: list[Event] = []
        for i, (counter, value) in enumerate(zip(self._free, values)):
            rep = counter.update(value, t)
            if rep is None or self._already_counted(i, rep):
                continue
            run = self._pending[i]
            last = run[-1] if run else self._free_run[i]
            if last is None or not self._alike(last, rep):
                self._free_run[i] = None
                run = self._pending[i] = []
            run.append(rep)
            if self._free_run[i] is None and len(run) < EVIDENCE_REPS and not self.tilt_misfit:
                continue
            for r in run:
                if self._already_counted(i, r):
                    continue
                self._reported[i].append(r)
                self._last_reps[i] = r
                self.evidence_reps += 1
                events.append(self._rep_event(r, t))
            self._free_run[i] = rep
            self._pending[i] = []
        return events

    def _already_counted(self, side: int, rep: Rep) -> bool:
        """Whether a counted rep (of any side) overlaps most of ``rep``."""
        for reps in self._reported:
            for other in reps:
                overlap = min(other.end_ms, rep.end_ms) - max(other.start_ms, rep.start_ms)
                shorter = min(other.end_ms - other.start_ms, rep.end_ms - rep.start_ms)
                if shorter > 0 and overlap / shorter > 0.5:
                    return True
        return False

    def _alike(self, a: Rep, b: Rep) -> bool:
        """Two reps of one run: similar depth and duration, the second soon after the first."""
        assert self.spec.count is not None
        da, db = a.end_ms - a.start_ms, b.end_ms - b.start_ms
        return max(a.rom, b.rom) <= EVIDENCE_ROM * min(a.rom, b.rom) and \
            max(da, db) <= EVIDENCE_TIME * min(da, db) and \
            0 <= b.start_ms - a.end_ms <= self.spec.count.max_rep_s * 1000

    def _count(self, values: list[float], t: int, now: int) -> list[Event]:
        """Feed one sample per counter (taken at ``t``, known at ``now``); events for new reps."""
        events: list[Event] = []
        for i, (counter, value) in enumerate(zip(self._counters, values)):
            history = self._signal_history[i]
            history.append((t, value))
            while t - history[0][0] > counter.spec.max_rep_s * 1000 + 1000:
                history.popleft()
            rep = counter.update(value, t)
            if rep is None:
                continue
            if self._counted_by_other_side(i, rep) or \
                    (self._free and self._already_counted(i, rep)):
                self._last_reps[i] = rep
                continue
            self._reported[i].append(rep)
            prev = self._last_reps[i]
            if self._rhythms and prev is not None:   # a gap needs the rep before it
                missed = self._rhythms[i].observe(rep.end_ms, self._moved_between(history, prev, rep))
                events.extend(self._rep_event(m, now) for m in self._missed(prev, rep, missed))
            self._last_reps[i] = rep
            events.append(self._rep_event(rep, now, self._pause_s(history, rep)))
        return events

    @staticmethod
    def _moved_between(history: deque[tuple[int, float]], prev: Rep, rep: Rep) -> bool:
        """Whether the signal moved between two reps by at least MISSED_MOTION of ``rep``'s
        range: reps missed inside a run are movement the counter did not count, a pause is not."""
        seen = [v for ts, v in history if prev.end_ms <= ts <= rep.start_ms and not math.isnan(v)]
        return bool(seen) and max(seen) - min(seen) >= MISSED_MOTION * rep.rom

    @staticmethod
    def _missed(prev: Rep, rep: Rep, n: int) -> list[Rep]:
        """The ``n`` reps a regular run hid between ``prev`` and ``rep`` (counting.Rhythm), spread
        evenly over the time between them."""
        step = (rep.start_ms - prev.end_ms) / max(n, 1)
        return [Rep(a, (a + b) // 2, b, rep.rest_value, rep.turn_value)
                for a, b in ((int(prev.end_ms + j * step), int(prev.end_ms + (j + 1) * step))
                             for j in range(n))]

    @staticmethod
    def _pause_s(history: deque[tuple[int, float]], rep: Rep) -> float:
        """How long the signal stayed near its turning value around the bottom of the rep."""
        band = PAUSE_BAND * rep.rom
        near = [(ts, not math.isnan(v) and abs(v - rep.turn_value) <= band)
                for ts, v in history if rep.start_ms <= ts <= rep.end_ms]
        times = [ts for ts, _ in near]
        if not times:
            return 0.0
        i = min(range(len(times)), key=lambda k: abs(times[k] - rep.bottom_ms))
        lo = hi = i
        while lo > 0 and near[lo - 1][1]:
            lo -= 1
        while hi < len(near) - 1 and near[hi + 1][1]:
            hi += 1
        return (times[hi] - times[lo]) / 1000.0

    def _counted_by_other_side(self, side: int, rep: Rep) -> bool:
        """Both arms curling together are one rep: skip a rep that overlaps the other side's."""
        for j, other in enumerate(self._last_reps):
            if j == side or other is None:
                continue
            overlap = min(other.end_ms, rep.end_ms) - max(other.start_ms, rep.start_ms)
            shorter = min(other.end_ms - other.start_ms, rep.end_ms - rep.start_ms)
            if shorter > 0 and overlap / shorter > 0.5:
                return True
        return False

    def _rep_event(self, rep: Rep, t: int, pause_s: float = 0.0) -> RepCompleted:
        self.count += 1
        form = self.form.judge_rep(rep)
        self.rep_faults.extend(f for f in form.faults
                               if self.form.rule(f.code).when in ("bottom", "top"))
        away_s = (rep.bottom_ms - rep.start_ms) / 1000.0
        back_s = (rep.end_ms - rep.bottom_ms) / 1000.0
        eccentric, concentric = (away_s, back_s) if self.spec.count and \
            self.spec.count.away_phase == "eccentric" else (back_s, away_s)
        return RepCompleted(
            t, exercise=self.spec.name, count=self.count, start_ms=rep.start_ms,
            end_ms=rep.end_ms, bottom_ms=rep.bottom_ms, concentric_s=concentric,
            eccentric_s=eccentric, rom_deg=rep.rom if self.spec.signal.type in ("angle", "vertical")
            else math.nan, form_score=form.score if self.spec.form else None,
            faults=tuple(f.code for f in form.faults),
            fault_spans=tuple((f.start_ms, f.end_ms) for f in form.faults), rom_pct=form.rom_pct,
            pause_s=round(pause_s, 2), good=form.good, person_id=self.person_id)

    def _in_hold_position(self, pose: np.ndarray) -> bool:
        """In one of the hold's positions, every condition measured (not merely not contradicted)."""
        assert self.spec.hold is not None
        for position in self.spec.hold.positions:
            values = [(c, measure(c.measure, pose, self.aspect)) for c in position.conditions]
            if all(not math.isnan(v) and (c.min is None or v >= c.min) and
                   (c.max is None or v <= c.max) for c, v in values):
                return True
        return False

    def _update_hold(self, in_position: bool, t: int) -> list[Event]:
        assert self._hold is not None
        self.last_values = (1.0 if in_position else 0.0,)
        last, self._last_t = self._last_t, t
        change = self._hold.update(in_position, t)
        if self._hold.holding and in_position and last is not None and not self.form.active:
            self._good_s += (t - last) / 1000.0
        whole = int(self._hold.held_s)
        if change is not None or (self._hold.holding and whole != self._last_hold_report):
            self._last_hold_report = whole
            return [self._hold_event(t)]
        return []

    def _hold_event(self, t: int) -> HoldUpdated:
        assert self._hold is not None
        good = min(self._good_s, self._hold.held_s) if self.spec.form else None
        return HoldUpdated(t, exercise=self.spec.name, held_s=round(self._hold.held_s, 2),
                           holding=self._hold.holding, person_id=self.person_id,
                           good_s=None if good is None else round(good, 2))

    def finish(self, t: int) -> list[Event]:
        self.form.close()
        if self._hold is not None and self._hold.holding:
            self._hold.holding = False
            return [self._hold_event(t)]
        return []


class Tracker:
    """All state of one person's workout. Feed poses in time order; read events.

    ``exercise`` is an exercise name, ``generic`` for the class-agnostic counter, or ``auto``:
    the exercise is recognised from the pose stream (repsense.recognition), each recognised
    segment gets a counter of its own, ``idle`` counts nothing and ``unknown`` falls back to the
    generic counter. A recogniser decides about two seconds into a set, so on a switch the poses
    seen since the previous switch (up to REPLAY_MS) are replayed into the new counter and the
    first reps are not lost, only reported late.
    """

    def __init__(self, exercise: str | ExerciseSpec = "auto", aspect: float = 1.0,
                 person_id: int = 0, keep_trace: bool = False, recognizer: object | None = None,
                 set_rest_s: float = DEFAULT_REST_S) -> None:
        self.aspect = aspect
        self._sets = SetKeeper(set_rest_s, person_id)   # SetCompleted after a rest or a change
        self.person_id = person_id
        self._smoother = OneEuroFilter()
        self._loose_smoother = OneEuroFilter()   # the pose gated at LOOSE_VISIBILITY
        self._coach = Coach(person_id)
        self._recognizer = None
        self._counter: ExerciseCounter | None = None
        self._history: deque[tuple[int, np.ndarray, np.ndarray]] = deque()
        if exercise == "auto":
            if recognizer is None:
                from repsense.recognition import ExerciseRecognizer, shipped_model
                from repsense.recognition.taught import with_taught

                recognizer = with_taught(ExerciseRecognizer(shipped_model(), aspect,
                                                            person_id=person_id), aspect, person_id)
            self._recognizer = recognizer
        else:
            spec = exercise if isinstance(exercise, ExerciseSpec) else \
                GENERIC_SPEC if exercise == GENERIC else get_spec(exercise)
            self._counter = ExerciseCounter(spec, aspect, person_id)
        self._announced = self._recognizer is not None   # auto: the recogniser announces
        self._last_seen_ms: int | None = None
        self._lost = False
        self._last_ms: int | None = None
        self.total_reps = 0
        self.trace: list[Sample] | None = [] if keep_trace else None
        self.boxed = False      # the poses are box-normalised (see BOXED_FRAMES)
        self._boxed_run = 0
        # auto: the generic counter runs all along; its reps are reported while the recogniser
        # is unsure (under ``_fallback_name``) and kept for REPLAY_MS otherwise
        self._fallback = ExerciseCounter(GENERIC_SPEC, aspect, person_id) \
            if self._recognizer is not None else None
        self._fallback_name: str | None = None
        self._fallback_kept: deque[RepCompleted] = deque()
        self._segment_fallback: list[RepCompleted] = []   # generic reps in this segment
        self._segment_reps: list[RepCompleted] = []       # the description's reps in it
        self._decided = False   # the recogniser has said something (idle at the start is not)
        # (exercise, time ms, generic reps, the description's reps) of every hand-over
        self.handovers: list[tuple[str, int, int, int]] = []
        self._notes: list[str] = []   # see notes()
        # auto: what the recogniser says but has not said for AUTO_EVIDENCE_MS yet
        # (name, since ms, confidence), and the current counter's reps held back meanwhile
        self._pending: tuple[str, int, float] | None = None
        self._held: list[Event] = []
        self._emitted: deque[tuple[int, int]] = deque()   # (start, end) ms of reps reported
        self._commit_ms: int | None = None   # when the last change was taken
        self._committed_name = IDLE           # what the recogniser said at that change

    @property
    def exercise(self) -> str:
        """The exercise being counted now (``idle`` while auto mode sees none): the name its
        reps are reported under, also while the generic counter counts a segment for it."""
        if self._counter is None:
            return IDLE
        if self._counter is self._fallback and self._fallback_name is not None:
            return self._fallback_name
        return self._counter.spec.name

    @property
    def phase(self) -> str:
        return self._counter.phase if self._counter is not None else IDLE

    @property
    def counter(self) -> ExerciseCounter | None:
        """The counter of the current exercise (None while auto mode sees none)."""
        return self._counter

    # -- the session's Engine interface (repsense.session.Engine) ---------------------------------
    kind = "pose"
    ordered = True   # poses must come in time order; the session refuses others

    @staticmethod
    def check(sample: np.ndarray) -> np.ndarray:
        """A pose as the tracker takes it, float32 ``(33, 4)``; InputError otherwise."""
        try:
            return validate_pose(np.asarray(sample, dtype=np.float32))
        except (InputError, ValueError) as exc:
            raise InputError(f"pose rejected: {exc}") from None

    @staticmethod
    def present(sample: np.ndarray) -> bool:
        return not is_missing(sample)

    def live_state(self) -> tuple[str, str, int, tuple[str, ...]]:
        counter = self._counter
        return (self.exercise, self.phase, counter.count if counter is not None else 0,
                tuple(counter.form.active) if counter is not None else ())

    def update(self, pose: np.ndarray, timestamp_ms: int) -> list[Event]:
        events = self._update(pose, timestamp_ms)
        return self._sets.process(events, int(timestamp_ms))

    def _update(self, pose: np.ndarray, timestamp_ms: int) -> list[Event]:
        pose = validate_pose(pose)
        t = int(timestamp_ms)
        if self._last_ms is not None and t <= self._last_ms:
            raise ValueError(f"timestamps must increase: got {t} ms after {self._last_ms} ms")
        self._last_ms = t
        events: list[Event] = []
        if not self._announced and self._counter is not None:
            self._announced = True
            events.append(ExerciseDetected(t, exercise=self._counter.spec.name,
                                           person_id=self.person_id))
        if is_missing(pose):
            if self._last_seen_ms is not None and not self._lost and \
                    t - self._last_seen_ms >= PERSON_LOST_MS:
                self._lost = True
                events.append(PersonLost(t, last_seen_ms=self._last_seen_ms,
                                         person_id=self.person_id))
            self._smoother.reset()
            self._loose_smoother.reset()
            events.extend(self._coach.update(t, None, self._spec, None))
            self._record(t, None)
            return events
        self._last_seen_ms = t
        self._lost = False
        self._boxed_run = self._boxed_run + 1 if box_normalised(pose) else 0
        self.boxed = self.boxed or self._boxed_run >= BOXED_FRAMES
        if self._counter is not None:
            self._counter.boxed = self.boxed
        gated = gate_visibility(pose, MIN_VISIBILITY)
        smooth = self._smoother(gated, t)
        loose = self._loose_smoother(gate_visibility(pose, LOOSE_VISIBILITY), t)
        if self._recognizer is not None:
            detected = self._recognizer.update(pose, t)  # type: ignore[attr-defined]
            self._history.append((t, smooth, loose))
            # the replay reaches back REPLAY_MS before the change was proposed, also when the
            # person was out of view while it waited (no frames then: the clock ran on)
            keep_from = t - (REPLAY_MS + AUTO_EVIDENCE_MS)
            if self._pending is not None:
                keep_from = min(keep_from, self._pending[1] - REPLAY_MS)
            while self._history[0][0] < keep_from:
                self._history.popleft()
            fallback = self._fallback_reps(smooth, t)
            if detected is not None:
                events.extend(self._propose(detected, t))
            committed = self._commit(t)
            if committed is not None:
                events.extend(committed)
                events.extend(self._fallback_reps_now(fallback, t))
                return self._counted(self._coached(events, gated, t), smooth, t)
            events.extend(self._fallback_reps_now(fallback, t))
            # idle, yet something repeats (unless the recogniser is about to name an exercise)
            if self._counter is None and self._decided and \
                    (self._pending is None or self._pending[0] == UNKNOWN):
                events.extend(self._hold_back(self._handover(t)))
        if self._counter is not None and self._counter is not self._fallback:
            new = self._counter.update(smooth, t, loose)
            events.extend(self._hold_back(new))
            if self._fallback is not None:
                self._segment_reps.extend(e for e in new if isinstance(e, RepCompleted))
                if self._pending is None:
                    events.extend(self._hold_back(self._handover(t)))
        return self._counted(self._coached(events, gated, t), smooth, t)

    def _hold_back(self, events: list[Event]) -> list[Event]:
        """Auto mode: while a change is pending, the current counter's reps wait (see
        AUTO_EVIDENCE_MS); the others pass, and every rep that passes is remembered."""
        if self._recognizer is None:
            return events
        if self._pending is not None:
            self._held.extend(e for e in events if isinstance(e, RepCompleted))
            events = [e for e in events if not isinstance(e, RepCompleted)]
        self._emitted.extend((e.start_ms, e.end_ms) for e in events if isinstance(e, RepCompleted))
        return events

    def _propose(self, detected: ExerciseDetected, t: int) -> list[Event]:
        """The recogniser changed its mind: a change to wait on, or, back to the exercise being
        counted, the end of a doubt (the reps held meanwhile are reported)."""
        self._decided = True
        if detected.exercise == self._segment_name:
            self._pending = None
            held, self._held = self._held, []
            return self._hold_back(held)
        self._pending = (detected.exercise, t, detected.confidence)
        return []

    @property
    def _segment_name(self) -> str:
        """What the recogniser said at the last change taken (``idle`` at the start)."""
        return self._committed_name

    def _commit(self, t: int) -> list[Event] | None:
        """Take the pending change once it has held AUTO_EVIDENCE_MS: the held reps no rep of the
        newcomer's replay overlaps are reported under the old name, then the newcomer's
        ExerciseDetected and its replayed reps that overlap no rep already reported."""
        if self._pending is None:
            return None
        if t - self._pending[1] < AUTO_EVIDENCE_MS:
            return None
        name, _, confidence = self._pending
        self._pending = None
        self._committed_name = name
        self._commit_ms = t
        held, self._held = self._held, []
        new = self._switch(name, t, confidence)
        new_reps = [e for e in new if isinstance(e, RepCompleted)]
        old_reps = [e for e in held if not any(_overlap(e, r) for r in new_reps)]
        self._emitted.extend((e.start_ms, e.end_ms) for e in old_reps)
        while self._emitted and t - self._emitted[0][1] > REPLAY_MS + AUTO_EVIDENCE_MS:
            self._emitted.popleft()
        new = [e for e in new if not isinstance(e, RepCompleted) or
               not any(min(e.end_ms, b) > max(e.start_ms, a) for a, b in self._emitted)]
        self._emitted.extend((e.start_ms, e.end_ms) for e in new if isinstance(e, RepCompleted))
        return old_reps + [ExerciseDetected(t, name, round(confidence, 4),
                                            person_id=self.person_id)] + new

    @property
    def _spec(self) -> ExerciseSpec | None:
        return self._counter.spec if self._counter is not None else None

    def _coached(self, events: list[Event], gated: np.ndarray, t: int) -> list[Event]:
        counter = self._counter
        if counter is None:
            return events + self._coach.update(t, gated, None, None)
        self._coach.count = counter.count
        return events + self._coach.update(t, gated, counter.spec, counter.form.view,
                                           counter.take_faults())

    def _fallback_reps(self, smooth: np.ndarray, t: int) -> list[RepCompleted]:
        """Feed the always-running generic counter (auto mode); its new reps."""
        assert self._fallback is not None
        self._fallback.boxed = self.boxed
        return [e for e in self._fallback.update(smooth, t) if isinstance(e, RepCompleted)]

    def _handover(self, t: int) -> list[Event]:
        """Hand a segment over to the generic counter (see HANDOVER_REPS); its reps in the
        segment that no rep of the description overlaps are reported now."""
        counter, generic = self._counter, self._segment_fallback
        if (counter is not None and counter.spec.is_hold) or len(generic) < HANDOVER_REPS or \
                len(self._segment_reps) >= HANDOVER_SHARE * len(generic):
            return []
        name = counter.spec.name if counter is not None else GENERIC   # idle: unknown movement
        self.handovers.append((name if counter is not None else IDLE, t, len(generic),
                               len(self._segment_reps)))
        self._note(f"{name}: counted by the generic counter from {t / 1000.0:.1f} s: it saw "
                   f"{len(generic)} repetitions there, the {name} description "
                   f"{len(self._segment_reps)}" if counter is not None else
                   f"a movement repeated while the recogniser saw no exercise: counted by the "
                   f"generic counter from {t / 1000.0:.1f} s")
        events = self._retire(counter, t) if counter is not None else []
        self._counter, self._fallback_name = self._fallback, name
        events.extend(replace(e, exercise=name) for e in generic
                      if not any(min(e.end_ms, r.end_ms) > max(e.start_ms, r.start_ms)
                                 for r in self._segment_reps))
        return events

    def _fallback_reps_now(self, reps: list[RepCompleted], t: int) -> list[Event]:
        """The generic counter's reps to report now: all while it counts the segment (named as
        the segment; held back while a change is pending), none otherwise (kept for a switch to
        an unsure segment)."""
        self._segment_fallback.extend(reps)
        self._fallback_kept.extend(reps)
        while self._fallback_kept and t - self._fallback_kept[0].end_ms > REPLAY_MS + AUTO_EVIDENCE_MS:
            self._fallback_kept.popleft()
        if self._fallback_name is not None and self._counter is self._fallback:
            return self._hold_back([replace(e, exercise=self._fallback_name) for e in reps])
        return []

    def _retire(self, counter: ExerciseCounter, t: int) -> list[Event]:
        """Finish a counter; keep its posture-gate note."""
        note = counter.note()
        if note is not None:
            self._note(note)
        return counter.finish(t)

    def _note(self, text: str) -> None:
        if text not in self._notes:
            self._notes.append(text)

    def notes(self) -> list[str]:
        """What a report should say about how the counting went: posture gates that blocked
        most of a segment (which condition, how often), segments the generic counter took over."""
        out = list(self._notes)
        counter = self._counter
        if counter is not None and counter is not self._fallback:
            note = counter.note()
            if note is not None and note not in out:
                out.append(note)
        return out

    def _switch(self, name: str, t: int, confidence: float = 1.0) -> list[Event]:
        """Close the current segment and start counting ``name`` from the poses since the last
        switch: with its description when the recogniser is sure (AUTO_SURE), else with the
        generic counter that has run all along."""
        self._decided = True
        events = self._retire(self._counter, t) if self._counter is not None and \
            self._counter is not self._fallback else []
        self._fallback_name = None
        start = self._history[0][0] if self._history else t
        self._segment_fallback = [e for e in self._fallback_kept if e.end_ms >= start]
        self._segment_reps = []
        if name == IDLE:
            self._counter = None
        elif name not in catalog() or ((confidence < AUTO_SURE or self.boxed) and
                                       not catalog()[name].is_hold):
            assert self._fallback is not None
            self._counter = self._fallback
            self._fallback_name = name if name in catalog() else GENERIC
            # reps the generic counter saw since the last switch (those of a rep already
            # reported are dropped by _commit)
            events.extend(replace(e, exercise=self._fallback_name) for e in self._segment_fallback)
        else:
            spec = catalog()[name]
            self._counter = ExerciseCounter(spec, self.aspect, self.person_id)
            self._counter.boxed = self.boxed
            for th, past, past_loose in self._history:
                events.extend(self._counter.update(past, th, past_loose))
            self._segment_reps = [e for e in events if isinstance(e, RepCompleted)]
        self._history.clear()
        return events

    def set_exercise(self, name: str) -> list[Event]:
        """Count ``name`` from now on (the next step of a guided workout): the current counter is
        finished (an open hold ends, the set closes) and ``ExerciseDetected`` says the change.
        Not in auto mode, where the recogniser decides."""
        if self._recognizer is not None:
            raise ValueError("set_exercise needs a tracker of a named exercise, not auto")
        if self._counter is not None and self._counter.spec.name == name:
            return []
        spec = GENERIC_SPEC if name == GENERIC else get_spec(name)
        t = self._last_ms or 0
        events = self._retire(self._counter, t) if self._counter is not None else []
        self._counter = ExerciseCounter(spec, self.aspect, self.person_id)
        self._counter.boxed = self.boxed
        events.append(ExerciseDetected(t, exercise=spec.name, person_id=self.person_id))
        return self._sets.process(events, t)

    def _counted(self, events: list[Event], seen: np.ndarray | None = None,
                 t: int | None = None) -> list[Event]:
        self.total_reps += sum(isinstance(e, RepCompleted) for e in events)
        if t is not None:
            self._record(t, seen)
        return events

    def finish(self) -> list[Event]:
        t = self._last_ms or 0
        # A change still pending at the end: from idle it is all the evidence there is (a short
        # clip); from an exercise it was never confirmed, and the held reps are that set's.
        events: list[Event] = []
        if self._pending is not None and self._counter is None and self._pending[0] != IDLE:
            self._pending = (self._pending[0], t - AUTO_EVIDENCE_MS, self._pending[2])
            events += self._commit(t) or []
        held, self._held, self._pending = self._held, [], None
        events = self._counted(events + self._hold_back(held))
        events += self._counter.finish(t) if self._counter is not None else []
        events = self._sets.process(events, t) + self._sets.finish(t)
        events.append(SessionEnded(t, total_reps=self.total_reps, person_id=self.person_id))
        return events

    def _record(self, t: int, seen: np.ndarray | None) -> None:
        trace = self.trace
        if trace is None:
            return
        counter = self._counter
        if counter is None:
            values: tuple[float, ...] = (math.nan,)
        else:
            values = counter.last_values if seen is not None else \
                (math.nan,) * len(counter.last_values)
        faults = tuple(counter.form.active) if counter is not None and seen is not None else ()
        trace.append(Sample(t, values, self.phase, self.exercise, faults))
        if counter is not None and seen is not None and counter.backfill:
            self._backfill(trace, dict(counter.backfill))

    def _backfill(self, trace: list[Sample], values: dict[int, float]) -> None:
        """Give the trace samples of this segment the values the counter made known late."""
        first = min(values)
        for i in range(len(trace) - 1, -1, -1):
            s = trace[i]
            if s.timestamp_ms < first or s.exercise != self.exercise:
                break
            if s.timestamp_ms in values and len(s.values) == 1:
                trace[i] = replace(s, values=(values[s.timestamp_ms],))


def _overlap(a: RepCompleted, b: RepCompleted) -> bool:
    return min(a.end_ms, b.end_ms) > max(a.start_ms, b.start_ms)


class PeopleTracker:
    """One Tracker per person id, for sources that see several people."""

    def __init__(self, exercise: str = "auto", aspect: float = 1.0) -> None:
        self.exercise = exercise
        self.aspect = aspect
        self.people: dict[int, Tracker] = {}

    def update(self, person_id: int, pose: np.ndarray, timestamp_ms: int) -> list[Event]:
        if person_id not in self.people:
            self.people[person_id] = Tracker(self.exercise, self.aspect, person_id)
        return self.people[person_id].update(pose, timestamp_ms)
