"""Video sources: decode a file into timed frames, and turn a video into a pose recording."""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from repsense.errors import InputError
from repsense.pose import PoseRecording, missing_pose

# Pose is estimated on frames no further apart than 1 / this rate; faster videos skip frames.
# Counting needs ~10 samples per rep and the fastest reps (jumping jacks) take ~0.7 s.
# NOTE: this halves the pose cost on 30 fps video, the dominant cost: 1.6-2.2x real time on 2 cores
# with the full model, against under 1x at every frame (docs/benchmarks.md, throughput).
DEFAULT_POSE_FPS = 15.0


TRACKING_WARMUP_S = 1.0


@dataclass(frozen=True)
class VideoInfo:
    path: str
    fps: float
    frame_count: int
    width: int
    height: int


def probe(path: str | pathlib.Path) -> VideoInfo:
    """Open a video and read its first frame; raise InputError saying what is wrong otherwise."""
    import cv2

    p = pathlib.Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if not p.is_file():
        raise InputError(f"{p}: not a file")
    if p.stat().st_size == 0:
        raise InputError(f"{p}: the file is empty")
    cap = cv2.VideoCapture(str(p))
    try:
        if not cap.isOpened():
            raise InputError(f"{p}: cannot open as a video (not a video, or a codec OpenCV/FFmpeg "
                             "cannot decode); convert it with e.g. 'ffmpeg -i IN -c:v libx264 OUT.mp4'")
        ok, frame = cap.read()
        if not ok or frame is None:
            raise InputError(f"{p}: the video has no decodable frames (empty, truncated or an "
                             "unsupported codec)")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not (0.5 <= fps <= 1000.0):
            fps = 30.0  # unknown rate: timestamps then come from the container or this guess
        return VideoInfo(str(p), fps, int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
                         frame.shape[1], frame.shape[0])
    finally:
        cap.release()


def iter_frames(path: str | pathlib.Path, start_s: float | None = None, end_s: float | None = None,
                max_fps: float | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(frame_index, timestamp_ms, bgr)`` from the video. Frames outside [start, end] are
    skipped, and so is a frame whenever skipping it keeps the gap between yielded frames within
    ``1 / max_fps`` (a 30 fps video gives 15 fps at max_fps=15, a 25 fps video all its frames).
    Skipped frames are not colour-converted. Timestamps come from the container where they
    increase, else from the frame rate."""
    import cv2

    info = probe(path)
    cap = cv2.VideoCapture(str(path))
    gap_ms = 1000.0 / max_fps if max_fps else 0.0
    frame_ms = 1000.0 / info.fps
    kept_ts = -1e18
    last_ts = -1
    index = -1
    try:
        while True:
            if not cap.grab():
                break
            index += 1
            ts = cap.get(cv2.CAP_PROP_POS_MSEC)
            nominal = index * 1000.0 / info.fps
            if not np.isfinite(ts) or ts <= last_ts or abs(ts - nominal) > 5000:
                ts = nominal
            ts_ms = int(round(ts))
            if ts_ms <= last_ts:
                ts_ms = last_ts + 1
            last_ts = ts_ms
            if start_s is not None and ts_ms < start_s * 1000.0:
                continue
            if end_s is not None and ts_ms > end_s * 1000.0:
                break
            # Skip a frame only if the next one still keeps the gap within 1 / max_fps.
            if gap_ms and (ts_ms - kept_ts) + frame_ms <= gap_ms + 0.1 * frame_ms:
                continue
            kept_ts = ts_ms
            ok, frame = cap.retrieve()
            if not ok or frame is None:
                break  # truncated: keep what was decoded so far
            yield index, ts_ms, frame
    finally:
        cap.release()


def pose_frames(path: str | pathlib.Path, start_s: float | None = None,
                end_s: float | None = None, max_fps: float | None = DEFAULT_POSE_FPS
                ) -> Iterator[tuple[int, int, np.ndarray, bool]]:
    """The frames the pose model sees for a span: ``(index, timestamp_ms, bgr, in_span)``.

    The model tracks the person from frame to frame, and started cold at ``start_s`` its first
    poses are rougher, so frames from TRACKING_WARMUP_S earlier come too, with ``in_span`` False.
    Extraction and annotation both read frames through here, so they see the same frames.
    """
    first_s = None if start_s is None else max(0.0, start_s - TRACKING_WARMUP_S)
    for index, ts, bgr in iter_frames(path, first_s, end_s, max_fps):
        yield index, ts, bgr, start_s is None or ts >= start_s * 1000.0


def extract_pose(path: str | pathlib.Path, backend: object | None = None, *,
                 start_s: float | None = None, end_s: float | None = None,
                 max_fps: float | None = DEFAULT_POSE_FPS, model: str = "full",
                 progress: Callable[[int], None] | None = None) -> PoseRecording:
    """Run the pose model over a video and return the recording (NaN rows where nobody was found).

    ``progress(frame_index)`` is called as decoding advances.
    """
    import cv2

    from repsense.pose.backends import create_backend

    info = probe(path)
    own = backend is None
    be = create_backend(model) if backend is None else backend
    poses: list[np.ndarray] = []
    stamps: list[int] = []
    unseen: list[float] = []
    try:
        for index, ts, bgr, in_span in pose_frames(path, start_s, end_s, max_fps):
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            pose = be.estimate(rgb, ts)  # type: ignore[attr-defined]
            if not in_span:
                continue
            if pose is None:
                unseen.append(float(bgr[::8, ::8].mean()))
            poses.append(missing_pose() if pose is None else pose)
            stamps.append(ts)
            if progress is not None:
                progress(index)
    finally:
        if own:
            be.close()  # type: ignore[attr-defined]
    if not poses:
        raise InputError(f"{path}: no frames in the requested time span")
    return PoseRecording(np.stack(poses), np.asarray(stamps, np.int64), (info.width, info.height),
                         source=str(path), source_fps=info.fps,
                         unseen_brightness=float(np.mean(unseen)) if unseen else None)
