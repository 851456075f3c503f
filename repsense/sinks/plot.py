"""A plot of the signal that drives the count, with every counted rep marked."""

from __future__ import annotations

import pathlib

import numpy as np

from repsense.session import Analysis
from repsense.engine.events import HoldUpdated, RepCompleted


def write_plot(analysis: Analysis, out: str | pathlib.Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.array([s.timestamp_ms for s in analysis.trace]) / 1000.0
    v = np.array([s.values for s in analysis.trace], dtype=float).reshape(len(t), -1)
    fig, ax = plt.subplots(figsize=(12, 4), dpi=100)
    labels = ["left", "right"] if v.shape[1] == 2 else ["driving signal"]
    for column, label, color in zip(v.T, labels, ["#1f77b4", "#ff7f0e"]):
        ax.plot(t, column, color=color, lw=1.2, label=label)
    if v.shape[1] > 1:
        ax.legend(loc="lower right", fontsize=8)
    reps = [e for e in analysis.events if isinstance(e, RepCompleted)]
    for rep in reps:
        ax.axvspan(rep.start_ms / 1000, rep.end_ms / 1000, color="#2ca02c", alpha=0.15, lw=0)
        ax.axvline(rep.bottom_ms / 1000, color="#2ca02c", lw=0.8, ls=":")
        ax.annotate(str(rep.count), (rep.bottom_ms / 1000, 1.0), xycoords=("data", "axes fraction"),
                    ha="center", va="bottom", fontsize=8, color="#2ca02c")
    holds = [e for e in analysis.events if isinstance(e, HoldUpdated)]
    names = ", ".join(dict.fromkeys(e.name for e in analysis.report.exercises)) or analysis.exercise
    title = f"{pathlib.Path(analysis.report.path).name}: {names}, {len(reps)} reps"
    if holds:
        title += f", held {max(h.held_s for h in holds):.1f} s"
    unit = "distance from rest pose (torso lengths)" if analysis.exercise == "generic" else \
        "in position (1) / not (0)" if holds else "angle (deg)"
    ax.set(xlabel="time (s)", ylabel=unit)
    ax.set_title(title, pad=14)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
