"""Decisions over time: the streaming :class:`ExerciseRecognizer` and the batch
:func:`classify_recording`, both built on :class:`DecisionSmoother`.

Every ``hop_ms`` the last second of pose (resampled to 30 fps) is classified; the class
probabilities, merged into exercise names, are averaged over the last ``smooth`` decisions, and the
current exercise changes only when another name has led that average for ``confirm`` decisions in a
row with at least ``enter`` probability (``idle_confirm`` when the newcomer is idle, so a pause
between reps does not end a set). One odd window therefore never changes the exercise.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from typing import Any

import numpy as np

from repsense.engine.events import ExerciseDetected
from repsense.pose import Landmark, PoseRecording, validate_pose
from repsense.recognition.features import FRAME_MS, WINDOW_FRAMES, resample, sliding_windows, valid_windows
from repsense.recognition.labels import IDLE, NAMES, UNKNOWN, exercise_name
from repsense.recognition.model import Model, load_model

_IDLE_INDEX = NAMES.index(IDLE)


def name_matrix(classes: tuple[str, ...]) -> np.ndarray:
    """``(len(classes), len(NAMES))`` 0/1 matrix summing class probabilities into exercise names."""
    m = np.zeros((len(classes), len(NAMES)))
    for i, c in enumerate(classes):
        m[i, NAMES.index(exercise_name(c))] = 1.0
    return m


def to_model_space(landmarks: np.ndarray, aspect: float) -> np.ndarray:
    """Poses with x (and depth z, which is on the scale of x) multiplied by the frame aspect
    (width / height), so angles are true angles."""
    out = np.array(landmarks, dtype=np.float32, copy=True)
    out[..., 0] *= aspect
    out[..., 2] *= aspect
    return out


# The whole input is idle when idle carries more than this share of its windows' mean probability.
# On the cross-validated UCF101 clips (blend model) every exercise clip in which a person is found
# has at most 0.28; synthetic idle recordings (standing, walking, standing) have 0.60-0.71, because
# the CNN half of the blend gives idle only 0.2-0.4 there (the trees 0.99+; the cut was 0.75 when
# the trees shipped alone).
WHOLE_INPUT_IDLE_MAX = 0.5


@dataclass(frozen=True)
class SmootherConfig:
    smooth: int = 6          # decisions averaged (6 x 167 ms = 1 s)
    confirm: int = 5         # decisions a new exercise must lead before it is taken: windows that
                             # straddle a switch look like a third exercise for up to ~0.7 s
    idle_confirm: int = 9    # decisions idle must lead before an exercise ends (1.5 s)
    enter: float = 0.45      # minimum averaged probability of a newcomer
    moving: float = 0.25     # idle below this while no exercise reaches ``enter``: somebody is
                             # exercising, but like nothing the model knows -> unknown


class DecisionSmoother:
    """Probability averaging with hysteresis over a stream of name-probability vectors."""

    def __init__(self, config: SmootherConfig = SmootherConfig(), initial: str = IDLE) -> None:
        self.config = config
        self._recent: collections.deque[np.ndarray] = collections.deque(maxlen=config.smooth)
        self.current = initial
        self.confidence = 0.0
        self._candidate = IDLE
        self._streak = 0

    def push(self, probs: np.ndarray) -> bool:
        """Add one decision's probabilities ``(len(NAMES),)``; True when the current name changed."""
        self._recent.append(np.asarray(probs, np.float64))
        avg = np.mean(self._recent, axis=0)
        top = int(avg.argmax())
        name = NAMES[top]
        if name != IDLE and avg[top] < self.config.enter and \
                avg[_IDLE_INDEX] < self.config.moving:
            name = UNKNOWN     # open set: moving, and no known exercise is likely enough
        if name == self.current:
            self._candidate, self._streak = name, 0
            self.confidence = float(avg[top])
            return False
        self._streak = self._streak + 1 if name == self._candidate else 1
        self._candidate = name
        self.confidence = float(avg[NAMES.index(self.current)])
        # idle and unknown wait longer: a pause between reps, or windows straddling a switch
        # between two exercises, look like neither for up to ~0.7 s
        need = self.config.idle_confirm if name in (IDLE, UNKNOWN) else self.config.confirm
        if self._streak >= need and (name == UNKNOWN or avg[top] >= self.config.enter):
            self.current, self.confidence, self._streak = name, float(avg[top]), 0
            return True
        return False


