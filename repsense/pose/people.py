"""Several people in one camera: every frame's poses, and who is who across frames.

The pose model finds up to N poses per frame, in no particular order. :class:`PeopleRecording`
keeps them as found (``(T, N, 33, 4)``, NaN-padded); :class:`PeopleTracker` gives each pose the id
of the person it belongs to, frame after frame, through crossing, short occlusion and someone
leaving and coming back (re-identified within ``reid_s``). Association from frame to frame is
done by a tracking library (motpy, chosen by measurement: docs/people.md); re-identification
after a gap compares where the person was last seen and the proportions of their body.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from repsense.errors import InputError
from repsense.pose.core import (POSE_SHAPE, Landmark, PoseRecording, checked_frames, missing_pose,
                                 source_arrays)

# A landmark counts for the person's box when the model sees it at least this well.
MIN_VISIBILITY = 0.3


@dataclass(frozen=True)
class PeopleRecording:
    """Every frame's poses, as the model found them: ``poses (T, N, 33, 4)`` float32 (slot k of a
    frame is the k-th pose found, NaN when fewer were found; slots are not identities),
    ``timestamp_ms (T,)`` strictly increasing."""

    poses: np.ndarray
    timestamp_ms: np.ndarray
    image_size: tuple[int, int] | None = None
    source: str = ""
    source_fps: float | None = None

    def __post_init__(self) -> None:
        poses, ts = checked_frames(self.poses, self.timestamp_ms, "poses", "(T, N, 33, 4)")
        object.__setattr__(self, "poses", poses)
        object.__setattr__(self, "timestamp_ms", ts)

    @classmethod
    def from_frames(cls, frames: Sequence[Sequence[np.ndarray]], timestamp_ms: Sequence[int],
                    image_size: tuple[int, int] | None = None, source: str = "",
                    source_fps: float | None = None) -> "PeopleRecording":
        n = max([len(f) for f in frames] + [1])
        poses = np.full((len(frames), n, *POSE_SHAPE), np.nan, np.float32)
        for t, found in enumerate(frames):
            for k, pose in enumerate(found):
                poses[t, k] = pose
        return cls(poses, np.asarray(timestamp_ms, np.int64), image_size, source, source_fps)

    def __len__(self) -> int:
        return int(self.poses.shape[0])

    @property
    def aspect(self) -> float:
        return 1.0 if self.image_size is None else self.image_size[0] / self.image_size[1]

    def frame(self, t: int) -> list[np.ndarray]:
        """The poses found in frame ``t``."""
        return [p for p in self.poses[t] if not np.isnan(p[:, :2]).all()]

    def save(self, path: str | pathlib.Path) -> None:
        np.savez_compressed(path, people=self.poses, timestamp_ms=self.timestamp_ms,
                            **source_arrays(self.image_size, self.source_fps))

    @classmethod
    def load(cls, path: str | pathlib.Path) -> "PeopleRecording":
        """Read a recording saved by :meth:`save`; a one-person recording (``landmarks``) is read
        as one pose per frame."""
        path = pathlib.Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                keys = set(data.files)
                size = tuple(int(v) for v in data["image_size"]) if "image_size" in keys else None
                fps = float(data["source_fps"]) if "source_fps" in keys else None
                if "people" in keys:
                    poses = data["people"]
                elif "landmarks" in keys:
                    poses = data["landmarks"][:, None]
                else:
                    raise InputError(f"{path}: not a pose recording: it needs 'people' (T, N, 33, "
                                     f"4) or 'landmarks' (T, 33, 4), it has {sorted(keys)}")
                return cls(poses, data["timestamp_ms"], size, str(path), fps)  # type: ignore[arg-type]
        except InputError:
            raise
        except (ValueError, KeyError) as exc:
            raise InputError(f"{path}: not a valid pose recording: {exc}") from None
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: cannot read the pose recording ({exc})") from None


def pose_box(pose: np.ndarray, aspect: float = 1.0) -> np.ndarray | None:
    """The box ``(x1, y1, x2, y2)`` around a pose's visible landmarks, x scaled by the image's
    aspect so that boxes are in one unit (the image height) both ways; None when too little shows."""
    xy = pose[:, :2]
    seen = np.isfinite(xy).all(axis=1) & (np.nan_to_num(pose[:, 3]) >= MIN_VISIBILITY)
    if seen.sum() < 4:
        seen = np.isfinite(xy).all(axis=1)
        if seen.sum() < 4:
            return None
    pts = xy[seen] * np.array([aspect, 1.0], np.float32)
    return np.array([*pts.min(axis=0), *pts.max(axis=0)], np.float32)


# Ratios of bone lengths that stay nearly the same whatever the person does: who they are, roughly.
_BONES = ((Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER), (Landmark.LEFT_HIP, Landmark.RIGHT_HIP),
          (Landmark.LEFT_SHOULDER, Landmark.LEFT_HIP), (Landmark.RIGHT_SHOULDER, Landmark.RIGHT_HIP),
          (Landmark.LEFT_HIP, Landmark.LEFT_KNEE), (Landmark.RIGHT_HIP, Landmark.RIGHT_KNEE),
          (Landmark.LEFT_SHOULDER, Landmark.LEFT_ELBOW),
          (Landmark.RIGHT_SHOULDER, Landmark.RIGHT_ELBOW))


@dataclass
class _Person:
    id: int
    box: np.ndarray            # last box seen
    last_ms: int
    first_ms: int
    bones: np.ndarray = field(default_factory=lambda: np.full(len(_BONES), np.nan, np.float32))
    active: bool = True


class Associator(Protocol):
    """Frame-to-frame association, from a tracking library: the library's track id for each
    detection of a frame (None: not confirmed yet)."""

    def assign(self, boxes: np.ndarray, scores: np.ndarray,
               poses: Sequence[np.ndarray]) -> list[int | None]: ...


class MotpyAssociator:
    """motpy's multi-object tracker (Kalman filter on the box, IoU matching)."""

    def __init__(self, frame_rate: float = 15.0, lost_s: float = 1.0) -> None:
        from motpy import MultiObjectTracker
        from motpy.tracker import IOUAndFeatureMatchingFunction

        matches: dict[str, np.ndarray] = {}

        class Recording(IOUAndFeatureMatchingFunction):
            """The library's matching, keeping which track took which detection."""

            def __call__(self, trackers, detections):  # type: ignore[no-untyped-def]
                m = super().__call__(trackers, detections)
                matches["ids"] = np.array([trackers[i].id for i, _ in m]) if len(m) else \
                    np.zeros(0)
                matches["dets"] = np.asarray(m)[:, 1] if len(m) else np.zeros(0, int)
                return m

        self._matches = matches
        self._mot = MultiObjectTracker(
            dt=1.0 / frame_rate,
            model_spec={"order_pos": 1, "dim_pos": 2, "order_size": 0, "dim_size": 2,
                        "q_var_pos": 5000.0, "r_var_pos": 0.1},
            matching_fn=Recording(min_iou=0.1),
            tracker_kwargs={"max_staleness": max(2.0, lost_s * frame_rate)})

    def assign(self, boxes: np.ndarray, scores: np.ndarray,
               poses: Sequence[np.ndarray]) -> list[int | None]:
        from motpy import Detection

        before = {t.id for t in self._mot.trackers}
        self._matches.clear()
        self._mot.step([Detection(box=b, score=float(s)) for b, s in zip(boxes, scores)])
        out: list[int | None] = [None] * len(boxes)
        for tid, d in zip(self._matches.get("ids", ()), self._matches.get("dets", ())):
            out[int(d)] = str(tid)  # type: ignore[call-overload]
        new = [t for t in self._mot.trackers if t.id not in before]
        for d in range(len(boxes)):
            if out[d] is None and new:
                k = int(np.argmin([np.abs(t.box() - boxes[d]).sum() for t in new]))
                out[d] = str(new.pop(k).id)  # type: ignore[call-overload]
        return out


