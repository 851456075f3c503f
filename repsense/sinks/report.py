"""Reports: what a set of events says about one input, as a dataclass, JSON and readable text."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Iterable

from repsense.engine.events import (Event, ExerciseDetected, FormWarning, HoldUpdated, RepCompleted,
                                    SetCompleted)


@dataclass(frozen=True)
class FaultSpan:
    """A fault of one rep and when it was seen (source seconds; a fault judged at the turning
    point or the start position has start_s == end_s)."""

    code: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class RepDetail:
    start_s: float
    end_s: float
    duration_s: float
    concentric_s: float
    eccentric_s: float
    rom_deg: float
    form_score: float | None = None
    faults: tuple[FaultSpan, ...] = ()
    rom_pct: float | None = None
    pause_s: float = 0.0
    good: bool = True


@dataclass
class ExerciseReport:
    """One exercise segment: consecutive time spent on one exercise, with its own count."""

    name: str
    reps: int = 0
    start_s: float | None = None
    end_s: float | None = None
    hold_s: float | None = None
    hold_good_s: float | None = None
    reps_detail: list[RepDetail] = field(default_factory=list)

    @property
    def good_reps(self) -> int:
        return sum(r.good for r in self.reps_detail)

    @property
    def fault_counts(self) -> dict[str, int]:
        """How many reps showed each fault, most frequent first."""
        counts: dict[str, int] = {}
        for r in self.reps_detail:
            for f in r.faults:
                counts[f.code] = counts.get(f.code, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass(frozen=True)
class Cue:
    """A cue that was said (FormWarning): at ``t_s`` source seconds."""

    t_s: float
    exercise: str
    code: str
    message: str
    severity: str


@dataclass(frozen=True)
class SetReport:
    """One set (SetCompleted): source seconds; ``rest_before_s`` None for the first set."""

    exercise: str
    reps: int
    good_reps: int | None
    start_s: float
    end_s: float
    tut_s: float | None
    rest_before_s: float | None


@dataclass
class InputReport:
    """``frames`` and ``fps``: the frames the engine saw and their rate; ``source_fps``: the
    video's own frame rate (pose is estimated on at most every other frame of fast video)."""

    path: str
    fps: float
    frames: int
    person_frames: int
    exercises: list[ExerciseReport]
    error: str | None = None
    source_fps: float | None = None
    cues: list[Cue] = field(default_factory=list)
    sets: list[SetReport] = field(default_factory=list)
    # how the counting went, e.g. a posture gate that blocked most frames (Tracker.notes)
    notes: list[str] = field(default_factory=list)
    # scored against a workout plan (analyze --plan): done against planned per step (plans.md)
    plan: dict[str, Any] | None = None
    # several people (analyze --people N > 1): each person's own report; None: one person
    people: list[PersonReport] | None = None

    @property
    def total_reps(self) -> int:
        if self.people is not None:
            return sum(p.report.total_reps for p in self.people)
        return sum(e.reps for e in self.exercises)

    def to_dict(self) -> dict[str, Any]:
        people = self.people
        d = dataclasses.asdict(dataclasses.replace(self, people=None))
        d.pop("people")
        if d["plan"] is None:
            del d["plan"]
        d["total_reps"] = self.total_reps
        d["good_reps"] = sum(e.good_reps for e in self.exercises)
        for ex, seg in zip(d["exercises"], self.exercises):
            ex["good_reps"] = seg.good_reps
            ex["faults"] = seg.fault_counts
        if people is not None:
            d["good_reps"] = sum(p.report.to_dict()["good_reps"] for p in people)
            d["people"] = [p.to_dict() for p in people]
        return d


@dataclass
class PersonReport:
    """One person's part of a several-people report: their id, when they were in view (seconds of
    the input) and their own report (exercises, sets, cues as for one person)."""

    person: int
    first_s: float
    last_s: float
    report: InputReport

    def to_dict(self) -> dict[str, Any]:
        d = self.report.to_dict()
        keep = ("exercises", "total_reps", "good_reps", "sets", "cues", "notes", "person_frames")
        return {"person": self.person, "first_s": self.first_s, "last_s": self.last_s,
                **{k: d[k] for k in keep}}


