"""Live sources for a camera node: an OpenCV device index, an RTSP/HTTP stream, or a file played
once at its own rate (a video, or a pose recording ``.npz`` played as if a camera saw it).

``CameraSource.poses()`` yields ``(pose (33, 4), timestamp_ms)`` for a :class:`repsense.session.Session`.
A file is paced to its own frame rate but never skips a frame (so a file is a repeatable test
camera); a device or stream yields what the model keeps up with, with times from the clock.
"""

from __future__ import annotations

import pathlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from repsense.errors import InputError
from repsense.pose import PoseRecording, missing_pose

STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")
# A live stream that stops delivering frames is reopened after this long, with back-off.
STREAM_STALL_S = 5.0


@dataclass
class CameraSource:
    spec: str
    kind: str                         # "device", "stream", "video" or "recording"
    image_size: tuple[int, int] | None = None
    fps: float | None = None

    @property
    def is_file(self) -> bool:
        return self.kind in ("video", "recording")

    @property
    def aspect(self) -> float:
        if not self.image_size:
            return 1.0
        return self.image_size[0] / self.image_size[1]

    def poses(self, *, model: str = "full", max_fps: float | None = None, speed: float = 1.0,
              stop: threading.Event | None = None,
              backend_factory: Callable[[], object] | None = None) -> Iterator[tuple[np.ndarray, int]]:
        """Timed poses until the file ends or ``stop`` is set. ``speed``: a file's playback rate
        (2 = twice as fast, 0 = as fast as it goes)."""
        stop = stop or threading.Event()
        if self.kind == "recording":
            for t, pose in _paced(_recording_poses(self.spec), speed, stop):
                yield pose, t
            return
        from repsense.sources.video import DEFAULT_POSE_FPS

        fps_cap = DEFAULT_POSE_FPS if max_fps is None else max_fps
        if backend_factory is None:
            from repsense.pose.backends import create_backend

            backend_factory = lambda: create_backend(model)  # noqa: E731
        backend = backend_factory()
        try:
            if self.kind == "video":
                frames = _video_frames(self.spec, fps_cap)
                yield from _estimated(_paced(frames, speed, stop), backend)
            else:
                yield from _estimated(_live_frames(self, fps_cap, stop), backend)
        finally:
            backend.close()  # type: ignore[attr-defined]


    def people(self, max_people: int, *, model: str = "full", max_fps: float | None = None,
               speed: float = 1.0, stop: threading.Event | None = None
               ) -> Iterator[tuple[list[np.ndarray], int]]:
        """Every pose of each frame (several people, no identity yet) until the source ends or
        ``stop`` is set; a recording saved with several people gives its frames as saved."""
        stop = stop or threading.Event()
        if self.kind == "recording":
            from repsense.pose.people import PeopleRecording

            rec = PeopleRecording.load(self.spec)
            frames = ((int(t), i) for i, t in enumerate(rec.timestamp_ms))
            for t, i in _paced(frames, speed, stop):  # type: ignore[arg-type]
                yield rec.frame(int(i)), t  # type: ignore[call-overload]
            return
        import cv2

        from repsense.sources.video import DEFAULT_POSE_FPS

        fps_cap = DEFAULT_POSE_FPS if max_fps is None else max_fps
        if max_people >= 3:
            from repsense.pose.backends.tiled import TiledPoseBackend

            backend: Any = TiledPoseBackend(model, max_people)
        else:
            from repsense.pose.backends import create_backend

            backend = create_backend(model, max_people)
        try:
            frames = _paced(_video_frames(self.spec, fps_cap), speed, stop) \
                if self.kind == "video" else _live_frames(self, fps_cap, stop)
            for t, bgr in frames:
                yield backend.estimate_all(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), t), t
        finally:
            backend.close()


def open_camera(spec: str) -> CameraSource:
    """``0`` (device index), a stream URL, a video file or a pose recording (``.npz``)."""
    text = str(spec).strip()
    if text.isdigit():
        return _probe_capture(CameraSource(text, "device"), int(text))
    if text.lower().startswith(STREAM_SCHEMES):
        return _probe_capture(CameraSource(text, "stream"), text)
    path = pathlib.Path(text)
    if path.suffix.lower() == ".npz":
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        with np.load(path, allow_pickle=False) as data:
            several = "people" in data.files
        if several:   # several people's poses (analyze --people N --save-pose)
            from repsense.pose.people import PeopleRecording

            people = PeopleRecording.load(path)
            fps = 1000.0 * (len(people) - 1) / float(np.ptp(people.timestamp_ms)) \
                if len(people) > 1 else 0.0
            return CameraSource(text, "recording", people.image_size, people.source_fps or fps)
        rec = PoseRecording.load(path)
        return CameraSource(text, "recording", rec.image_size, rec.source_fps or rec.fps)
    from repsense.sources.video import probe

    info = probe(path)
    return CameraSource(text, "video", (info.width, info.height), info.fps)


