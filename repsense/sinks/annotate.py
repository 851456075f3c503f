"""Annotated video: what a coach would show a client over their set.

Every frame gets the skeleton (joints at fault in red), a panel with the exercise, the count in
large type and the phase in plain words ("going down", "coming up", "ready"), the last rep's score,
and a banner with the cue said at that moment, fading out. Text is sized to the frame's short side
and wrapped inside it, so a portrait phone clip and a 4K video read the same. Over frames with
nobody in view only the count of a set in progress stays. The video is H.264 MP4 (or VP9 WebM),
which browsers play (repsense.sinks.encode).
"""

from __future__ import annotations

import functools
import pathlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from repsense.engine.events import ExerciseDetected, FormWarning, HoldUpdated, RepCompleted
from repsense.pose import SKELETON, is_missing
from repsense.pose.smoothing import MIN_VISIBILITY
from repsense.session import Analysis, PersonAnalysis
from repsense.sinks.words import PHASE_WORDS, phase_words  # noqa: F401 - the one table

# Colours are BGR.
BONE = (120, 220, 120)
JOINT = (255, 255, 255)
DIM = (150, 150, 150)
FAULT = (40, 40, 235)
# One colour per person (analyze --people N; the page uses the same, as hex, in person order).
PERSON_COLOURS = ("#4cc9f0", "#f9c74f", "#f72585", "#90be6d", "#f8961e", "#b388ff")


def person_colour(person: int) -> tuple[int, int, int]:
    """The BGR colour of person ``person`` (ids from 1)."""
    h = PERSON_COLOURS[(person - 1) % len(PERSON_COLOURS)].lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return (b, g, r)
GOOD = (90, 200, 90)
NOT_GOOD = (40, 160, 245)          # amber: a rep that counted but was not good
PANEL = (25, 25, 25)
TEXT = (255, 255, 255)
MUTED = (200, 200, 200)
CUE_BG = {"info": (150, 95, 30), "warning": (20, 110, 225), "critical": (40, 40, 205)}

CUE_SHOWN_MS = 3000     # a cue stays on screen this long ...
CUE_FADE_MS = 800       # ... fading out over its last part
FAULT_SHOWN_MS = 200    # a fault judged at one instant (the bottom of a rep) is shown +- this

Box = tuple[int, int, int, int]   # x0, y0, x1, y1 (x1, y1 exclusive)

@dataclass(frozen=True)
class Overlay:
    """What one annotated frame shows."""

    exercise: str = ""                 # display name; "" before an exercise is known
    count: int = 0
    held_s: float | None = None        # a timed hold shows its time instead of a count
    phase: str = ""                    # plain words; "" shows no phase line
    person: bool = True
    last_score: float | None = None
    last_good: bool | None = None
    cue: str = ""
    cue_severity: str = "warning"
    cue_alpha: float = 1.0
    fault_joints: frozenset[int] = field(default_factory=frozenset)


# --- text ------------------------------------------------------------------------------------
@functools.cache
def _font(px: int, bold: bool = False):  # type: ignore[no-untyped-def]
    """DejaVu Sans (shipped with matplotlib) at ``px`` pixels."""
    import matplotlib
    from PIL import ImageFont

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    path = pathlib.Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    return ImageFont.truetype(str(path), px)


def text_width(text: str, px: int, bold: bool = False) -> int:
    return int(np.ceil(_font(px, bold).getlength(text)))


@functools.lru_cache(maxsize=512)
def _text_mask(text: str, px: int, bold: bool) -> np.ndarray:
    """Coverage (0..1, float32) of ``text``, one line box tall (ascent + descent)."""
    from PIL import Image, ImageDraw

    font = _font(px, bold)
    ascent, descent = font.getmetrics()
    img = Image.new("L", (max(1, text_width(text, px, bold)), ascent + descent), 0)
    ImageDraw.Draw(img).text((0, 0), text, font=font, fill=255)
    return np.asarray(img, np.float32) / 255.0


def line_height(px: int, bold: bool = False) -> int:
    ascent, descent = _font(px, bold).getmetrics()
    return int(ascent + descent)


