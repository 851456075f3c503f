"""Analysis of one input: a video or a pose recording through the engine into a report."""

from __future__ import annotations

import pathlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from repsense.errors import InputError
from repsense.events import Event
from repsense.pose import PoseRecording
from repsense.report import InputReport, cues_from_events, segments_from_events
from repsense.tracker import Sample, Tracker

RECORDING_SUFFIXES = {".npz"}


@dataclass
class Analysis:
    """Everything one run found: the recording, the events, the engine's trace, the report."""

    recording: PoseRecording
    events: list[Event]
    trace: list[Sample]
    report: InputReport
    exercise: str = ""
    frame_events: dict[int, list[Event]] = field(default_factory=dict)


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
        raise InputError(f"{rec.source}: no frames between {start_s} s and {end_s} s "
                         f"(the input spans {t[0] / 1000:.1f}-{t[-1] / 1000:.1f} s)")
    return PoseRecording(rec.landmarks[keep], t[keep], rec.image_size, rec.source, rec.source_fps)


def run_engine(rec: PoseRecording, exercise: str = "auto") -> Analysis:
    """Drive a fresh Tracker over a recording and build the report."""
    tracker = Tracker(exercise, aspect=rec.aspect, keep_trace=True)
    events: list[Event] = []
    frame_events: dict[int, list[Event]] = {}
    for i, (pose, t) in enumerate(zip(rec.landmarks, rec.timestamp_ms)):
        new = tracker.update(pose, int(t))
        if new:
            events.extend(new)
            frame_events[i] = new
    events.extend(tracker.finish())
    person = int((~np.isnan(rec.landmarks[:, :, 0]).all(axis=1)).sum())
    report = InputReport(path=rec.source, fps=round(rec.fps, 3), frames=len(rec),
                         person_frames=person, exercises=segments_from_events(events),
                         source_fps=None if rec.source_fps is None else round(rec.source_fps, 3),
                         cues=cues_from_events(events))
    return Analysis(rec, events, tracker.trace or [], report, tracker.exercise, frame_events)


def load_input(path: str | pathlib.Path, *, start_s: float | None = None, end_s: float | None = None,
               model: str = "full", max_fps: float | None = None,
               progress: Callable[[int], None] | None = None) -> PoseRecording:
    """A pose recording for ``path``: read from an ``.npz`` or estimated from a video."""
    from repsense.video import DEFAULT_POSE_FPS, extract_pose

    p = pathlib.Path(path)
    if p.suffix.lower() in RECORDING_SUFFIXES:
        if not p.is_file():
            raise InputError(f"{p}: no such file")
        return select_span(PoseRecording.load(p), start_s, end_s)
    return extract_pose(p, start_s=start_s, end_s=end_s, model=model,
                        max_fps=DEFAULT_POSE_FPS if max_fps is None else max_fps,
                        progress=progress)