def segments_from_events(events: Iterable[Event]) -> list[ExerciseReport]:
    """Group events into exercise segments: a new segment starts at each ExerciseDetected."""
    segments: list[ExerciseReport] = []
    by_name: dict[str, ExerciseReport] = {}

    def current(name: str) -> ExerciseReport:
        if name not in by_name:
            seg = ExerciseReport(name)
            segments.append(seg)
            by_name[name] = seg
        return by_name[name]

    for ev in events:
        if isinstance(ev, ExerciseDetected):
            by_name.pop(ev.exercise, None)  # a later return to an exercise is a new segment
        elif isinstance(ev, RepCompleted):
            seg = current(ev.exercise)
            seg.reps += 1
            start, end = ev.start_ms / 1000.0, ev.end_ms / 1000.0
            seg.start_s = start if seg.start_s is None else seg.start_s
            seg.end_s = end
            seg.reps_detail.append(RepDetail(
                start_s=round(start, 3), end_s=round(end, 3), duration_s=round(end - start, 3),
                concentric_s=round(ev.concentric_s, 3), eccentric_s=round(ev.eccentric_s, 3),
                rom_deg=round(ev.rom_deg, 1), form_score=ev.form_score,
                faults=tuple(FaultSpan(code, round(a / 1000.0, 3), round(b / 1000.0, 3))
                             for code, (a, b) in zip(ev.faults, ev.fault_spans)),
                rom_pct=ev.rom_pct, pause_s=ev.pause_s, good=ev.good))
        elif isinstance(ev, HoldUpdated) and ev.held_s > 0:
            seg = current(ev.exercise)
            seg.hold_s = round(ev.held_s, 2)
            seg.hold_good_s = ev.good_s
            t = ev.timestamp_ms / 1000.0
            if seg.start_s is None:
                seg.start_s = round(t - ev.held_s, 3)
            seg.end_s = t
    return [s for s in segments if s.reps > 0 or (s.hold_s or 0) > 0]


def cues_from_events(events: Iterable[Event]) -> list[Cue]:
    return [Cue(round(e.timestamp_ms / 1000.0, 3), e.exercise, e.code, e.message, e.severity)
            for e in events if isinstance(e, FormWarning)]


def sets_from_events(events: Iterable[Event]) -> list[SetReport]:
    return [SetReport(e.exercise, e.reps, e.good_reps, round(e.start_ms / 1000.0, 3),
                      round(e.end_ms / 1000.0, 3), e.tut_s, e.rest_before_s)
            for e in events if isinstance(e, SetCompleted)]


def _severities(exercise: str) -> dict[str, str]:
    from repsense.engine.exercises import catalog

    spec = catalog().get(exercise)
    return {r.code: r.severity for r in spec.form} if spec is not None else {}


def _rep_table(reps: list[RepDetail]) -> list[str]:
    """The per-rep table; a column no rep has a value for (a sensor has no angles) is left out."""
    def num(v: float | None, fmt: str) -> str:
        return "-" if v is None or v != v else format(v, fmt)

    columns: list[tuple[str, list[str]]] = [
        ("#", [str(i) for i in range(1, len(reps) + 1)]),
        ("start_s", [f"{r.start_s:.2f}" for r in reps]),
        ("end_s", [f"{r.end_s:.2f}" for r in reps]),
        ("dur_s", [f"{r.duration_s:.2f}" for r in reps]),
        ("concentric_s", [f"{r.concentric_s:.2f}" for r in reps]),
        ("eccentric_s", [f"{r.eccentric_s:.2f}" for r in reps]),
        ("pause_s", [f"{r.pause_s:.2f}" for r in reps]),
        ("rom_deg", [num(r.rom_deg, ".1f") for r in reps]),
        ("rom_%", [num(r.rom_pct, ".0f") for r in reps]),
        ("score", [num(r.form_score, ".0f") for r in reps]),
    ]
    columns = [(name, vals) for name, vals in columns if any(v != "-" for v in vals)]
    widths = [max(len(name), *(len(v) for v in vals)) for name, vals in columns]
    judged = any(r.form_score is not None for r in reps)
    head = "  " + "  ".join(name.rjust(w) for (name, _), w in zip(columns, widths))
    lines = [head + ("  faults" if judged else "")]
    for i, r in enumerate(reps):
        row = "  " + "  ".join(vals[i].rjust(w) for (_, vals), w in zip(columns, widths))
        lines.append(row + (f"  {' '.join(f.code for f in r.faults) or '-'}" if judged else ""))
    return lines