class ExerciseRecognizer:
    """Streaming recogniser of one person: ``update(pose (33, 4), timestamp_ms)`` returns an
    :class:`ExerciseDetected` when the smoothed exercise changes, else None. Starts at ``idle``.

    ``aspect`` is the source frame's width / height. Time-aware: frames may come at any rate or be
    skipped; the last second is resampled to 30 fps for each decision. A jump of the body by more than
    a torso length (a camera cut, another person) starts the window afresh.
    """

    def __init__(self, model: Model | None = None, aspect: float = 1.0, hop_ms: float = 5 * FRAME_MS,
                 config: SmootherConfig = SmootherConfig(), person_id: int = 0) -> None:
        self.model = model if model is not None else load_model()
        self.aspect = float(aspect)
        self.hop_ms = float(hop_ms)
        self.person_id = person_id
        self._names = name_matrix(self.model.classes)
        self._smoother = DecisionSmoother(config)
        self._poses: collections.deque[np.ndarray] = collections.deque()
        self._times: collections.deque[int] = collections.deque()
        self._last_decision_ms: float | None = None
        self.last_probabilities: dict[str, float] = {}

    @property
    def current(self) -> tuple[str, float]:
        """The current exercise name and its smoothed confidence."""
        return self._smoother.current, self._smoother.confidence

    def update(self, pose: np.ndarray, timestamp_ms: int) -> ExerciseDetected | None:
        pose = validate_pose(pose)
        if self._times and timestamp_ms <= self._times[-1]:
            raise ValueError(f"timestamp_ms must increase: got {timestamp_ms} after {self._times[-1]}")
        if self._is_cut(pose):
            # A camera cut or another person: a window across it would mix two scenes.
            self._poses.clear()
            self._times.clear()
        self._poses.append(pose)
        self._times.append(int(timestamp_ms))
        span_ms = (WINDOW_FRAMES + 3) * FRAME_MS
        while self._times[0] < timestamp_ms - span_ms:
            self._poses.popleft()
            self._times.popleft()
        if self._times[-1] - self._times[0] < (WINDOW_FRAMES - 1) * FRAME_MS * 0.9:
            return None        # less than a second seen yet
        if self._last_decision_ms is not None and timestamp_ms - self._last_decision_ms < self.hop_ms - 1:
            return None
        self._last_decision_ms = timestamp_ms
        grid, _ = resample(np.asarray(self._poses), np.asarray(self._times))
        window = sliding_windows(grid[-WINDOW_FRAMES:], WINDOW_FRAMES)[:1]
        probs = _name_probabilities(self.model, self._names, to_model_space(window, self.aspect))[0]
        self.last_probabilities = dict(zip(NAMES, probs.tolist()))
        if self._smoother.push(probs):
            name, conf = self.current
            return ExerciseDetected(int(timestamp_ms), name, round(conf, 4), person_id=self.person_id)
        return None


    def _is_cut(self, pose: np.ndarray) -> bool:
        """True when the body jumps more than ``CUT_TORSOS`` body sizes since the last seen frame, or
        its size changes more than 1.6-fold."""
        if np.isnan(pose[_TORSO_POINTS, :2]).any():
            return False
        for prev in reversed(self._poses):
            if not np.isnan(prev[_TORSO_POINTS, :2]).any():
                a, b = _centre_and_torso(prev, self.aspect), _centre_and_torso(pose, self.aspect)
                return bool(np.linalg.norm(a[0] - b[0]) > CUT_TORSOS * max(a[1], b[1], 1e-6)
                            or max(a[1], b[1]) > 1.6 * max(min(a[1], b[1]), 1e-6))
        return False


CUT_TORSOS = 1.0
_TORSO_POINTS = [Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER, Landmark.LEFT_HIP, Landmark.RIGHT_HIP]


def _centre_and_torso(pose: np.ndarray, aspect: float) -> tuple[np.ndarray, float]:
    """Hip centre and body size: the larger of torso length and shoulder width. The torso alone
    shrinks to a few pixels when it points at the camera (push-ups seen from the front), and changed
    by 2-5x from one frame to the next there, which read as a cut every rep and starved the
    recogniser of decisions; the shoulder width holds in that view, the torso in side views."""
    p = pose[_TORSO_POINTS, :2].astype(np.float64) * np.array([aspect, 1.0])
    sho, hip = (p[0] + p[1]) / 2, (p[2] + p[3]) / 2
    return hip, max(float(np.linalg.norm(sho - hip)), float(np.linalg.norm(p[0] - p[1])))


