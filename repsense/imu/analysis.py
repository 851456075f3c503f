"""Whole-recording analysis: a CSV replayed through the streaming engine into the common report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repsense.errors import InputError
from repsense.engine.events import Event, ExerciseDetected, RepCompleted, SetCompleted
from repsense.imu.model import StepModel
from repsense.sinks.jsonio import jsonable
from repsense.imu.recording import SAMPLE_RATE_HZ, ImuRecording, load_csv
from repsense.imu.tracker import ImuTracker
from repsense.session import EventSink, Session
from repsense.sinks.report import InputReport, segments_from_events


@dataclass
class ImuAnalysis:
    recording: ImuRecording | None
    events: list[Event]
    report: InputReport
    timeline: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        d = jsonable(self.report.to_dict())
        d["timeline"] = self.timeline
        return d


def run_recording(rec: ImuRecording, model: StepModel | None = None,
                  sinks: Iterable[EventSink] = ()) -> list[Event]:
    """Replay a recording through a session with a fresh ImuTracker (the loop every session runs,
    live or not); every event, SessionEnded last."""
    session = Session(engine=ImuTracker(model), source=rec.path, sinks=sinks,
                      source_fps=rec.source_rate_hz)
    session.run(zip(rec.samples, rec.timestamp_ms.tolist()))
    session.finish()
    return session.events


def timeline_from_events(events: list[Event], origin_ms: int) -> list[dict[str, Any]]:
    """Sets in time order: exercise, start/end (s from the recording's start), reps."""
    out = []
    for ev in events:
        if isinstance(ev, SetCompleted):
            out.append({"exercise": ev.exercise, "start_s": round((ev.start_ms - origin_ms) / 1000, 2),
                        "end_s": round((ev.end_ms - origin_ms) / 1000, 2), "reps": ev.reps})
    return out


def _relative(events: list[Event], origin_ms: int) -> list[Event]:
    """Events with times measured from the recording's start, for the report."""
    import dataclasses

    out: list[Event] = []
    for ev in events:
        if isinstance(ev, RepCompleted):
            out.append(dataclasses.replace(ev, timestamp_ms=ev.timestamp_ms - origin_ms,
                                           start_ms=ev.start_ms - origin_ms, end_ms=ev.end_ms - origin_ms,
                                           bottom_ms=ev.bottom_ms - origin_ms))
        elif isinstance(ev, ExerciseDetected):
            out.append(dataclasses.replace(ev, timestamp_ms=ev.timestamp_ms - origin_ms))
        else:
            out.append(ev)
    return out


def analyze_file(path: str | Path, model: StepModel | None = None) -> ImuAnalysis:
    """Analyse one CSV; an unusable file gives a report with ``error`` set instead of raising."""
    try:
        rec = load_csv(path)
    except InputError as err:
        return ImuAnalysis(None, [], InputReport(str(path), SAMPLE_RATE_HZ, 0, 0, [], error=str(err)))
    events = run_recording(rec, model)
    origin = int(rec.timestamp_ms[0])
    report = InputReport(path=str(path), fps=SAMPLE_RATE_HZ, frames=len(rec),
                         person_frames=int(rec.valid.sum()),
                         exercises=segments_from_events(_relative(events, origin)))
    return ImuAnalysis(rec, events, report, timeline_from_events(events, origin))


__all__ = ["ImuAnalysis", "analyze_file", "run_recording", "timeline_from_events"]