def format_text(report: InputReport, source: str = "camera") -> str:
    """The readable summary the CLI prints for one input. ``source``: ``camera`` (video or pose
    recording: frames, the person in view) or ``sensor`` (a wearable's samples)."""
    lines = [f"{report.path}"]
    if report.error:
        return f"{report.path}: {report.error}"
    if report.people is not None:
        lines.append(f"  {report.frames} frames at {report.fps:.1f} fps, {len(report.people)} "
                     f"{'person' if len(report.people) == 1 else 'people'}, "
                     f"{report.total_reps} reps in all")
        for p in report.people:
            body = format_text(p.report, source).split("\n")[2:]   # no path, no frame line
            lines.append(f"  person {p.person} ({p.first_s:.1f}-{p.last_s:.1f} s): "
                         f"{p.report.total_reps} reps")
            lines.extend("  " + line for line in body)
        return "\n".join(lines)
    dur = report.frames / report.fps if report.fps else 0.0
    seen = 100.0 * report.person_frames / report.frames if report.frames else 0.0
    if source == "sensor":
        lines.append(f"  {report.frames} sensor samples, {dur:.1f} s at {report.fps:g} Hz, "
                     f"{seen:.0f}% of them usable")
    else:
        video = f" (video {report.source_fps:.1f} fps)" if report.source_fps else ""
        lines.append(f"  {report.frames} frames, {dur:.1f} s at {report.fps:.1f} fps{video}, "
                     f"person seen in {seen:.0f}% of frames")
    if not report.exercises:
        lines.append("  no repetitions found")
    lines.extend(f"  note: {note}" for note in report.notes)
    for ex in report.exercises:
        span = f"{ex.start_s:.1f}-{ex.end_s:.1f} s" if ex.start_s is not None else ""
        if ex.hold_s is not None and ex.reps == 0:
            good = f", {ex.hold_good_s:.1f} s in good form" if ex.hold_good_s is not None else ""
            lines.append(f"  {ex.name}: held {ex.hold_s:.1f} s{good} ({span})")
            continue
        judged = any(r.form_score is not None for r in ex.reps_detail)
        good = f", {ex.good_reps} good" if judged else ""
        lines.append(f"  {ex.name}: {ex.reps} reps{good} ({span})")
        severity = _severities(ex.name)
        counts = ex.fault_counts
        faults = {c: n for c, n in counts.items() if severity.get(c, "warning") != "info"}
        tips = {c: n for c, n in counts.items() if c not in faults}
        if faults:
            lines.append("  faults: " + ", ".join(f"{code} x{n}" for code, n in faults.items()) +
                         " (a rep with a fault is not good)")
        if tips:
            lines.append("  tips: " + ", ".join(f"{code} x{n}" for code, n in tips.items()) +
                         " (tips leave a rep good)")
        lines.extend("  " + line for line in _rep_table(ex.reps_detail))
    if report.sets:
        lines.append("  sets:")
        for i, st in enumerate(report.sets, 1):
            good = f", {st.good_reps} good" if st.good_reps is not None else ""
            tut = f", {st.tut_s:.1f} s under tension" if st.tut_s is not None else ""
            rest = f", after {st.rest_before_s:.0f} s rest" if st.rest_before_s is not None else ""
            lines.append(f"  {i:4d}  {st.exercise}: {st.reps} reps{good}{tut}{rest} "
                         f"({st.start_s:.1f}-{st.end_s:.1f} s)")
    if report.cues:
        lines.append("  cues:")
        for c in report.cues:
            tag = "tip" if c.severity == "info" else c.severity
            lines.append(f"  {c.t_s:8.1f} s  [{tag}] {c.message}")
    lines.append(f"  total: {report.total_reps} reps")
    return "\n".join(lines)


def to_json_doc(reports: list[InputReport]) -> dict[str, Any]:
    return {"inputs": [r.to_dict() for r in reports]}