def wrap(text: str, px: int, max_width: int, bold: bool = False) -> list[str]:
    """Greedy word wrap to ``max_width`` pixels (a word longer than that stands alone)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and text_width(trial, px, bold) > max_width:
            lines.append(current)
            current = word
        else:
            current = trial
    if current:
        lines.append(current)
    return lines


def _blend(frame: np.ndarray, box: Box, color: tuple[int, int, int], alpha: np.ndarray | float) -> None:
    x0, y0, x1, y1 = box
    h, w = frame.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if cx0 >= cx1 or cy0 >= cy1:
        return
    if isinstance(alpha, np.ndarray):
        alpha = alpha[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0, None]
    roi = frame[cy0:cy1, cx0:cx1].astype(np.float32)
    roi += (np.asarray(color, np.float32) - roi) * alpha
    frame[cy0:cy1, cx0:cx1] = roi.astype(np.uint8)


def _draw_text(frame: np.ndarray, text: str, x: int, y: int, px: int, color: tuple[int, int, int],
               bold: bool = False, alpha: float = 1.0) -> Box:
    mask = _text_mask(text, px, bold)
    box = (x, y, x + mask.shape[1], y + mask.shape[0])
    _blend(frame, box, color, mask * alpha)
    return box


def _panel(frame: np.ndarray, box: Box, alpha: float = 0.72) -> None:
    _blend(frame, box, PANEL, alpha)


# --- the overlay -----------------------------------------------------------------------------
def sizes(width: int, height: int) -> dict[str, int]:
    """Type sizes and margins in pixels, from the frame's short side (360 px -> 19 px text)."""
    short = min(width, height)
    body = max(11, round(short * 0.052))
    return {"body": body, "small": max(9, round(body * 0.8)), "count": max(24, round(short * 0.15)),
            "margin": max(4, round(short * 0.025)), "pad": max(3, round(body * 0.45))}


def draw_pose(frame: np.ndarray, pose: np.ndarray, fault_joints: Iterable[int] = (),
              bone: tuple[int, int, int] = BONE) -> None:
    """Bones and joints of a ``(33, 4)`` pose on a BGR frame, in place; joints at fault and the
    bones between them in red; what is not visible dimmed. ``bone``: the bones' colour."""
    import cv2

    if is_missing(pose):
        return
    h, w = frame.shape[:2]
    bad = set(fault_joints)
    pts = np.nan_to_num(pose[:, :2] * [w, h], nan=-1).astype(int)
    vis = np.nan_to_num(pose[:, 3]) >= MIN_VISIBILITY
    thick = max(2, round(min(w, h) / 180))
    for a, b in SKELETON:
        color = (FAULT if a in bad and b in bad else bone) if vis[a] and vis[b] else DIM
        cv2.line(frame, tuple(pts[a]), tuple(pts[b]), color, thick, cv2.LINE_AA)
    for i in sorted({j for pair in SKELETON for j in pair}):
        if not vis[i]:
            continue
        r = thick + 1 + (thick if i in bad else 0)
        cv2.circle(frame, tuple(pts[i]), r, FAULT if i in bad else JOINT, -1, cv2.LINE_AA)


def draw_overlay(frame: np.ndarray, ov: Overlay) -> list[Box]:
    """Draw the panel, the last rep's score and the cue banner; return the boxes of all text
    drawn (each lies inside the frame)."""
    h, w = frame.shape[:2]
    s = sizes(w, h)
    m, pad = s["margin"], s["pad"]
    boxes: list[Box] = []
    show_count = ov.exercise and (ov.person or ov.count > 0 or (ov.held_s or 0) > 0)

    # Top left: exercise, count, phase.
    panel_right = m
    panel_bottom = m
    if show_count or (ov.person and ov.phase):
        rows: list[tuple[str, int, bool, tuple[int, int, int]]] = []
        if ov.exercise:
            rows.append((ov.exercise, s["body"], True, TEXT))
        if show_count:
            big = f"{ov.held_s:.0f} s" if ov.held_s is not None else str(ov.count)
            rows.append((big, s["count"], True, TEXT))
        if ov.person and ov.phase:
            rows.append((ov.phase, s["body"], False, MUTED))
        rows = [(t, _fit(t, px, bold, w - 2 * m - 2 * pad), bold, c) for t, px, bold, c in rows]
        steady = min(text_width("coming down", s["body"]), w - 2 * m - 2 * pad)  # no jumps
        width = max([steady] + [text_width(t, px, bold) for t, px, bold, _ in rows]) + 2 * pad
        height = sum(line_height(px, bold) for _, px, bold, _ in rows) + 2 * pad
        _panel(frame, (m, m, m + width, m + height))
        y = m + pad
        for t, px, bold, color in rows:
            boxes.append(_draw_text(frame, t, m + pad, y, px, color, bold))
            y += line_height(px, bold)
        panel_right, panel_bottom = m + width, m + height

    # Top right (or under the panel when the frame is narrow): the last rep's score.
    if ov.person and ov.last_score is not None:
        label = "last rep score"
        score = f"{ov.last_score:.0f}" + ("" if ov.last_good else "  check form")
        px_l, px_s = s["small"], s["body"]
        px_s = _fit(score, px_s, True, w - 2 * m - 2 * pad)
        width = max(text_width(label, px_l), text_width(score, px_s, True)) + 2 * pad
        height = line_height(px_l) + line_height(px_s, True) + 2 * pad
        x = w - m - width
        y = m
        if x < panel_right + m:
            x, y = m, panel_bottom + m
        _panel(frame, (x, y, x + width, y + height))
        boxes.append(_draw_text(frame, label, x + pad, y + pad, px_l, MUTED))
        boxes.append(_draw_text(frame, score, x + pad, y + pad + line_height(px_l), px_s,
                                GOOD if ov.last_good else NOT_GOOD, True))

    # Bottom: the cue banner, wrapped to the frame, fading out.
    if ov.cue and ov.cue_alpha > 0:
        px = s["body"]
        lines = wrap(ov.cue, px, w - 2 * m - 2 * pad, bold=True)
        while px > 9 and max(text_width(t, px, True) for t in lines) > w - 2 * m - 2 * pad:
            px -= 1
            lines = wrap(ov.cue, px, w - 2 * m - 2 * pad, bold=True)
        lh = line_height(px, True)
        width = max(text_width(t, px, True) for t in lines) + 2 * pad
        height = lh * len(lines) + 2 * pad
        x0 = (w - width) // 2
        y0 = h - m - height
        _blend(frame, (x0, y0, x0 + width, y0 + height),
               CUE_BG.get(ov.cue_severity, CUE_BG["warning"]), 0.85 * ov.cue_alpha)
        for k, t in enumerate(lines):
            tx = (w - text_width(t, px, True)) // 2
            boxes.append(_draw_text(frame, t, tx, y0 + pad + k * lh, px, TEXT, True, ov.cue_alpha))
    return boxes