class PeopleTracker:
    """Gives each pose of a frame the id of the person it belongs to (ids 1, 2, ... in order of
    first appearance).

    ``update(poses, timestamp_ms) -> {id: pose}``. A tracking library associates the poses' boxes
    from frame to frame (:class:`MotpyAssociator` unless another ``associator`` is given); when it
    starts a new track while someone was lost less than ``reid_s`` ago, the new track is that person
    if it appears near where they were last seen (within ``reid_distance`` of their height) and
    their body's proportions agree. At most ``max_people`` people are live at once; a pose beyond
    that is left out (the least sure first).
    """

    def __init__(self, max_people: int = 6, *, aspect: float = 1.0, frame_rate: float = 15.0,
                 reid_s: float = 10.0, reid_distance: float = 1.0, lost_s: float = 1.0,
                 associator: Associator | None = None) -> None:
        self.max_people = max_people
        self.aspect = aspect
        self.reid_ms = int(reid_s * 1000)
        self.reid_distance = reid_distance
        self.lost_ms = int(lost_s * 1000)
        self.associator = associator or MotpyAssociator(frame_rate, lost_s)
        self._track_person: dict[object, int] = {}     # library track id -> person id
        self.people: dict[int, _Person] = {}
        self._next_id = 1

    def update(self, poses: Sequence[np.ndarray], timestamp_ms: int) -> dict[int, np.ndarray]:
        t = int(timestamp_ms)
        boxes, kept = [], []
        for pose in poses:
            box = pose_box(pose, self.aspect)
            if box is not None and box[2] > box[0] and box[3] > box[1]:
                boxes.append(box)
                kept.append(pose)
        scores = np.array([float(np.mean(np.nan_to_num(p[:, 3]))) for p in kept], np.float32)
        tracks = self.associator.assign(np.array(boxes, np.float32).reshape(-1, 4), scores, kept)
        out: dict[int, np.ndarray] = {}
        for i in np.argsort(-scores, kind="stable"):
            track = tracks[i]
            if track is None:
                continue
            person = self._track_person.get(track)
            if person is None or person in out:
                person = self._claim(boxes[i], kept[i], t, set(out))
                if person is None:
                    continue
                self._track_person[track] = person
            p = self.people[person]
            p.box, p.last_ms, p.active = boxes[i], t, True
            _blend_bones(p, kept[i], self.aspect)
            out[person] = kept[i]
        for p in self.people.values():
            if p.id not in out and t - p.last_ms > self.lost_ms:
                p.active = False
        return out

    def _claim(self, box: np.ndarray, pose: np.ndarray, t: int, taken: set[int]) -> int | None:
        """The id for a new track: a person lost within ``reid_s`` who was last seen near here and
        looks alike, else a new person (None when ``max_people`` are already live)."""
        height = max(float(box[3] - box[1]), 1e-3)
        centre = (box[:2] + box[2:]) / 2
        bones = _bone_ratios(pose, self.aspect)
        best, best_cost = None, np.inf
        for p in self.people.values():
            if p.id in taken or p.active or t - p.last_ms > self.reid_ms:
                continue
            last_centre = (p.box[:2] + p.box[2:]) / 2
            scale = max(height, float(p.box[3] - p.box[1]))
            dist = float(np.linalg.norm(centre - last_centre)) / scale
            if dist > self.reid_distance:
                continue
            both = np.isfinite(bones) & np.isfinite(p.bones)
            shape = float(np.mean(np.abs(bones[both] - p.bones[both]))) if both.any() else 0.0
            cost = dist + 2.0 * shape
            if cost < best_cost:
                best, best_cost = p.id, cost
        if best is not None:
            return best
        live = sum(1 for p in self.people.values() if p.active or p.id in taken)
        if live >= self.max_people:
            return None
        pid = self._next_id
        self._next_id += 1
        self.people[pid] = _Person(pid, box, t, t)
        return pid


