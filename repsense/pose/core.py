"""The one pose currency of repsense.

A pose is a float32 array ``(33, 4)``: x, y in normalised image coordinates, z (depth, same
scale as x, hip centre at 0) and visibility, in MediaPipe's landmark order named by
:class:`Landmark`. A sequence is ``(T, 33, 4)``. A missing person is a row of NaN, never zeros.
"""

from __future__ import annotations

import enum
import pathlib
from dataclasses import dataclass

import numpy as np

from repsense.errors import InputError

N_LANDMARKS = 33
POSE_SHAPE = (N_LANDMARKS, 4)


class Landmark(enum.IntEnum):
    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


# Bones drawn for a skeleton (pairs of landmarks), the body without the face.
SKELETON: tuple[tuple[Landmark, Landmark], ...] = (
    (Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER),
    (Landmark.LEFT_SHOULDER, Landmark.LEFT_ELBOW), (Landmark.LEFT_ELBOW, Landmark.LEFT_WRIST),
    (Landmark.RIGHT_SHOULDER, Landmark.RIGHT_ELBOW), (Landmark.RIGHT_ELBOW, Landmark.RIGHT_WRIST),
    (Landmark.LEFT_SHOULDER, Landmark.LEFT_HIP), (Landmark.RIGHT_SHOULDER, Landmark.RIGHT_HIP),
    (Landmark.LEFT_HIP, Landmark.RIGHT_HIP),
    (Landmark.LEFT_HIP, Landmark.LEFT_KNEE), (Landmark.LEFT_KNEE, Landmark.LEFT_ANKLE),
    (Landmark.RIGHT_HIP, Landmark.RIGHT_KNEE), (Landmark.RIGHT_KNEE, Landmark.RIGHT_ANKLE),
    (Landmark.LEFT_ANKLE, Landmark.LEFT_HEEL), (Landmark.LEFT_HEEL, Landmark.LEFT_FOOT_INDEX),
    (Landmark.RIGHT_ANKLE, Landmark.RIGHT_HEEL), (Landmark.RIGHT_HEEL, Landmark.RIGHT_FOOT_INDEX),
)


def missing_pose() -> np.ndarray:
    """The pose of a frame where nobody was found: all NaN."""
    return np.full(POSE_SHAPE, np.nan, dtype=np.float32)


def validate_pose(pose: np.ndarray) -> np.ndarray:
    """Return ``pose`` as float32 ``(33, 4)`` or raise ValueError naming expected and actual shape."""
    arr = np.asarray(pose, dtype=np.float32)
    if arr.shape != POSE_SHAPE:
        raise ValueError(f"a pose must have shape {POSE_SHAPE}, got {arr.shape}")
    return arr


def is_missing(pose: np.ndarray) -> bool:
    return bool(np.isnan(pose[:, :2]).all())


def checked_frames(poses: np.ndarray, timestamp_ms: np.ndarray, name: str,
                   shape: str) -> tuple[np.ndarray, np.ndarray]:
    """A recording's poses as float32 (``shape``: ``(T, 33, 4)`` or ``(T, N, 33, 4)``) and its
    timestamps as int64 ``(T,)``; ValueError when the shapes are off or the timestamps do not
    strictly increase."""
    arr = np.asarray(poses, dtype=np.float32)
    ts = np.asarray(timestamp_ms, dtype=np.int64)
    if arr.ndim != shape.count(",") + 1 or arr.shape[-2:] != POSE_SHAPE:
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    if ts.shape != (arr.shape[0],):
        raise ValueError(f"timestamp_ms must have shape ({arr.shape[0]},), got {ts.shape}")
    if ts.size > 1 and not (np.diff(ts) > 0).all():
        raise ValueError("timestamp_ms must be strictly increasing")
    return arr, ts


def source_arrays(image_size: tuple[int, int] | None,
                  source_fps: float | None) -> dict[str, np.ndarray]:
    """What a saved recording keeps of its source, when known: ``image_size`` and ``source_fps``."""
    extra: dict[str, np.ndarray] = {}
    if image_size is not None:
        extra["image_size"] = np.asarray(image_size, np.int64)
    if source_fps is not None:
        extra["source_fps"] = np.float64(source_fps)
    return extra


