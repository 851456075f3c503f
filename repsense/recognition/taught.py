"""The recogniser's add-on for taught exercises: prototypes of the taught set's windows, consulted
beside the shipped model without retraining it.

Teaching keeps the window features (:func:`~repsense.recognition.features.window_features`, the
shipped trees' own input) of every one-second window of the taught set, in the user's library
beside the description (``<name>.npz``). A window of a new pose stream is that exercise when it
lies as close to one of them as the taught reps lie to each other: its nearest-prototype distance
over the set's own (the distances between its windows a second or more apart, the 90th
percentile: ``scale``) is at most ``MATCH``. :class:`TaughtRecognizer` wraps the shipped
:class:`~repsense.recognition.recognizer.ExerciseRecognizer`: while the windows of the last second
or so match a taught exercise it reports that one, else whatever the shipped model says.
"""

from __future__ import annotations

import collections
import pathlib
from dataclasses import dataclass

import numpy as np

from repsense.engine.events import ExerciseDetected
from repsense.pose import validate_pose
from repsense.recognition.features import (FRAME_MS, WINDOW_FRAMES, fill_missing, frame_features,
                                           resample, sliding_windows, valid_windows,
                                           window_features)

# A window matches a taught exercise when its nearest-prototype distance is at most MATCH times
# the taught set's own spread (see the module doc; chosen on the dev clips, docs/teach.md).
MATCH = 1.0
# Windows a second or more apart stand for "another rep" when the set's spread is measured.
APART_FRAMES = WINDOW_FRAMES
STRIDE = 5
# Decisions (every STRIDE frames) averaged, and the share that must match to enter / stay.
SMOOTH = 6
ENTER, STAY = 0.7, 0.3   # ENTER at least the tracker's AUTO_SURE, so the description counts
SUFFIX = ".npz"


def window_vectors(landmarks: np.ndarray, timestamp_ms: np.ndarray, aspect: float,
                   stride: int = STRIDE) -> tuple[np.ndarray, np.ndarray]:
    """Window features ``(N, W)`` of a recording's one-second windows with a person in them, and
    each window's first grid frame index ``(N,)``."""
    from repsense.recognition.recognizer import to_model_space

    grid, _ = resample(np.asarray(landmarks), np.asarray(timestamp_ms))
    if len(grid) == 0:
        return np.empty((0, 0), np.float32), np.empty((0,), np.int64)
    windows = to_model_space(sliding_windows(grid, stride), aspect)
    starts = np.arange(len(windows)) * stride
    ok = valid_windows(windows)
    if not ok.any():
        return np.empty((0, 0), np.float32), np.empty((0,), np.int64)
    return _features(windows[ok]), starts[ok]


def _features(windows: np.ndarray) -> np.ndarray:
    return np.nan_to_num(window_features(frame_features(fill_missing(windows))), nan=0.0)


@dataclass
class Prototypes:
    """One taught exercise's windows and its own spread."""

    name: str
    features: np.ndarray      # (N, W)
    scale: float

    @classmethod
    def learn(cls, name: str, landmarks: np.ndarray, timestamp_ms: np.ndarray,
              aspect: float) -> "Prototypes":
        from repsense.errors import InputError

        feats, starts = window_vectors(landmarks, timestamp_ms, aspect)
        if len(feats) < 2:
            raise InputError("the recording is too short for the recogniser to learn it "
                             "(under two seconds with the person in view)")
        d = np.linalg.norm(feats[:, None, :] - feats[None, :, :], axis=-1)
        near = np.abs(starts[:, None] - starts[None, :]) < APART_FRAMES
        d[near] = np.inf
        nearest = d.min(axis=1)
        nearest = nearest[np.isfinite(nearest)]
        if len(nearest) == 0:   # under two seconds of windows: the closest other window
            d = np.linalg.norm(feats[:, None, :] - feats[None, :, :], axis=-1)
            np.fill_diagonal(d, np.inf)
            nearest = d.min(axis=1)
        return cls(name, feats.astype(np.float32), float(max(np.percentile(nearest, 90), 1e-3)))

    def distance(self, feats: np.ndarray) -> np.ndarray:
        """Nearest-prototype distance of windows ``(N, W)`` over the set's spread ``(N,)``."""
        if len(feats) == 0:
            return np.empty((0,))
        d = np.linalg.norm(feats[:, None, :] - self.features[None, :, :], axis=-1).min(axis=1)
        return d / self.scale

    def save(self, path: str | pathlib.Path) -> None:
        np.savez_compressed(path, name=np.array(self.name), features=self.features,
                            scale=np.array(self.scale))

    @classmethod
    def load(cls, path: str | pathlib.Path) -> "Prototypes":
        with np.load(path, allow_pickle=False) as z:
            return cls(str(z["name"]), np.asarray(z["features"], np.float32), float(z["scale"]))

    def to_bytes(self) -> bytes:
        import io

        buf = io.BytesIO()
        self.save(buf)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Prototypes":
        import io

        return cls.load(io.BytesIO(data))


