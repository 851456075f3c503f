"""A plot of the signal that drives the count (e.g. the knee angle), with every counted rep marked,
good reps apart from reps with a fault, and the exercise segments of ``--exercise auto``."""

from __future__ import annotations

import itertools
import pathlib

import numpy as np

from repsense.engine.events import HoldUpdated, RepCompleted
from repsense.engine.specs import ExerciseSpec
from repsense.session import Analysis

GOOD = "#2ca02c"
FAULTY = "#d62728"
SIDE_COLORS = ["#1f77b4", "#ff7f0e"]
SEGMENT_COLORS = ["#1f77b4", "#9467bd", "#8c564b", "#17becf", "#bcbd22", "#e377c2"]
NOT_COUNTED = ("idle", "")


def _segments(analysis: Analysis) -> list[tuple[str, float, float]]:
    """(exercise, start_s, end_s) of each stretch the engine spent on one exercise; a stretch
    starts at its first rep when the reps were counted from before the exercise was recognised."""
    t = np.array([s.timestamp_ms for s in analysis.trace], float) / 1000.0
    out = []
    i = 0
    for name, group in itertools.groupby(s.exercise for s in analysis.trace):
        n = len(list(group))
        lo, hi = t[i], t[i + n - 1]
        starts = [e.start_ms / 1000.0 for k in range(i, i + n)   # reps told in this stretch
                  for e in analysis.frame_events.get(k, []) if isinstance(e, RepCompleted)]
        i += n
        if name not in NOT_COUNTED:
            out.append((name, float(min([lo] + starts)), float(hi)))
    return out


def _signal(analysis: Analysis, name: str) -> np.ndarray:
    """The driving signal of ``name`` over the whole recording, ``(T, sides)``: the engine's own
    trace where it counted ``name``, else the same counter run over the recording with ``name``
    fixed (so the reps replayed after recognition have their signal drawn too)."""
    from repsense.session import analyze_recording

    exercises = {s.exercise for s in analysis.trace}
    if exercises == {name}:
        trace = analysis.trace
    else:
        trace = analyze_recording(analysis.recording, name).trace
    v = [s.values for s in trace]
    width = max(len(x) for x in v) if v else 1
    return np.array([tuple(x) + (np.nan,) * (width - len(x)) for x in v], float)


def write_plot(analysis: Analysis, out: str | pathlib.Path,
               spec: ExerciseSpec | None = None) -> dict[str, str]:
    """Write the plot as an image (PNG, SVG, PDF by suffix); returns its title and axis labels.
    ``spec``: the description the analysis counted with when it is not (yet) in the catalog (an
    exercise being taught)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    from repsense.engine.exercises import catalog
    from repsense.sinks.catalog import signal_label

    specs = catalog() if spec is None else {**catalog(), spec.name: spec}
    t = np.array([s.timestamp_ms for s in analysis.trace]) / 1000.0
    segments = _segments(analysis) or [(analysis.exercise, t[0] if len(t) else 0.0,
                                        t[-1] if len(t) else 0.0)]
    names = list(dict.fromkeys(name for name, _, _ in segments))
    several = len(names) > 1
    auto = len({s.exercise for s in analysis.trace}) > 1   # recognised, not given
    fig, ax = plt.subplots(figsize=(13, 4.2), dpi=100)
    handles: list = []
    labels_units = {name: signal_label(specs.get(name)) for name in names}
    for k, name in enumerate(names):
        v = _signal(analysis, name)
        label, _ = labels_units[name]
        sides = ["left", "right"] if v.shape[1] == 2 else [""]
        for j, side in enumerate(sides):
            color = SEGMENT_COLORS[k % len(SEGMENT_COLORS)] if several else SIDE_COLORS[j]
            column = np.full(len(t), np.nan)
            for seg_name, lo, hi in segments:      # only where this exercise was counted
                if seg_name == name:
                    inside = (t >= lo - 0.5) & (t <= hi)
                    column[inside] = v[inside, j]
            text = (f"{name}: {label}" if several else label) + (f" ({side})" if side else "")
            handles += ax.plot(t, column, color=color, lw=1.2, label=text)
    if auto:
        for name, lo, hi in segments:
            ax.axvspan(lo, hi, ymin=0.0, ymax=0.03, color=SEGMENT_COLORS[names.index(name) %
                                                                         len(SEGMENT_COLORS)], lw=0)
            ax.annotate(name, ((lo + hi) / 2, 0.04), xycoords=("data", "axes fraction"),
                        ha="center", va="bottom", fontsize=8, color="#444444")
    reps = [e for e in analysis.events if isinstance(e, RepCompleted)]
    judged = any(r.form_score is not None for r in reps)
    for rep in reps:
        color = GOOD if rep.good else FAULTY
        ax.axvspan(rep.start_ms / 1000, rep.end_ms / 1000, color=color,
                   alpha=0.13 if rep.good else 0.2, lw=0)
        ax.axvline(rep.bottom_ms / 1000, color=color, lw=0.8, ls=":")
        ax.annotate(str(rep.count), (rep.bottom_ms / 1000, 1.0), xycoords=("data", "axes fraction"),
                    ha="center", va="bottom", fontsize=8, color=color)
    if judged:
        handles += [Patch(color=GOOD, alpha=0.3, label="good rep"),
                    Patch(color=FAULTY, alpha=0.4, label="rep with a fault (tips do not count)")]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                  frameon=False)
    holds = [e for e in analysis.events if isinstance(e, HoldUpdated)]
    good = sum(r.good for r in reps)
    title = f"{pathlib.Path(analysis.report.path).name}: {', '.join(names)}, {len(reps)} reps"
    if judged:
        title += f", {good} good"
    if holds:
        title += f", held {max(h.held_s for h in holds):.1f} s"
    units = {unit for _, unit in labels_units.values()}
    if several:
        ylabel = f"driving signal, {units.pop()}" if len(units) == 1 else "driving signal"
    else:
        label, unit = labels_units[names[0]]
        ylabel = f"{label}, {unit}"
    ax.set(xlabel="time in the input, s", ylabel=ylabel)
    if len(t):
        ax.set_xlim(t[0], t[-1])
    ax.set_title(title, pad=14)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return {"title": title, "ylabel": ylabel, "xlabel": "time in the input, s"}