@dataclass(frozen=True)
class PoseRecording:
    """A pose sequence with the source timestamp of every frame.

    ``landmarks`` is float32 ``(T, 33, 4)``; ``timestamp_ms`` int64 ``(T,)``, strictly increasing.
    ``image_size`` is (width, height) of the source frames when known: angles need the aspect ratio.
    ``source_fps`` is the frame rate of the video the poses came from (poses may skip frames).
    """

    landmarks: np.ndarray
    timestamp_ms: np.ndarray
    image_size: tuple[int, int] | None = None
    source: str = ""
    source_fps: float | None = None
    # Mean brightness (0-255) of the video frames in which nobody was found, when decoded here
    # (not saved): tells "too dark" from "nobody there".
    unseen_brightness: float | None = None

    def __post_init__(self) -> None:
        lm, ts = checked_frames(self.landmarks, self.timestamp_ms, "landmarks", "(T, 33, 4)")
        object.__setattr__(self, "landmarks", lm)
        object.__setattr__(self, "timestamp_ms", ts)

    def __len__(self) -> int:
        return int(self.landmarks.shape[0])

    @property
    def aspect(self) -> float:
        """Width / height of the source image (1.0 when unknown)."""
        if self.image_size is None:
            return 1.0
        return self.image_size[0] / self.image_size[1]

    @property
    def fps(self) -> float:
        if len(self) < 2:
            return 0.0
        return float(1000.0 * (len(self) - 1) / (self.timestamp_ms[-1] - self.timestamp_ms[0]))

    def save(self, path: str | pathlib.Path) -> None:
        np.savez_compressed(path, landmarks=self.landmarks, timestamp_ms=self.timestamp_ms,
                            **source_arrays(self.image_size, self.source_fps))

    @classmethod
    def load(cls, path: str | pathlib.Path) -> "PoseRecording":
        """Read an ``.npz`` pose recording; raise InputError with a clear reason when it is not one."""
        path = pathlib.Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                keys = set(data.files)
                if not {"landmarks", "timestamp_ms"} <= keys:
                    raise InputError(
                        f"{path}: not a pose recording: it needs arrays 'landmarks' (T, 33, 4) and "
                        f"'timestamp_ms' (T,), it has {sorted(keys) or 'none'}")
                size = tuple(int(v) for v in data["image_size"]) if "image_size" in keys else None
                fps = float(data["source_fps"]) if "source_fps" in keys else None
                return cls(data["landmarks"], data["timestamp_ms"], size,  # type: ignore[arg-type]
                           source=str(path), source_fps=fps)
        except InputError:
            raise
        except ValueError as exc:
            raise InputError(f"{path}: not a valid pose recording: {exc}") from None
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: cannot read the pose recording ({exc})") from None


_CSV_LANDMARKS = {lm.name.lower(): lm for lm in Landmark}


def read_landmark_csv(path: str | pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    """A table of labelled frames (``label,<landmark>_x,<landmark>_y,<landmark>_z,<landmark>_v,...``,
    the layout of the form-label CSVs) as ``(labels (N,), poses (N, 33, 4))``. Landmarks the file
    lacks are NaN; other columns (e.g. precomputed angles) are ignored."""
    import csv

    path = pathlib.Path(path)
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None
    if not rows or not rows[0] or rows[0][0] != "label":
        raise InputError(f"{path}: expected a header starting with 'label'")
    header = rows[0]
    cols = []
    for i, col in enumerate(header[1:], 1):
        name, _, comp = col.rpartition("_")
        if name in _CSV_LANDMARKS and comp in ("x", "y", "z", "v"):
            cols.append((i, _CSV_LANDMARKS[name], "xyzv".index(comp)))
    if not cols:
        raise InputError(f"{path}: no landmark columns (e.g. left_shoulder_x)")
    body = [r for r in rows[1:] if r]
    labels = np.array([r[0].strip() for r in body])
    poses = np.full((len(body), 33, 4), np.nan, np.float32)
    try:
        vals = np.array([[float(r[i]) for i, _, _ in cols] for r in body], np.float32)
    except (ValueError, IndexError) as exc:
        raise InputError(f"{path}: malformed row ({exc})") from None
    for k, (_, lm, comp) in enumerate(cols):
        poses[:, lm, comp] = vals[:, k] if len(body) else []
    return labels, poses