def taught_prototypes(folder: pathlib.Path | None = None) -> list[Prototypes]:
    """The prototypes of every exercise in the user's library that has them."""
    from repsense.engine.exercises import library_dir, user_catalog

    folder = folder if folder is not None else library_dir()
    out = []
    for name in sorted(user_catalog()):
        path = folder / f"{name}{SUFFIX}"
        if path.is_file():
            try:
                out.append(Prototypes.load(path))
            except (OSError, ValueError, KeyError):
                continue
    return out


class TaughtRecognizer:
    """The shipped recogniser with taught exercises beside it (same ``update`` interface): every
    STRIDE frames the last second is compared with each taught exercise's prototypes; a taught
    exercise is current once ENTER of the last SMOOTH decisions matched it, and stays until fewer
    than STAY do, when the shipped recogniser's current exercise is reported again."""

    def __init__(self, base: object, prototypes: list[Prototypes], aspect: float = 1.0,
                 person_id: int = 0) -> None:
        self.base = base
        self.prototypes = prototypes
        self.aspect = float(aspect)
        self.person_id = person_id
        self._poses: collections.deque[np.ndarray] = collections.deque()
        self._times: collections.deque[int] = collections.deque()
        self._last_ms: float | None = None
        self._recent: collections.deque[np.ndarray] = collections.deque(maxlen=SMOOTH)
        self.taught: str | None = None       # the taught exercise being reported, if any
        self._base_current: tuple[str, float] | None = None

    @property
    def current(self) -> tuple[str, float]:
        if self.taught is not None:
            k = [p.name for p in self.prototypes].index(self.taught)
            return self.taught, float(np.mean([r[k] for r in self._recent]))
        return self.base.current  # type: ignore[attr-defined,no-any-return]

    @property
    def last_probabilities(self) -> dict[str, float]:
        return getattr(self.base, "last_probabilities", {})

    def update(self, pose: np.ndarray, timestamp_ms: int) -> ExerciseDetected | None:
        pose = validate_pose(pose)
        base_event = self.base.update(pose, timestamp_ms)  # type: ignore[attr-defined]
        self._poses.append(pose)
        self._times.append(int(timestamp_ms))
        while self._times[0] < timestamp_ms - (WINDOW_FRAMES + 3) * FRAME_MS:
            self._poses.popleft()
            self._times.popleft()
        event = None
        if self._times[-1] - self._times[0] >= (WINDOW_FRAMES - 1) * FRAME_MS * 0.9 and \
                (self._last_ms is None or timestamp_ms - self._last_ms >= STRIDE * FRAME_MS - 1):
            self._last_ms = timestamp_ms
            event = self._decide(int(timestamp_ms))
        if event is not None:
            return event
        if self.taught is None:
            return base_event
        return None     # the shipped recogniser changed its mind under a taught exercise: later

    def _decide(self, t: int) -> ExerciseDetected | None:
        grid, _ = resample(np.asarray(self._poses), np.asarray(self._times))
        window = sliding_windows(grid[-WINDOW_FRAMES:], WINDOW_FRAMES)[:1]
        from repsense.recognition.recognizer import to_model_space

        space = to_model_space(window, self.aspect)
        if valid_windows(space).all():
            feats = _features(space)
            match = np.array([float(p.distance(feats)[0] <= MATCH) for p in self.prototypes])
        else:
            match = np.zeros(len(self.prototypes))
        self._recent.append(match)
        share = np.mean(self._recent, axis=0)
        if self.taught is not None:
            k = [p.name for p in self.prototypes].index(self.taught)
            if share[k] >= STAY:
                return None
            self.taught = None
            name, conf = self.base.current  # type: ignore[attr-defined]
            return ExerciseDetected(t, name, round(float(conf), 4), person_id=self.person_id)
        if len(self._recent) < SMOOTH or share.max() < ENTER:
            return None
        k = int(share.argmax())
        self.taught = self.prototypes[k].name
        return ExerciseDetected(t, self.taught, round(float(share[k]), 4), person_id=self.person_id)


def with_taught(recognizer: object, aspect: float = 1.0, person_id: int = 0) -> object:
    """``recognizer`` wrapped with the user's taught exercises, or itself when there are none."""
    prototypes = taught_prototypes()
    return TaughtRecognizer(recognizer, prototypes, aspect, person_id) if prototypes else recognizer


def classify_windows(landmarks: np.ndarray, timestamp_ms: np.ndarray, aspect: float,
                     prototypes: list[Prototypes]) -> dict[str, float]:
    """Share of a recording's windows that match each taught exercise (for reports and tests)."""
    feats, _ = window_vectors(landmarks, timestamp_ms, aspect)
    return {p.name: float(np.mean(p.distance(feats) <= MATCH)) if len(feats) else 0.0
            for p in prototypes}