def _bone_ratios(pose: np.ndarray, aspect: float) -> np.ndarray:
    xy = pose[:, :2] * np.array([aspect, 1.0], np.float32)
    lengths = np.array([np.linalg.norm(xy[a] - xy[b]) for a, b in _BONES], np.float32)
    vis = np.nan_to_num(pose[:, 3])
    ok = np.array([vis[a] >= 0.5 and vis[b] >= 0.5 for a, b in _BONES])
    torso = np.nanmean(lengths[2:4]) if ok[2:4].any() else np.nan
    ratios = lengths / torso if np.isfinite(torso) and torso > 0 else np.full_like(lengths, np.nan)
    ratios[~ok] = np.nan
    return ratios


def _blend_bones(p: _Person, pose: np.ndarray, aspect: float, rate: float = 0.1) -> None:
    r = _bone_ratios(pose, aspect)
    new = np.isnan(p.bones) & np.isfinite(r)
    p.bones[new] = r[new]
    both = np.isfinite(p.bones) & np.isfinite(r)
    p.bones[both] += rate * (r[both] - p.bones[both])


@dataclass(frozen=True)
class TrackedPerson:
    """One person of a recording: their id and their poses from the frame they were first seen to
    the last (NaN rows in between where they were not seen)."""

    id: int
    recording: PoseRecording

    @property
    def first_s(self) -> float:
        return float(self.recording.timestamp_ms[0]) / 1000.0

    @property
    def last_s(self) -> float:
        return float(self.recording.timestamp_ms[-1]) / 1000.0


def track_people(rec: PeopleRecording, max_people: int | None = None,
                 tracker: PeopleTracker | None = None) -> list[TrackedPerson]:
    """Tell the people of a recording apart: one :class:`TrackedPerson` each, by id."""
    fps = 15.0
    if len(rec) > 1:
        fps = 1000.0 * (len(rec) - 1) / float(rec.timestamp_ms[-1] - rec.timestamp_ms[0])
    tracker = tracker or PeopleTracker(max_people or rec.poses.shape[1], aspect=rec.aspect,
                                       frame_rate=fps)
    seen: dict[int, dict[int, np.ndarray]] = {}
    for t in range(len(rec)):
        for pid, pose in tracker.update(rec.frame(t), int(rec.timestamp_ms[t])).items():
            seen.setdefault(pid, {})[t] = pose
    people = []
    for pid in sorted(seen):
        frames = seen[pid]
        first, last = min(frames), max(frames)
        lm = np.stack([frames.get(t, missing_pose()) for t in range(first, last + 1)])
        people.append(TrackedPerson(pid, PoseRecording(
            lm, rec.timestamp_ms[first:last + 1], rec.image_size,
            f"{rec.source}#person{pid}" if rec.source else f"person {pid}", rec.source_fps)))
    return people


__all__ = ["Associator", "MotpyAssociator", "PeopleRecording", "PeopleTracker", "TrackedPerson", "pose_box", "track_people"]
