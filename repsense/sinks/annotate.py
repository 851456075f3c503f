"""Annotated video: the skeleton, the exercise, the count and the phase drawn on every frame, and
the form faults and cues at the frames where they happen (in red)."""

from __future__ import annotations

import pathlib

import numpy as np

from repsense.session import Analysis
from repsense.engine.events import FormWarning, RepCompleted
from repsense.pose import SKELETON, is_missing
from repsense.pose.smoothing import MIN_VISIBILITY

GREEN = (80, 200, 80)
WHITE = (255, 255, 255)
GREY = (140, 140, 140)
RED = (60, 60, 235)
CUE_SHOWN_MS = 2500     # a cue stays on screen this long


def draw_pose(frame: np.ndarray, pose: np.ndarray) -> None:
    """Draw bones and joints of a ``(33, 4)`` pose onto a BGR frame in place; dim what is not visible."""
    import cv2

    h, w = frame.shape[:2]
    if is_missing(pose):
        return
    pts = np.nan_to_num(pose[:, :2] * [w, h], nan=-1).astype(int)
    vis = np.nan_to_num(pose[:, 3]) >= MIN_VISIBILITY
    thick = max(2, round(h / 240))
    for a, b in SKELETON:
        color = GREEN if vis[a] and vis[b] else GREY
        cv2.line(frame, tuple(pts[a]), tuple(pts[b]), color, thick, cv2.LINE_AA)
    for i in {j for pair in SKELETON for j in pair}:
        cv2.circle(frame, tuple(pts[i]), thick + 1, WHITE if vis[i] else GREY, -1, cv2.LINE_AA)


def draw_panel(frame: np.ndarray, lines: list[str], alerts: int = 0) -> None:
    """Text lines top left; the last ``alerts`` lines in red."""
    import cv2

    h = frame.shape[0]
    scale = max(0.5, h / 720)
    pad = int(10 * scale)
    line_h = int(32 * scale)
    width = int(max(len(s) for s in lines) * 17 * scale) + 2 * pad
    overlay = frame.copy()
    cv2.rectangle(overlay, (0, 0), (width, pad + line_h * len(lines)), (0, 0, 0), -1)
    cv2.addWeighted(overlay, 0.55, frame, 0.45, 0, frame)
    for i, text in enumerate(lines):
        color = RED if i >= len(lines) - alerts else WHITE
        cv2.putText(frame, text, (pad, pad + line_h * (i + 1) - int(8 * scale)),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, color, max(1, round(2 * scale)), cv2.LINE_AA)


def fault_lines(analysis: Analysis) -> dict[int, list[str]]:
    """Per frame index: the faults happening there (frame faults from the engine's trace, rep
    faults at their spans) and the cues said in the last CUE_SHOWN_MS."""
    rec = analysis.recording
    t = rec.timestamp_ms
    out: dict[int, list[str]] = {}

    def add(i: int, text: str) -> None:
        if text not in out.setdefault(i, []):
            out[i].append(text)

    for i, sample in enumerate(analysis.trace):
        for code in sample.faults:
            add(i, f"! {code}")
    for ex in analysis.report.exercises:
        for rep in ex.reps_detail:
            for f in rep.faults:
                lo, hi = f.start_s * 1000 - 200, f.end_s * 1000 + 200   # a turning-point fault
                for i in np.nonzero((t >= lo) & (t <= hi))[0]:           # shows for ~0.4 s
                    add(int(i), f"! {f.code}")
    for e in analysis.events:
        if isinstance(e, FormWarning):
            for i in np.nonzero((t >= e.timestamp_ms) & (t < e.timestamp_ms + CUE_SHOWN_MS))[0]:
                add(int(i), e.message)
    return out


def write_annotated(video: str | pathlib.Path, analysis: Analysis, out: str | pathlib.Path,
                    start_s: float | None = None, end_s: float | None = None,
                    max_fps: float | None = None) -> int:
    """Decode ``video`` again over the frames the analysis saw and write them annotated (H.264 MP4,
    or VP9 for a .webm ``out``, both playable in browsers). Returns the number of frames written."""
    from repsense.sinks.encode import VideoWriter
    from repsense.sources.video import pose_frames

    rec = analysis.recording
    index_of = {int(t): i for i, t in enumerate(rec.timestamp_ms)}
    counts = np.zeros(len(rec), int)
    for i, evs in analysis.frame_events.items():
        counts[i:] += sum(isinstance(e, RepCompleted) for e in evs)
    fps = rec.fps or 15.0
    faults = fault_lines(analysis)
    out = pathlib.Path(out)
    writer = None
    written = 0
    try:
        for _, ts, frame, in_span in pose_frames(video, start_s, end_s, max_fps):
            i = index_of.get(ts) if in_span else None
            if i is None:
                continue
            if writer is None:
                writer = VideoWriter(out, fps)
            draw_pose(frame, rec.landmarks[i])
            phase = analysis.trace[i].phase if i < len(analysis.trace) else ""
            exercise = analysis.trace[i].exercise if i < len(analysis.trace) else analysis.exercise
            lines = [f"{exercise}  reps {counts[i]}", f"phase {phase}  t {ts / 1000:.1f}s"]
            if is_missing(rec.landmarks[i]):
                lines.append("no person in view")
            alerts = faults.get(i, [])
            draw_panel(frame, lines + alerts, alerts=len(alerts))
            writer.write(frame, ts)
            written += 1
    finally:
        if writer is not None:
            writer.close()
    return written