def _fit(text: str, px: int, bold: bool, max_width: int) -> int:
    """The largest size <= px at which ``text`` fits in ``max_width`` on one line."""
    while px > 8 and text_width(text, px, bold) > max_width:
        px = max(8, int(px * 0.9))
    return px


# --- from an analysis to per-frame overlays --------------------------------------------------
def fault_joint_indices(exercise: str, codes: Iterable[str]) -> frozenset[int]:
    """The landmark indices (both sides) that the form rules ``codes`` of ``exercise`` measure."""
    from repsense.engine.exercises import catalog
    from repsense.engine.form import fault_landmarks

    spec = catalog().get(exercise)
    return frozenset(fault_landmarks(spec, codes)) if spec is not None else frozenset()


def overlays(analysis: Analysis) -> list[Overlay]:
    """One Overlay per frame of the analysed recording."""
    from repsense.engine.exercises import catalog

    rec = analysis.recording
    t = rec.timestamp_ms
    specs = catalog()
    # Rep faults judged at an instant or over a span, shown where they happened.
    rep_faults: dict[int, set[str]] = {}
    for e in analysis.events:
        if isinstance(e, RepCompleted):
            for code, (a, b) in zip(e.faults, e.fault_spans):
                for i in np.nonzero((t >= a - FAULT_SHOWN_MS) & (t <= b + FAULT_SHOWN_MS))[0]:
                    rep_faults.setdefault(int(i), set()).add(code)
    exercise = ""
    count = 0
    held: float | None = None
    last: RepCompleted | None = None
    cue: FormWarning | None = None
    out: list[Overlay] = []
    for i in range(len(rec)):
        for e in analysis.frame_events.get(i, []):
            if isinstance(e, ExerciseDetected):
                exercise, count, held, last = e.exercise, 0, None, None
            elif isinstance(e, RepCompleted):
                exercise, count, last = e.exercise, e.count, e
            elif isinstance(e, HoldUpdated):
                exercise, held = e.exercise, e.held_s
            elif isinstance(e, FormWarning):
                cue = e
        sample = analysis.trace[i] if i < len(analysis.trace) else None
        current = (sample.exercise if sample is not None else "") or exercise or analysis.exercise
        if current != exercise and current in specs:
            exercise = current
        person = not is_missing(rec.landmarks[i])
        spec = specs.get(exercise)
        name = spec.display if spec is not None else "" if exercise in ("", "idle") else \
            "Repetitions" if exercise in ("generic", "unknown") else \
            exercise.replace("_", " ").capitalize()
        codes = set(sample.faults if sample is not None else ()) | rep_faults.get(i, set())
        cue_text, alpha, severity = "", 0.0, "warning"
        if cue is not None:
            age = int(t[i]) - cue.timestamp_ms
            if 0 <= age < CUE_SHOWN_MS:
                cue_text, severity = cue.message, cue.severity
                alpha = min(1.0, (CUE_SHOWN_MS - age) / CUE_FADE_MS)
        out.append(Overlay(
            exercise=name, count=count, held_s=held if spec is not None and spec.is_hold else None,
            phase=phase_words(exercise, sample.phase if sample is not None else "") if person else "",
            person=person,
            last_score=last.form_score if last is not None else None,
            last_good=last.good if last is not None else None,
            cue=cue_text, cue_severity=severity, cue_alpha=alpha,
            fault_joints=fault_joint_indices(exercise, codes) if person else frozenset()))
    return out