def _name_probabilities(model: Model, names: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """Name probabilities ``(N, len(NAMES))``; windows without a person are idle."""
    out = np.zeros((len(windows), len(NAMES)))
    out[:, _IDLE_INDEX] = 1.0
    ok = valid_windows(windows)
    if ok.any():
        out[ok] = model.predict_proba(windows[ok]) @ names
    return out


def classify_recording(rec: PoseRecording, model: Model | None = None, stride: int = 5,
                       config: SmootherConfig = SmootherConfig()) -> dict[str, Any]:
    """The exercise of a whole recording (any length, even under 30 frames) and its timeline.

    Returns ``exercise`` and ``confidence`` (the exercise, if windows not idle carry at least half
    of the probability mass (:data:`WHOLE_INPUT_IDLE_MAX`), with its share of that mass; else
    idle), ``probabilities`` (mean over the windows in which a person is seen, by name; over all
    windows if none is), ``class`` (the model's own top class for that exercise, e.g.
    ``wall_push_up``) and ``segments`` [{exercise, start_s, end_s}] from the smoothed decisions.
    """
    model = model if model is not None else load_model()
    empty = {"exercise": IDLE, "confidence": 1.0, "class": IDLE,
             "probabilities": {n: float(n == IDLE) for n in NAMES}, "segments": []}
    if len(rec) == 0:
        return empty
    grid, grid_ms = resample(rec.landmarks, rec.timestamp_ms)
    windows = sliding_windows(grid, stride)
    starts = np.arange(len(windows)) * stride
    space = to_model_space(windows, rec.aspect)
    ok = valid_windows(space)
    class_probs = np.zeros((len(windows), len(model.classes)))
    if ok.any():
        class_probs[ok] = model.predict_proba(space[ok])
    names = name_matrix(model.classes)
    probs = class_probs @ names
    probs[~ok, _IDLE_INDEX] = 1.0
    # The whole input's answer reads the windows that show a person: stretches where nobody is in
    # view carry no evidence of what the person does when they are (they are idle in the timeline).
    mean = probs[ok].mean(axis=0) if ok.any() else probs.mean(axis=0)
    if mean[_IDLE_INDEX] <= WHOLE_INPUT_IDLE_MAX:
        masked = mean.copy()
        masked[_IDLE_INDEX] = -1.0
        top = int(masked.argmax())
        confidence = float(mean[top] / max(1.0 - mean[_IDLE_INDEX], 1e-9))
    else:
        top, confidence = _IDLE_INDEX, float(mean[_IDLE_INDEX])
    exercise = NAMES[top]
    members = [i for i, c in enumerate(model.classes) if exercise_name(c) == exercise]
    cls = model.classes[max(members, key=lambda i: class_probs[:, i].sum())] if members else exercise

    # Warm start: a recording begins with what its first second shows, not with idle.
    smoother = DecisionSmoother(config, initial=NAMES[int(probs[:config.smooth].mean(axis=0).argmax())])
    labels = []
    for p in probs:
        smoother.push(p)
        labels.append(smoother.current)
    segments: list[dict[str, Any]] = []
    frame_s = FRAME_MS / 1000.0
    for i, name in enumerate(labels):
        # A decision speaks for the stride of frames at its window's end.
        start = grid_ms[0] / 1000.0 + (starts[i] + WINDOW_FRAMES - stride) * frame_s if i else grid_ms[0] / 1000.0
        end = min(grid_ms[0] / 1000.0 + (starts[i] + WINDOW_FRAMES) * frame_s, float(rec.timestamp_ms[-1]) / 1000.0)
        if i == len(labels) - 1:
            end = float(rec.timestamp_ms[-1]) / 1000.0
        if segments and segments[-1]["exercise"] == name:
            segments[-1]["end_s"] = round(end, 3)
        else:
            segments.append({"exercise": name, "start_s": round(max(start, grid_ms[0] / 1000.0), 3),
                             "end_s": round(end, 3)})
    return {"exercise": exercise, "confidence": round(confidence, 4), "class": cls,
            "probabilities": {n: round(float(p), 4) for n, p in zip(NAMES, mean)}, "segments": segments}
