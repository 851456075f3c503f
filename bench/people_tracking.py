"""Which tracking library keeps people's ids best: ID switches on several-people videos.

    python bench/people_tracking.py [--site DIR]

For each candidate library (frame-to-frame association inside repsense.pose.people.PeopleTracker)
and each scenario it counts, over the poses the model found:
- switches: times a true person's id changes from one frame to their next (a person back after a
  gap with a new id is one switch);
- wrong: frames in which an id is given to someone other than the person it mostly belongs to;
- unassigned: poses found but given no id.
Scenarios: the real videos of bench/people_videos.py (truth: which strip the hips are in) and a
synthetic crossing (two real recordings of ../shared cached poses moved across each other, the one
behind hidden while they overlap). Candidates that cannot be installed beside repsense (see
docs/people.md) can be measured from a separate folder: pip install --no-deps --target DIR norfair
trackers supervision defusedxml pydeprecate, then --site DIR.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
# Pose recordings of the dev clips (analyze --save-pose), for the synthetic crossing.
POSES = pathlib.Path(os.environ.get("REPSENSE_POSE_CACHE", "/work/cache/poses"))


class NorfairAssociator:
    """norfair on the body's keypoints (mean distance of the visible ones)."""

    def __init__(self, frame_rate: float = 15.0, lost_s: float = 1.0, aspect: float = 1.0) -> None:
        from norfair import Tracker

        self.aspect = aspect
        self._tr = Tracker(distance_function="mean_euclidean", distance_threshold=0.25,
                           hit_counter_max=max(2, int(lost_s * frame_rate)),
                           initialization_delay=0, detection_threshold=0.3)

    def assign(self, boxes: np.ndarray, scores: np.ndarray,
               poses: Sequence[np.ndarray]) -> list[object | None]:
        from norfair import Detection

        body = list(range(11, 29))
        dets = []
        for i, p in enumerate(poses):
            pts = np.nan_to_num(p[body, :2]) * np.array([self.aspect, 1.0])
            dets.append(Detection(points=pts, scores=np.nan_to_num(p[body, 3]), data=i))
        out: list[object | None] = [None] * len(poses)
        for obj in self._tr.update(dets):
            d = obj.last_detection
            if d is not None and any(d is x for x in dets):
                out[d.data] = obj.id
        return out


class TrackersAssociator:
    """Roboflow's ``trackers`` (ByteTrack or OC-SORT) on the poses' boxes."""

    def __init__(self, kind: str, frame_rate: float = 15.0, lost_s: float = 1.0) -> None:
        import trackers

        cls = {"bytetrack": trackers.ByteTrackTracker, "ocsort": trackers.OCSORTTracker}[kind]
        self._tr = cls(lost_track_buffer=max(2, int(lost_s * 30)), frame_rate=frame_rate,
                       minimum_consecutive_frames=1, high_conf_det_threshold=0.3)

    def assign(self, boxes: np.ndarray, scores: np.ndarray,
               poses: Sequence[np.ndarray]) -> list[object | None]:
        import supervision as sv

        if len(boxes):
            dets = sv.Detections(xyxy=boxes.astype(np.float32), confidence=np.clip(scores, 0.31, 1),
                                 class_id=np.zeros(len(boxes), int),
                                 data={"index": np.arange(len(boxes))})
        else:
            dets = sv.Detections.empty()
        res = self._tr.update(dets)
        out: list[object | None] = [None] * len(boxes)
        for j in range(len(res)):
            if res.tracker_id[j] >= 0:
                out[int(res.data["index"][j])] = int(res.tracker_id[j])
        return out


def candidates(aspect: float, fps: float) -> dict[str, Callable[[], object]]:
    from repsense.pose.people import MotpyAssociator

    c: dict[str, Callable[[], object]] = {"motpy": lambda: MotpyAssociator(fps)}
    try:
        import norfair  # noqa: F401

        c["norfair"] = lambda: NorfairAssociator(fps, aspect=aspect)
    except ImportError:
        pass
    try:
        import trackers  # noqa: F401

        c["trackers-bytetrack"] = lambda: TrackersAssociator("bytetrack", fps)
        c["trackers-ocsort"] = lambda: TrackersAssociator("ocsort", fps)
    except ImportError:
        pass
    return c