def write_annotated(video: str | pathlib.Path, analysis: Analysis, out: str | pathlib.Path,
                    start_s: float | None = None, end_s: float | None = None,
                    max_fps: float | None = None, *, fps: str = "pose") -> int:
    """Decode ``video`` again over the span the analysis saw and write it annotated: H.264 MP4, or
    VP9 for a ``.webm`` ``out``, both playable in browsers. ``fps="pose"`` writes the frames the
    pose model saw (at most ``max_fps``); ``fps="source"`` every frame of the video, each showing
    the latest pose. Returns the number of frames written."""
    from repsense.sinks.encode import VideoWriter
    from repsense.sources.video import pose_frames

    if fps not in ("pose", "source"):
        raise ValueError(f"fps must be 'pose' or 'source', got {fps!r}")
    rec = analysis.recording
    t = rec.timestamp_ms
    if len(t) == 0:
        return 0
    states = overlays(analysis)
    rate = (rec.source_fps if fps == "source" else rec.fps) or rec.source_fps or 15.0
    writer: VideoWriter | None = None
    try:
        for _, ts, frame, in_span in pose_frames(video, start_s, end_s,
                                                 None if fps == "source" else max_fps):
            if not in_span or ts < t[0]:
                continue
            i = int(np.searchsorted(t, ts, side="right")) - 1   # the latest pose at or before ts
            if fps == "pose" and t[i] != ts:
                continue
            if ts > t[-1] + 1000.0 / rate:
                break
            if writer is None:
                writer = VideoWriter(out, rate)
            draw_pose(frame, rec.landmarks[i], states[i].fault_joints)
            draw_overlay(frame, states[i])
            writer.write(frame, ts)
    finally:
        if writer is not None:
            writer.close()
    return writer.frames if writer is not None else 0


def write_annotated_people(video: str | pathlib.Path, people: Sequence[PersonAnalysis],
                           out: str | pathlib.Path, start_s: float | None = None,
                           end_s: float | None = None, max_fps: float | None = None, *,
                           fps: str = "pose") -> int:
    """The video with every person's skeleton in their own colour and, above their head, their id,
    exercise and count (``analyze --people N --annotate``). Returns the frames written."""
    from repsense.pose.people import pose_box
    from repsense.sinks.encode import VideoWriter
    from repsense.sources.video import pose_frames

    if fps not in ("pose", "source"):
        raise ValueError(f"fps must be 'pose' or 'source', got {fps!r}")
    tracks = [(p.person, p.analysis.recording, overlays(p.analysis)) for p in people]
    rate = 15.0
    if people:
        rec = people[0].analysis.recording
        rate = (rec.source_fps if fps == "source" else rec.fps) or rec.source_fps or 15.0
    writer: VideoWriter | None = None
    try:
        for _, ts, frame, in_span in pose_frames(video, start_s, end_s,
                                                 None if fps == "source" else max_fps):
            if not in_span:
                continue
            if writer is None:
                writer = VideoWriter(out, rate)
            h, w = frame.shape[:2]
            px = sizes(w, h)["body"]
            for person, rec, states in tracks:
                t = rec.timestamp_ms
                if ts < t[0] or ts > t[-1] + 1000.0 / rate:
                    continue
                i = int(np.searchsorted(t, ts, side="right")) - 1
                pose, ov = rec.landmarks[i], states[i]
                if is_missing(pose):
                    continue
                colour = person_colour(person)
                draw_pose(frame, pose, ov.fault_joints, bone=colour)
                box = pose_box(pose)
                if box is None:
                    continue
                what = f"{ov.held_s:.0f} s" if ov.held_s is not None else str(ov.count)
                label = f"{person}: {ov.exercise + ' ' if ov.exercise else ''}{what}"
                x = int(np.clip(box[0] * w, 0, max(0, w - text_width(label, px, True) - 8)))
                y = int(np.clip(box[1] * h - line_height(px, True) - 10, 0, h))
                _panel(frame, (x, y, x + text_width(label, px, True) + 8,
                               y + line_height(px, True) + 6))
                _draw_text(frame, label, x + 4, y + 3, px, colour, True)
            writer.write(frame, ts)
    finally:
        if writer is not None:
            writer.close()
    return writer.frames if writer is not None else 0


__all__ = ["Overlay", "PERSON_COLOURS", "draw_overlay", "draw_pose", "overlays", "person_colour",
           "write_annotated", "write_annotated_people"]
