"""Held-out figures of a recognition model: macro-F1, per-class accuracy and confusion matrices.

Gym windows are scored one window at a time; UCF101 clips are scored whole, through
:func:`~repsense.recognition.batch.classify_recording` (the same path as ``repsense classify``),
and also per window. Scores are over the model's classes (``wall_push_up`` and ``handstand_push_up``
kept apart); a prediction outside a benchmark's classes counts as an error.
"""

from __future__ import annotations

import pathlib
import time
from typing import Any

import numpy as np

from repsense.pose import PoseRecording
from repsense.recognition.recognizer import classify_recording
from repsense.recognition.data import DEFAULT_DATA_DIR, UCF_TEST_GROUPS, Samples, load_all, load_ucf_clips
from repsense.recognition.labels import exercise_name
from repsense.recognition.model import Model


def confusion(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> np.ndarray:
    """Counts ``(len(labels), len(labels) + 1)``: rows true, columns predicted, last column = other."""
    idx = {c: i for i, c in enumerate(labels)}
    m = np.zeros((len(labels), len(labels) + 1), np.int64)
    for t, p in zip(y_true, y_pred):
        if t in idx:
            m[idx[t], idx.get(p, len(labels))] += 1
    return m


def scores(y_true: np.ndarray, y_pred: np.ndarray, labels: list[str]) -> dict[str, Any]:
    """Macro-F1 over ``labels``, accuracy, per-class accuracy (recall) and the confusion matrix."""
    m = confusion(y_true, y_pred, labels)
    tp = np.diag(m[:, :-1]).astype(float)
    support = m.sum(axis=1).astype(float)
    predicted = m[:, :-1].sum(axis=0).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, tp / support, 0.0)
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    present = support > 0
    return {
        "n": int(support.sum()),
        "macro_f1": float(f1[present].mean()),
        "accuracy": float(tp.sum() / max(support.sum(), 1)),
        "per_class_accuracy": {c: float(r) for c, r, ok in zip(labels, recall, present) if ok},
        "labels": labels,
        "confusion": m.tolist(),
    }


def window_predictions(model: Model, X: np.ndarray, batch: int = 2048) -> np.ndarray:
    probs = np.concatenate([model.predict_proba(X[i:i + batch]) for i in range(0, len(X), batch)])
    return np.asarray(model.classes)[probs.argmax(axis=1)]


def evaluate(model: Model, data_dir: pathlib.Path | str = DEFAULT_DATA_DIR,
             test: Samples | None = None, dev_poses: pathlib.Path | str | None = None) -> dict[str, Any]:
    """All held-out figures of ``model`` on the shared data's test side."""
    data_dir = pathlib.Path(data_dir)
    if test is None:
        _, test = load_all(data_dir, dev_poses=dev_poses)
    out: dict[str, Any] = {}
    pred = window_predictions(model, test.X)
    for name, mask in (("gym_windows", test.source == "gym"), ("ucf_windows", test.source == "ucf"),
                       ("form_windows", test.source == "form"), ("idle_windows", test.source == "synthetic"),
                       ("dev_windows", test.source == "dev")):
        if not mask.any():
            continue
        labels = sorted(set(test.y[mask]))
        out[name] = scores(test.y[mask], pred[mask], labels)
    # Whole UCF101 test clips through the batch classifier (exercise-name level, as users see it).
    truth, guess = [], []
    for _, cls, group, lm, ts in load_ucf_clips(data_dir):
        if group in UCF_TEST_GROUPS:
            res = classify_recording(PoseRecording(lm, ts), model=model)
            truth.append(cls)
            guess.append(res["class"])
    out["ucf_clip_predictions"] = [[t, g] for t, g in zip(truth, guess)]
    ucf_labels = sorted(set(truth))
    out["ucf_clips"] = scores(np.array(truth), np.array(guess), ucf_labels)
    names = [exercise_name(c) for c in truth]
    out["ucf_clips_names"] = scores(np.array(names), np.array([exercise_name(g) for g in guess]),
                                    sorted(set(names)))
    # Cost of one decision (one window) on this CPU.
    one = test.X[:1]
    model.predict_proba(one)
    t0 = time.perf_counter()
    for _ in range(50):
        model.predict_proba(one)
    out["ms_per_decision"] = (time.perf_counter() - t0) / 50 * 1000.0
    return out


