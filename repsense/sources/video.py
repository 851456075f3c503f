"""Video sources: decode a file into timed frames, and turn a video into a pose recording."""

from __future__ import annotations

import logging
import pathlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from repsense.errors import InputError
from repsense.logs import quiet_ffmpeg, quiet_native_stderr
from repsense.pose import PoseRecording, missing_pose
from repsense.pose.people import PeopleRecording

log = logging.getLogger(__name__)

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

    @property
    def duration_s(self) -> float | None:
        """The length the container announces (None when it does not say)."""
        return self.frame_count / self.fps if self.frame_count > 0 else None


# The first bytes of container formats: a file that starts like a video but cannot be opened is
# truncated or corrupt, not "not a video".
_VIDEO_MAGIC = (b"ftyp", b"RIFF", b"\x1aE\xdf\xa3", b"OggS", b"FLV", b"\x00\x00\x01\xba",
                b"moov", b"mdat", b"free", b"wide")


def _looks_like_video(p: pathlib.Path) -> bool:
    try:
        with p.open("rb") as f:
            head = f.read(16)
    except OSError:
        return False
    return any(m in head for m in _VIDEO_MAGIC)


def _fmt_s(seconds: float) -> str:
    return f"{seconds:.1f} s"


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
    quiet_ffmpeg()
    with quiet_native_stderr():
        cap = cv2.VideoCapture(str(p))
    try:
        if not cap.isOpened():
            if _looks_like_video(p):
                raise InputError(f"{p}: cannot open as a video: it looks truncated or corrupt (its "
                                 "index cannot be read; an unfinished download or copy?)")
            raise InputError(f"{p}: cannot open as a video (not a video, or a codec OpenCV/FFmpeg "
                             "cannot decode); convert it with e.g. 'ffmpeg -i IN -c:v libx264 OUT.mp4'")
        with quiet_native_stderr():
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
                max_fps: float | None = None,
                on_truncated: Callable[[float, float], None] | None = None
                ) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(frame_index, timestamp_ms, bgr)`` from the video. Frames outside [start, end] are
    skipped, and so is a frame whenever skipping it keeps the gap between yielded frames within
    ``1 / max_fps`` (a 30 fps video gives 15 fps at max_fps=15, a 25 fps video all its frames).
    Skipped frames are not colour-converted. Timestamps come from the container where they
    increase, else from the frame rate. When decoding stops well before the frame count the
    container announces, ``on_truncated(decoded_s, announced_s)`` is called."""
    import cv2

    info = probe(path)
    with quiet_native_stderr():
        cap = cv2.VideoCapture(str(path))
    gap_ms = 1000.0 / max_fps if max_fps else 0.0
    frame_ms = 1000.0 / info.fps
    kept_ts = -1e18
    last_ts = -1
    index = -1
    try:
        while True:
            with quiet_native_stderr():
                grabbed = cap.grab()
            if not grabbed:
                announced = info.duration_s
                if on_truncated is not None and announced is not None and \
                        index + 1 < 0.98 * info.frame_count - 2:
                    on_truncated(max(last_ts, 0) / 1000.0 + frame_ms / 1000.0, announced)
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
            if end_s is not None and ts_ms > end_s * 1000.0:
                break
            # Skip a frame only if the next one still keeps the gap within 1 / max_fps. The
            # choice runs from the video's first frame, so a span (--start, or one chunk of a
            # parallel run) gets exactly the frames a whole pass gets.
            if gap_ms and (ts_ms - kept_ts) + frame_ms <= gap_ms + 0.1 * frame_ms:
                continue
            kept_ts = ts_ms
            if start_s is not None and ts_ms < start_s * 1000.0:
                continue
            with quiet_native_stderr():
                ok, frame = cap.retrieve()
            if not ok or frame is None:
                if on_truncated is not None and info.duration_s is not None:
                    on_truncated(ts_ms / 1000.0, info.duration_s)
                break  # truncated: keep what was decoded so far
            yield index, ts_ms, frame
    finally:
        cap.release()


def pose_frames(path: str | pathlib.Path, start_s: float | None = None,
                end_s: float | None = None, max_fps: float | None = DEFAULT_POSE_FPS,
                on_truncated: Callable[[float, float], None] | None = None
                ) -> Iterator[tuple[int, int, np.ndarray, bool]]:
    """The frames the pose model sees for a span: ``(index, timestamp_ms, bgr, in_span)``.

    The model tracks the person from frame to frame, and started cold at ``start_s`` its first
    poses are rougher, so frames from TRACKING_WARMUP_S earlier come too, with ``in_span`` False.
    Extraction and annotation both read frames through here, so they see the same frames.
    """
    first_s = None if start_s is None else max(0.0, start_s - TRACKING_WARMUP_S)
    for index, ts, bgr in iter_frames(path, first_s, end_s, max_fps, on_truncated):
        yield index, ts, bgr, start_s is None or ts >= start_s * 1000.0


def extract_pose(path: str | pathlib.Path, backend: object | None = None, *,
                 start_s: float | None = None, end_s: float | None = None,
                 max_fps: float | None = DEFAULT_POSE_FPS, model: str = "full",
                 progress: Callable[[int], None] | None = None) -> PoseRecording:
    """Run the pose model over a video and return the recording (NaN rows where nobody was found).

    ``progress(frame_index)`` is called as decoding advances. A truncated video is analysed as far
    as it decodes, with a warning saying how far that is.
    """
    poses: list[np.ndarray] = []
    stamps: list[int] = []
    unseen: list[float] = []

    def estimate(be: object, rgb: np.ndarray, ts: int) -> np.ndarray | None:
        return be.estimate(rgb, ts)  # type: ignore[attr-defined, no-any-return]

    def keep(pose: np.ndarray | None, ts: int, bgr: np.ndarray) -> None:
        if pose is None:
            unseen.append(float(bgr[::8, ::8].mean()))
        poses.append(missing_pose() if pose is None else pose)
        stamps.append(ts)

    info = _run_pose(path, backend, model, 1, estimate, keep, start_s, end_s, max_fps,
                     progress)
    return PoseRecording(np.stack(poses), np.asarray(stamps, np.int64), (info.width, info.height),
                         source=str(path), source_fps=info.fps,
                         unseen_brightness=float(np.mean(unseen)) if unseen else None)


def extract_people(path: str | pathlib.Path, max_people: int, backend: object | None = None, *,
                   start_s: float | None = None, end_s: float | None = None,
                   max_fps: float | None = DEFAULT_POSE_FPS, model: str = "full",
                   progress: Callable[[int], None] | None = None,
                   tiled: bool | None = None) -> PeopleRecording:
    """Run the pose model for up to ``max_people`` people over a video: every frame's poses, not
    yet told apart (:class:`repsense.session.PeopleSession` gives each person an id).

    ``tiled``: run the model on overlapping square tiles of the frame, one person per tile
    (:class:`~repsense.pose.backends.tiled.TiledPoseBackend`); it finds three or more people side
    by side, which one pass over the whole frame does not, at a cost that grows with the frame's
    width. None (default): tiles from three people on."""
    if backend is None and (tiled or (tiled is None and max_people >= 3)):
        from repsense.pose.backends.tiled import TiledPoseBackend

        with quiet_native_stderr():
            tiles = TiledPoseBackend(model, max_people)
        try:
            return extract_people(path, max_people, tiles, start_s=start_s, end_s=end_s,
                                  max_fps=max_fps, progress=progress)
        finally:
            with quiet_native_stderr():
                tiles.close()
    frames: list[list[np.ndarray]] = []
    stamps: list[int] = []

    def estimate(be: object, rgb: np.ndarray, ts: int) -> list[np.ndarray]:
        return be.estimate_all(rgb, ts)  # type: ignore[attr-defined, no-any-return]

    def keep(found: list[np.ndarray], ts: int, bgr: np.ndarray) -> None:
        frames.append(found)
        stamps.append(ts)

    info = _run_pose(path, backend, model, max_people, estimate, keep, start_s, end_s, max_fps,
                     progress)
    return PeopleRecording.from_frames(frames, stamps, (info.width, info.height), str(path),
                                       info.fps)


def _run_pose(path: str | pathlib.Path, backend: object | None, model: str, num_poses: int,
              estimate: Callable[[object, np.ndarray, int], object],
              keep: Callable[..., None], start_s: float | None, end_s: float | None,
              max_fps: float | None, progress: Callable[[int], None] | None) -> VideoInfo:
    """The loop both extractions share: decode the span, run the model on each frame, hand what
    it found for the frames in the span to ``keep(found, timestamp_ms, bgr)``."""
    import cv2

    from repsense.pose.backends import create_backend

    info = probe(path)
    own = backend is None
    with quiet_native_stderr():
        be = create_backend(model, num_poses) if backend is None else backend
    decoded: list[float] = []
    kept = 0

    def truncated(decoded_s: float, announced_s: float) -> None:
        decoded.append(decoded_s)
        log.warning("%s: truncated: decoded %s of %s; analysing what was decoded", path,
                    _fmt_s(decoded_s), _fmt_s(announced_s))

    try:
        for index, ts, bgr, in_span in pose_frames(path, start_s, end_s, max_fps, truncated):
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            found = estimate(be, rgb, ts)
            if not in_span:
                continue
            keep(found, ts, bgr)
            kept += 1
            if progress is not None:
                progress(index)
    finally:
        if own:
            with quiet_native_stderr():
                be.close()  # type: ignore[attr-defined]
    if not kept:
        length = decoded[0] if decoded else info.duration_s
        where = f"after {_fmt_s(start_s)}" if start_s is not None else "in the requested span"
        if end_s is not None and start_s is not None:
            where = f"between {_fmt_s(start_s)} and {_fmt_s(end_s)}"
        long = f": the video is {_fmt_s(length)} long" if length is not None else ""
        if decoded and info.duration_s is not None:
            long = f": only {_fmt_s(decoded[0])} of its {_fmt_s(info.duration_s)} could be " \
                   "decoded (truncated)"
        raise InputError(f"{path}: no frames {where}{long}")
    return info