def score(frames: Sequence[Sequence[np.ndarray]], truth: Sequence[Sequence[int]],
          timestamps: Sequence[int], make_tracker: Callable[[], object]) -> dict[str, int]:
    """Run a tracker over frames of poses with their true person index; count the errors."""
    tracker = make_tracker()
    by_truth: dict[int, list[int]] = {}
    pairs: list[tuple[int, int]] = []
    unassigned = 0
    for poses, labels, t in zip(frames, truth, timestamps):
        out = tracker.update(list(poses), t)  # type: ignore[attr-defined]
        ident = {id(p): pid for pid, p in out.items()}
        for p, lab in zip(poses, labels):
            pid = ident.get(id(p))
            if pid is None:
                unassigned += 1
                continue
            by_truth.setdefault(lab, []).append(pid)
            pairs.append((pid, lab))
    switches = sum(int(np.sum(np.diff(ids) != 0)) for ids in by_truth.values())
    owner = {pid: Counter(l for q, l in pairs if q == pid).most_common(1)[0][0]
             for pid in {q for q, _ in pairs}}
    wrong = sum(owner[pid] != lab for pid, lab in pairs)
    return {"switches": switches, "wrong": wrong, "unassigned": unassigned,
            "ids": len(owner)}


def real_scenario(name: str):  # type: ignore[no-untyped-def]
    from bench.people_videos import SPECS, bounds, raw_poses, strip_of
    from repsense.pose import Landmark

    spec = SPECS[name]
    rec = raw_poses(spec)
    cuts = bounds(spec)
    frames = [rec.frame(t) for t in range(len(rec))]
    hips = (Landmark.LEFT_HIP, Landmark.RIGHT_HIP)
    truth = [[strip_of(float(np.nanmean(p[list(hips), 0])), cuts) for p in f] for f in frames]
    return frames, truth, list(rec.timestamp_ms), rec.aspect


def crossing_scenario(seconds: float = 8.0):  # type: ignore[no-untyped-def]
    """Two real recordings (a squat seen from the side, a squat from the front) walked across a
    16:9 frame in opposite directions; the one behind is hidden while their boxes overlap."""
    from repsense.pose import PoseRecording
    from repsense.pose.people import pose_box

    a = PoseRecording.load(POSES / "test_video_squat.npz")
    b = PoseRecording.load(POSES / "aiTrainer_squats.npz")
    n = min(len(a), len(b), int(seconds * 15))
    aspect = 16 / 9
    frames, truth = [], []
    for t in range(n):
        f, lab = [], []
        u = t / max(n - 1, 1)
        for k, (rec, start, end) in enumerate(((a, 0.1, 0.9), (b, 0.9, 0.1))):
            p = rec.landmarks[t].copy()
            if np.isnan(p[:, 0]).all():
                continue
            own_w = rec.aspect / aspect          # the recording's width in the frame's widths
            centre = np.nanmean(p[:, 0])
            p[:, 0] = (p[:, 0] - centre) * own_w * 0.5 + start + (end - start) * u
            f.append(p)
            lab.append(k)
        if len(f) == 2:
            ba, bb = (pose_box(p, aspect) for p in f)
            if ba is not None and bb is not None:
                ix = max(0.0, min(ba[2], bb[2]) - max(ba[0], bb[0]))
                if ix > 0.3 * min(ba[2] - ba[0], bb[2] - bb[0]):
                    f, lab = f[:1], lab[:1]          # b walks behind a: hidden
        frames.append(f)
        truth.append(lab)
    return frames, truth, list(a.timestamp_ms[:n]), aspect


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--site", help="folder with candidate libraries installed (--target)")
    args = ap.parse_args(argv)
    if args.site:
        sys.path.append(args.site)
    from repsense.pose.people import PeopleTracker

    scenarios = {}
    if (POSES / "test_video_squat.npz").exists() and (POSES / "aiTrainer_squats.npz").exists():
        scenarios["crossing"] = crossing_scenario()
    else:
        print(f"no cached poses in {POSES} (REPSENSE_POSE_CACHE): the crossing is left out")
    for name in ("two", "delayed", "three", "gap"):
        scenarios[name] = real_scenario(name)
    print(f"{'library':20s} {'re-id':5s} {'scenario':10s} switches wrong unassigned ids")
    for lib in candidates(1.0, 15.0):
        for reid_s in (0.0, 10.0):
            total: Counter[str] = Counter()
            for name, (frames, truth, ts, aspect) in scenarios.items():
                people = max(max((len(f) for f in frames), default=1), 2)
                make = candidates(aspect, 15.0)[lib]
                s = score(frames, truth, ts, lambda: PeopleTracker(
                    people, aspect=aspect, reid_s=reid_s, associator=make()))  # type: ignore[arg-type]
                total.update(s)
                print(f"{lib:20s} {reid_s:5.0f} {name:10s} {s['switches']:8d} {s['wrong']:5d} "
                      f"{s['unassigned']:10d} {s['ids']:3d}")
            print(f"{lib:20s} {reid_s:5.0f} {'all':10s} {total['switches']:8d} {total['wrong']:5d} "
                  f"{total['unassigned']:10d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
