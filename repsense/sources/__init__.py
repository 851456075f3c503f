"""Sources of timed poses: video files, pose recordings, cameras, landmarks sent by a browser.

``load_input`` turns a path into a whole recording (``analyze``, ``classify``); live sources yield
``(pose, timestamp_ms)`` one at a time into a :class:`repsense.session.Session`.
"""

from __future__ import annotations

import pathlib
import zipfile
from collections.abc import Callable

import numpy as np

from repsense.errors import InputError
from repsense.pose import PoseRecording

RECORDING_SUFFIXES = {".npz"}
# File names taken for videos (folders of inputs, uploads); OpenCV/FFmpeg decides what it can open.
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".3gp"}


def select_span(rec: PoseRecording, start_s: float | None, end_s: float | None) -> PoseRecording:
    """The part of a recording between ``start_s`` and ``end_s`` (source time, seconds)."""
    if start_s is None and end_s is None:
        return rec
    t = rec.timestamp_ms
    keep = np.ones(len(t), bool)
    if start_s is not None:
        keep &= t >= start_s * 1000.0
    if end_s is not None:
        keep &= t <= end_s * 1000.0
    if not keep.any():
        span = f"between {start_s:g} s and {end_s:g} s" if start_s is not None and \
            end_s is not None else f"after {start_s:g} s" if start_s is not None else \
            f"before {end_s:g} s"
        raise InputError(f"{rec.source}: no frames {span}: the recording spans "
                         f"{t[0] / 1000:.1f}-{t[-1] / 1000:.1f} s")
    return PoseRecording(rec.landmarks[keep], t[keep], rec.image_size, rec.source, rec.source_fps)


def load_input(path: str | pathlib.Path, *, start_s: float | None = None, end_s: float | None = None,
               model: str = "full", max_fps: float | None = None,
               progress: Callable[[int], None] | None = None) -> PoseRecording:
    """A pose recording for ``path``: read from an ``.npz`` or estimated from a video."""
    from repsense.sources.video import DEFAULT_POSE_FPS, extract_pose

    p = pathlib.Path(path)
    if p.suffix.lower() in RECORDING_SUFFIXES:
        if not p.is_file():
            raise InputError(f"{p}: no such file")
        if p.stat().st_size == 0:
            raise InputError(f"{p}: the file is empty (0 bytes), not a pose recording")
        if not zipfile.is_zipfile(p):
            raise InputError(f"{p}: not a pose recording: an .npz is a zip of numpy arrays "
                             "('landmarks' (T, 33, 4), 'timestamp_ms' (T,)), this file is not one")
        return select_span(PoseRecording.load(p), start_s, end_s)
    return extract_pose(p, start_s=start_s, end_s=end_s, model=model,
                        max_fps=DEFAULT_POSE_FPS if max_fps is None else max_fps,
                        progress=progress)


__all__ = ["RECORDING_SUFFIXES", "VIDEO_SUFFIXES", "load_input", "select_span"]