def format_report(name: str, res: dict[str, Any]) -> str:
    """Markdown tables of :func:`evaluate`'s result."""
    lines = [f"### {name}", "", "| benchmark | n | macro-F1 | accuracy |", "|---|---|---|---|"]
    keys = [k for k in ("gym_windows", "ucf_clips", "ucf_clips_names", "ucf_windows", "form_windows",
                         "idle_windows", "dev_windows") if k in res]
    for key in keys:
        r = res[key]
        lines.append(f"| {key} | {r['n']} | {r['macro_f1']:.3f} | {r['accuracy']:.3f} |")
    lines.append(f"\nOne decision (features + model, one window): {res['ms_per_decision']:.2f} ms.\n")
    for key in [k for k in keys if k not in ("ucf_clips_names", "ucf_windows")]:
        r = res[key]
        labels = r["labels"]
        lines += [f"**{key}** per-class accuracy: "
                  + ", ".join(f"{c} {a:.3f}" for c, a in r["per_class_accuracy"].items()), "",
                  "| true \\ predicted | " + " | ".join(labels) + " | other |",
                  "|---" * (len(labels) + 2) + "|"]
        for c, row in zip(labels, r["confusion"]):
            lines.append(f"| {c} | " + " | ".join(str(v) for v in row) + " |")
        lines.append("")
    return "\n".join(lines)


# --- calibration ---------------------------------------------------------------------------------

RELIABILITY_BINS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def span_decisions(model: Model, rec: PoseRecording, t0_s: float, t1_s: float,
                   smooth: int = 6) -> tuple[list[str], np.ndarray]:
    """The streaming recogniser's decisions (a window every 5 frames, name probabilities averaged
    over the last ``smooth``, as :class:`DecisionSmoother` does) whose window lies in
    ``[t0_s, t1_s]`` (clip seconds) and whose top name is not idle: ``(names, confidences)``, the
    confidence being the averaged probability of the top name, the number the page shows."""
    from repsense.recognition.features import FRAME_MS, WINDOW_FRAMES, resample, sliding_windows
    from repsense.recognition.labels import IDLE, NAMES
    from repsense.recognition.recognizer import _name_probabilities, name_matrix, to_model_space

    grid, grid_ms = resample(rec.landmarks, rec.timestamp_ms)
    if not len(grid):
        return [], np.zeros(0)
    windows = to_model_space(sliding_windows(grid, 5), rec.aspect)
    probs = _name_probabilities(model, name_matrix(model.classes), windows)
    avg = np.array([probs[max(0, i - smooth + 1):i + 1].mean(axis=0) for i in range(len(probs))])
    start_s = (grid_ms[0] + np.arange(len(windows)) * 5 * FRAME_MS) / 1000.0
    end_s = start_s + WINDOW_FRAMES * FRAME_MS / 1000.0
    top = avg.argmax(axis=1)
    keep = (start_s >= t0_s) & (end_s <= t1_s + 0.5) & (top != NAMES.index(IDLE))
    return [NAMES[k] for k in top[keep]], avg.max(axis=1)[keep]


def reliability(confidence: np.ndarray, right: np.ndarray,
                bins: tuple[float, ...] = RELIABILITY_BINS) -> tuple[list[dict[str, float]], float]:
    """Rows {lo, hi, n, confidence, right} per confidence bin, and the expected calibration
    error (the bins' |mean confidence - share right|, weighted by their share of decisions)."""
    confidence, right = np.asarray(confidence, float), np.asarray(right, float)
    rows, ece = [], 0.0
    for k, (lo, hi) in enumerate(zip(bins[:-1], bins[1:])):
        m = (confidence >= lo) & ((confidence < hi) if k < len(bins) - 2 else (confidence <= hi))
        if m.any():
            rows.append({"lo": lo, "hi": hi, "n": int(m.sum()), "confidence": float(confidence[m].mean()),
                         "right": float(right[m].mean())})
            ece += m.sum() / len(confidence) * abs(confidence[m].mean() - right[m].mean())
    return rows, float(ece)