def _capture(target: int | str):  # type: ignore[no-untyped-def]
    """An OpenCV capture; a stream gets open / read time-outs so a dead camera cannot hang the node."""
    import cv2

    # OpenCV logs every backend it tries for a missing device: our own message says it once.
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        if isinstance(target, int):
            return cv2.VideoCapture(target)
        stall_ms = int(STREAM_STALL_S * 1000)
        return cv2.VideoCapture(target, cv2.CAP_FFMPEG, [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 2 * stall_ms,
                                                         cv2.CAP_PROP_READ_TIMEOUT_MSEC, stall_ms])
    finally:
        cv2.utils.logging.setLogLevel(level)


def _probe_capture(src: CameraSource, target: int | str) -> CameraSource:
    import cv2

    cap = _capture(target)
    try:
        if not cap.isOpened():
            what = f"camera {target}" if isinstance(target, int) else f"stream {target}"
            raise InputError(f"cannot open {what}: check the device index / URL, that nothing else "
                             "uses it, and (for a stream) that it is reachable")
        ok, frame = cap.read()
        if not ok or frame is None:
            raise InputError(f"{src.spec}: opened but delivered no frame")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        src.image_size = (int(frame.shape[1]), int(frame.shape[0]))
        src.fps = fps if 0.5 <= fps <= 240 else None
    finally:
        cap.release()
    return src


def _recording_poses(path: str) -> Iterator[tuple[int, np.ndarray]]:
    rec = PoseRecording.load(path)
    for pose, t in zip(rec.landmarks, rec.timestamp_ms):
        yield int(t), pose


def _video_frames(path: str, max_fps: float) -> Iterator[tuple[int, np.ndarray]]:
    from repsense.sources.video import iter_frames

    for _, t, bgr in iter_frames(path, max_fps=max_fps):
        yield t, bgr


def _paced(items: Iterator[tuple[int, np.ndarray]], speed: float,
           stop: threading.Event) -> Iterator[tuple[int, np.ndarray]]:
    """Hold each item back until its time (relative to the first) has come on the clock."""
    t0_wall: float | None = None
    t0: int | None = None
    for t, item in items:
        if stop.is_set():
            return
        if speed > 0:
            if t0_wall is None or t0 is None:
                t0_wall, t0 = time.monotonic(), t
            wait = (t - t0) / 1000.0 / speed - (time.monotonic() - t0_wall)
            if wait > 0 and stop.wait(wait):
                return
        yield t, item


def _estimated(frames: Iterator[tuple[int, np.ndarray]], backend: object) -> Iterator[tuple[np.ndarray, int]]:
    import cv2

    for t, item in frames:
        if item.ndim == 2 and item.shape == (33, 4):
            yield item, t
            continue
        rgb = cv2.cvtColor(item, cv2.COLOR_BGR2RGB)
        pose = backend.estimate(rgb, t)  # type: ignore[attr-defined]
        yield (missing_pose() if pose is None else pose), t


def _live_frames(src: CameraSource, max_fps: float, stop: threading.Event) -> Iterator[tuple[int, np.ndarray]]:
    """Frames from a device or stream, timed by the clock, at most ``max_fps``; a stream that
    stalls or drops is reopened with back-off until ``stop``."""
    target: int | str = int(src.spec) if src.kind == "device" else src.spec
    t0 = time.monotonic()
    gap = 1.0 / max_fps if max_fps else 0.0
    last_kept = -1e9
    backoff = 1.0
    while not stop.is_set():
        cap = _capture(target)
        last_frame = time.monotonic()
        try:
            while not stop.is_set() and cap.isOpened():
                if not cap.grab():
                    if time.monotonic() - last_frame > STREAM_STALL_S:
                        break
                    time.sleep(0.01)
                    continue
                now = time.monotonic()
                last_frame = now
                backoff = 1.0
                if now - last_kept < gap * 0.9:
                    continue
                ok, frame = cap.retrieve()
                if not ok or frame is None:
                    continue
                last_kept = now
                yield int((now - t0) * 1000), frame
        finally:
            cap.release()
        if src.kind == "device" and not stop.is_set():
            raise InputError(f"camera {src.spec} stopped delivering frames")
        stop.wait(backoff)
        backoff = min(backoff * 2, 30.0)


__all__ = ["CameraSource", "open_camera", "STREAM_SCHEMES"]
