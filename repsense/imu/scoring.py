"""Scoring against labelled recordings: per-step accuracy, macro-F1, per-set rep count error and
whether each set's exercise was named.

A set is a maximal run of steps that are not ``set_break`` and carry one exercise; its true count
is the number of transitions into a first half (the Exermote definition of a rep). A predicted rep
belongs to a set when its start lies inside the set's span (widened by ``SET_MARGIN_MS``) and it
names the set's exercise, so a rep counted under the wrong exercise counts as an error. A set's
exercise is named right when most reps counted in its span name it (a set without any counted rep
is not named).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from repsense.engine.events import Event, RepCompleted
from repsense.imu.features import EXERCISES
from repsense.imu.recording import ImuRecording

SET_MARGIN_MS = 1500
STEP_CLASSES: tuple[str, ...] = ("break",) + EXERCISES


@dataclass(frozen=True)
class TrueSet:
    exercise: str
    start_ms: int
    end_ms: int
    reps: int


@dataclass(frozen=True)
class SetScore:
    path: str
    exercise: str
    start_ms: int
    true_reps: int
    counted_reps: int
    named: str | None = None      # the exercise most reps counted in the set's span name

    @property
    def error(self) -> int:
        return self.counted_reps - self.true_reps


def step_exercise_labels(rec: ImuRecording) -> np.ndarray:
    """Per-step index into STEP_CLASSES (``Break`` and ``setBreak`` are both ``break``)."""
    if rec.exercise is None:
        raise ValueError(f"{rec.path} has no label columns")
    out = np.zeros(len(rec), dtype=np.int64)
    for i, name in enumerate(EXERCISES, start=1):
        out[rec.exercise == name] = i
    return out


def true_sets(rec: ImuRecording) -> list[TrueSet]:
    if rec.exercise is None or rec.phase is None:
        raise ValueError(f"{rec.path} has no label columns")
    in_set = rec.exercise != "set_break"
    sets: list[TrueSet] = []
    i, n = 0, len(rec)
    while i < n:
        if not in_set[i]:
            i += 1
            continue
        j = i
        while j < n and in_set[j]:
            j += 1
        names = [e for e in rec.exercise[i:j] if e in EXERCISES]
        if names:
            name = max(set(names), key=names.count)
            first = rec.phase[i:j] == "first"
            starts = int(first[0]) + int(np.count_nonzero(first[1:] & ~first[:-1]))
            sets.append(TrueSet(name, int(rec.timestamp_ms[i]), int(rec.timestamp_ms[j - 1]), starts))
        i = j
    return sets


def score_sets(rec: ImuRecording, events: list[Event]) -> list[SetScore]:
    reps = [e for e in events if isinstance(e, RepCompleted)]
    out = []
    for s in true_sets(rec):
        inside = [r.exercise for r in reps if s.start_ms - SET_MARGIN_MS <= r.start_ms <= s.end_ms + SET_MARGIN_MS]
        named = max(sorted(set(inside)), key=inside.count) if inside else None
        out.append(SetScore(rec.path, s.exercise, s.start_ms, s.reps, inside.count(s.exercise), named))
    return out


def reps_outside_sets(rec: ImuRecording, events: list[Event]) -> int:
    """Reps counted whose start lies in no set's span (widened by ``SET_MARGIN_MS``): false reps
    in the set breaks."""
    spans = [(s.start_ms - SET_MARGIN_MS, s.end_ms + SET_MARGIN_MS) for s in true_sets(rec)]
    return sum(1 for e in events if isinstance(e, RepCompleted) and not any(a <= e.start_ms <= b for a, b in spans))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> float:
    f1s = []
    for c in range(n_classes):
        tp = np.count_nonzero((y_true == c) & (y_pred == c))
        fp = np.count_nonzero((y_true != c) & (y_pred == c))
        fn = np.count_nonzero((y_true == c) & (y_pred != c))
        if tp + fp + fn == 0:
            continue
        f1s.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1s))


def count_summary(scores: list[SetScore]) -> dict[str, float]:
    """Share of sets whose exercise is named right, off-by-at-most-one share, exact share, and MAE
    normalised by the true count (mean over sets)."""
    err = np.array([s.error for s in scores], dtype=np.float64)
    true = np.array([max(s.true_reps, 1) for s in scores], dtype=np.float64)
    return {
        "sets": float(len(scores)),
        "exercise_right": float(np.mean([s.named == s.exercise for s in scores])) if scores else float("nan"),
        "within_one": float(np.mean(np.abs(err) <= 1)) if len(err) else float("nan"),
        "exact": float(np.mean(err == 0)) if len(err) else float("nan"),
        "mae": float(np.mean(np.abs(err))) if len(err) else float("nan"),
        "nmae": float(np.mean(np.abs(err) / true)) if len(err) else float("nan"),
    }


def tolerant_hits(true: np.ndarray, pred: np.ndarray, steps: int) -> np.ndarray:
    """Boolean per step of one recording: ``pred`` equals the true label of some step at most
    ``steps`` away, i.e. a label boundary placed up to ``steps`` x 100 ms early or late counts as
    right. The labels are the recording app's metronome script, which each person follows with
    their own lag, so a step at a rep's edge is uncertain by about a step (docs/imu.md); the
    target is scored with a one-step tolerance, the exact figure is reported beside it."""
    n = len(true)
    idx = np.arange(n)
    hits = np.zeros(n, dtype=bool)
    for shift in range(-steps, steps + 1):
        hits |= pred == true[np.clip(idx + shift, 0, n - 1)]
    return hits


@dataclass
class Evaluation:
    """Figures over a set of labelled recordings (see ``evaluate``)."""

    step_accuracy: float          # break / burpee / squat / sit_up per step
    step_macro_f1: float
    phase_accuracy: float         # the 7 step classes (exercise x rep half, and break)
    counts: dict[str, float]
    sets: list[SetScore]
    per_group: dict[str, dict[str, float]]
    confusion: list[list[int]]    # [true][predicted] over STEP_CLASSES
    undecoded_step_accuracy: float = float("nan")  # the most probable class per step, no decoder
    # Step accuracy when a boundary may be off by 1 / 2 steps (see ``tolerant_hits``).
    tolerant_step_accuracy: dict[int, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {"step_accuracy": self.step_accuracy, "step_macro_f1": self.step_macro_f1,
                "undecoded_step_accuracy": self.undecoded_step_accuracy,
                "tolerant_step_accuracy": {str(k): v for k, v in self.tolerant_step_accuracy.items()},
                "phase_accuracy": self.phase_accuracy, "counts": self.counts,
                "per_group": self.per_group, "classes": list(STEP_CLASSES), "confusion": self.confusion,
                "sets": [{"path": s.path, "exercise": s.exercise, "start_ms": s.start_ms, "named": s.named,
                          "true_reps": s.true_reps, "counted_reps": s.counted_reps} for s in self.sets]}


def evaluate(items: list[tuple[str, ImuRecording, "object"]]) -> Evaluation:
    """Score ``(group, recording, model)`` triples: each recording is classified by the step model
    and replayed through the full streaming engine (the events a user would get)."""
    from repsense.imu.analysis import run_recording
    from repsense.imu.features import step_inputs, step_labels

    y4: dict[str, list[np.ndarray]] = {}
    p4: dict[str, list[np.ndarray]] = {}
    y7: list[np.ndarray] = []
    p7: list[np.ndarray] = []
    raw: dict[str, list[np.ndarray]] = {}
    sets: dict[str, list[SetScore]] = {}
    tolerant: dict[int, list[np.ndarray]] = {1: [], 2: []}
    outside: dict[str, int] = {}
    for group, rec, model in items:
        probs = model.predict_sequence(step_inputs(rec.samples))  # type: ignore[attr-defined]
        raw.setdefault(group, []).append((probs.argmax(axis=1) + 1) // 2)
        pred = model.labels(probs) if hasattr(model, "labels") else probs.argmax(axis=1)  # type: ignore[attr-defined]
        y7.append(step_labels(rec))
        p7.append(pred)
        y4.setdefault(group, []).append(step_exercise_labels(rec))
        p4.setdefault(group, []).append((pred + 1) // 2)
        for steps, hits in tolerant.items():
            hits.append(tolerant_hits(y4[group][-1], p4[group][-1], steps))
        events = run_recording(rec, model)  # type: ignore[arg-type]
        sets.setdefault(group, []).extend(score_sets(rec, events))
        outside[group] = outside.get(group, 0) + reps_outside_sets(rec, events)
    per_group = {}
    for g in sorted(y4):
        yt, yp = np.concatenate(y4[g]), np.concatenate(p4[g])
        per_group[g] = {"step_accuracy": float(np.mean(yt == yp)),
                        "step_accuracy_1": float(np.mean(np.concatenate(
                            [tolerant_hits(a, b, 1) for a, b in zip(y4[g], p4[g])]))),
                        "step_macro_f1": macro_f1(yt, yp, len(STEP_CLASSES)), **count_summary(sets[g]),
                        "reps_outside_sets": float(outside[g])}
    yt = np.concatenate([a for g in sorted(y4) for a in y4[g]])
    yp = np.concatenate([a for g in sorted(p4) for a in p4[g]])
    all_sets = [s for g in sorted(sets) for s in sets[g]]
    return Evaluation(step_accuracy=float(np.mean(yt == yp)),
                      step_macro_f1=macro_f1(yt, yp, len(STEP_CLASSES)),
                      phase_accuracy=float(np.mean(np.concatenate(y7) == np.concatenate(p7))),
                      counts={**count_summary(all_sets), "reps_outside_sets": float(sum(outside.values()))},
                      sets=all_sets, per_group=per_group,
                      undecoded_step_accuracy=float(np.mean(yt == np.concatenate([a for g in sorted(raw) for a in raw[g]]))),
                      tolerant_step_accuracy={k: float(np.mean(np.concatenate(v))) for k, v in tolerant.items()},
                      confusion=[[int(np.count_nonzero((yt == i) & (yp == j))) for j in range(len(STEP_CLASSES))]
                                 for i in range(len(STEP_CLASSES))])


__all__ = ["TrueSet", "SetScore", "Evaluation", "evaluate", "STEP_CLASSES", "step_exercise_labels", "tolerant_hits",
           "true_sets", "score_sets", "reps_outside_sets", "macro_f1", "count_summary"]
