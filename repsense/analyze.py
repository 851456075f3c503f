"""``repsense analyze`` for one input: the function a serial loop, a process pool and Ray all run.

It takes a path and the run's options and returns an InputResult (report, text, the messages for
stderr, the events); a bad input gives a result with the error, never an exception, so every way
of running gives the same results.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from repsense.engine.events import Event
from repsense.errors import RepsenseError
from repsense.sinks.report import InputReport

if TYPE_CHECKING:
    from repsense.plans.model import Plan
    from repsense.session import Analysis

# Frames darker than this (mean 0-255) are too dark for the pose model to find a person.
DARK_BRIGHTNESS = 40.0


@dataclass(frozen=True)
class AnalyzeOptions:
    exercise: str = "auto"
    start: float | None = None
    end: float | None = None
    model: str = "full"
    annotate: str | None = None
    annotate_fps: str = "pose"
    plot: str | None = None
    save_pose: str | None = None
    speak_wav: str | None = None
    set_rest_s: float | None = None
    n_inputs: int = 1          # output options name one file, or a pattern for several inputs
    pose_workers: int = 1      # processes estimating the poses of one video (chunks)
    verbose: bool = False      # -v: info messages and the libraries' own logs
    plan: Plan | None = None   # score the workout against this plan (docs/plans.md)
    people: int = 1            # the most people to follow; 1: one person, today's report shape


@dataclass
class InputResult:
    path: str
    report: InputReport
    text: str = ""
    notes: list[str] = field(default_factory=list)     # "annotated video: ..." lines
    events: list[Event] = field(default_factory=list)
    # several people (--people N > 1): each person's events by id (``events`` has them all)
    people_events: dict[int, list[Event]] | None = None

    @property
    def ok(self) -> bool:
        return self.report.error is None


def output_for(option: str | None, path: pathlib.Path, n: int, suffix: str) -> pathlib.Path | None:
    """With several inputs an output option names a folder-less pattern: OUT.stem-<input>.suffix."""
    if option is None:
        return None
    out = pathlib.Path(option)
    if n == 1:
        return out
    return out.with_name(f"{out.stem}-{path.stem}{out.suffix or suffix}")


def require_person(path: str | pathlib.Path, analysis: Analysis) -> None:
    """Raise RepsenseError saying why when nobody was found in any frame (too dark, or not in
    view)."""
    report = analysis.report
    if report.person_frames > 0:
        return
    dark = analysis.recording.unseen_brightness
    if dark is not None and dark < DARK_BRIGHTNESS:
        raise RepsenseError(
            f"{path}: nobody was found in {report.frames} frames, and the video is very dark "
            f"(mean brightness {dark:.0f}/255): light the room or turn up the camera's exposure")
    raise RepsenseError(f"{path}: nobody was found in {report.frames} frames; the whole body "
                        "should be in view, lit, and not too small")


def save_pose_and_annotate(opts: AnalyzeOptions, path: pathlib.Path, rec: Any, analysed: Any,
                           notes: list[str]) -> None:
    """``--save-pose`` and ``--annotate`` for one input: the poses ``rec`` as .npz, and the video
    with what was ``analysed`` drawn on it (one person's analysis, or the list of several people's:
    ``--people N``)."""
    n = opts.n_inputs
    out = output_for(opts.save_pose, path, n, ".npz")
    if out is not None:
        rec.save(out)
    out = output_for(opts.annotate, path, n, ".mp4")
    if out is not None:
        from repsense.sinks.annotate import write_annotated, write_annotated_people
        from repsense.sources.video import DEFAULT_POSE_FPS

        write = write_annotated_people if isinstance(analysed, list) else write_annotated
        write(path, analysed, out, opts.start, opts.end, DEFAULT_POSE_FPS, fps=opts.annotate_fps)
        notes.append(f"annotated video: {out}")


def analyze_input(opts: AnalyzeOptions, path: pathlib.Path,
                  progress: Callable[[int], None] | None = None) -> InputResult:
    """Analyse one video or pose recording with every output the options ask for."""
    from repsense.session import analyze_recording
    from repsense.sinks.report import format_text
    from repsense.sources import RECORDING_SUFFIXES, load_input

    from repsense.logs import setup_cli

    setup_cli(opts.verbose)   # the same one-line messages in a pool worker or a Ray task
    path = pathlib.Path(path)
    notes: list[str] = []
    try:
        if opts.people > 1:
            return _analyze_people(opts, path, progress)
        is_recording = path.suffix.lower() in RECORDING_SUFFIXES
        if opts.annotate and is_recording:
            raise RepsenseError(f"{path}: --annotate needs a video, not a pose recording")
        if opts.pose_workers > 1 and not is_recording:
            from repsense.batch import extract_pose_parallel

            rec = extract_pose_parallel(path, opts.pose_workers, model=opts.model,
                                        start_s=opts.start, end_s=opts.end)
        else:
            rec = load_input(path, start_s=opts.start, end_s=opts.end, model=opts.model,
                             progress=progress)
        extra: dict[str, Any] = {} if opts.set_rest_s is None else \
            {"set_rest_s": opts.set_rest_s}
        guide = None
        if opts.plan is not None:
            from repsense.plans.guide import Guide

            # a recording does not wait for rests: reps past a target start the next set
            guide = extra["guide"] = Guide(opts.plan, follow_ms=0)
        analysis = analyze_recording(rec, opts.exercise, **extra)
        require_person(path, analysis)
        text = format_text(analysis.report)
        if guide is not None:
            from repsense.plans.report import result_text

            analysis.report.plan = guide.result()
            text += "\n" + result_text(analysis.report.plan)
        save_pose_and_annotate(opts, path, rec, analysis, notes)
        n = opts.n_inputs
        out = output_for(opts.speak_wav, path, n, ".wav")
        if out is not None:
            from repsense.sinks.speech import render_track

            t = rec.timestamp_ms
            start = opts.start or 0.0
            # as long as the analysed span: to its last frame, and that frame's own time
            frame_s = 1.0 / (rec.source_fps or rec.fps or 30.0)
            render_track(analysis.events, out,
                         (t[-1] / 1000.0 + frame_s - start) if len(t) else 0.0, start)
            notes.append(f"speech track: {out}")
        out = output_for(opts.plot, path, n, ".png")
        if out is not None:
            from repsense.sinks.plot import write_plot

            write_plot(analysis, out)
            notes.append(f"plot: {out}")
        return InputResult(str(path), analysis.report, text, notes, analysis.events)
    except (BrokenPipeError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - one bad input must not lose the others
        if not isinstance(exc, RepsenseError) and os.environ.get("REPSENSE_DEBUG"):
            raise
        message = str(exc) if isinstance(exc, RepsenseError) else \
            f"{path}: unexpected error ({type(exc).__name__}: {exc}); set REPSENSE_DEBUG=1 " \
            "for details and please report it"
        return InputResult(str(path), InputReport(str(path), 0.0, 0, 0, [], error=message),
                           notes=notes)


def _analyze_people(opts: AnalyzeOptions, path: pathlib.Path,
                    progress: Callable[[int], None] | None) -> InputResult:
    """``--people N``: every person's own report under ``people``."""
    from repsense.pose.people import PeopleRecording
    from repsense.session import analyze_people
    from repsense.sinks.report import PersonReport, format_text
    from repsense.sources import RECORDING_SUFFIXES
    from repsense.sources.video import extract_people

    notes: list[str] = []
    for option, flag in ((opts.plot, "--plot"), (opts.speak_wav, "--speak-wav")):
        if option:
            raise RepsenseError(f"{flag} follows one person: leave it out with --people "
                                f"{opts.people}")
    if path.suffix.lower() in RECORDING_SUFFIXES:
        if opts.annotate:
            raise RepsenseError(f"{path}: --annotate needs a video, not a pose recording")
        rec = PeopleRecording.load(path)
        if opts.start is not None or opts.end is not None:
            t = rec.timestamp_ms
            keep = (t >= (opts.start or 0) * 1000) & (t <= (opts.end or float("inf")) * 1000)
            if not keep.any():
                raise RepsenseError(f"{path}: no frames in the requested span")
            rec = PeopleRecording(rec.poses[keep], t[keep], rec.image_size, rec.source,
                                  rec.source_fps)
    else:
        rec = extract_people(path, opts.people, start_s=opts.start, end_s=opts.end,
                             model=opts.model, progress=progress)
    extra = {} if opts.set_rest_s is None else {"set_rest_s": opts.set_rest_s}
    people = analyze_people(rec, opts.people, opts.exercise, **extra)
    if not people:
        raise RepsenseError(f"{path}: nobody was found in {len(rec)} frames; the whole body "
                            "should be in view, lit, and not too small")
    save_pose_and_annotate(opts, path, rec, people, notes)
    first = people[0].analysis.report
    seen = int(sum(1 for t in range(len(rec)) if rec.frame(t)))
    report = InputReport(
        path=str(path), fps=first.fps, frames=len(rec), person_frames=seen, exercises=[],
        source_fps=first.source_fps,
        people=[PersonReport(p.person, round(p.first_s, 3), round(p.last_s, 3), p.analysis.report)
                for p in people])
    events = [e for p in people for e in p.analysis.events]
    return InputResult(str(path), report, format_text(report), notes, events,
                       {p.person: p.analysis.events for p in people})


__all__ = ["AnalyzeOptions", "InputResult", "analyze_input", "output_for", "require_person"]
