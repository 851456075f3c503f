"""Precision and recall of the form rules on labelled frames (the form-label CSV layout:
``<exercise>_model/*.csv`` with a ``label`` column and MediaPipe landmark columns).

Frames are streamed through the same FormJudge the engine uses, in runs of consecutive frames
(a run ends where the body jumps: another clip), at 30 fps, so the rule's median window and
view check apply as they do live. A frame the rule cannot judge (joints not seen, wrong view)
counts as "no fault" - a miss, not a skip.
"""

from __future__ import annotations

import math
import pathlib
from dataclasses import dataclass

import numpy as np

from repsense.engine.exercises import get_spec
from repsense.engine.form import FormJudge, in_range
from repsense.pose import read_landmark_csv
from repsense.engine.signals import combine_sides, side_values

FRAME_MS = 33
# The videos behind the form labels are landscape 16:9: facing the camera, their shoulder width
# is 0.42 of the torso length in raw x (0.75 in true proportion, the human norm) only at 16:9.
DEFAULT_ASPECT = 16 / 9
CUT_JUMP = 0.05        # shoulders moving this much of the image between rows: another clip


@dataclass(frozen=True)
class LabelledRule:
    """A rule checked against labels: frames labelled ``positive`` should be flagged."""

    exercise: str
    rule: str
    folder: str
    positive: frozenset[str]
    negative: frozenset[str]
    what: str


# Labelled rules: the fault labels of the data (README of the data: C correct, L leaning back /
# hips low / knee over toe, H hips high), and two stage labels checked against the rules'
# thresholds (lunge depth, squat down).
LABELLED = (
    LabelledRule("biceps_curl", "leaning_back", "bicep_model", frozenset("L"), frozenset("C"),
                 "leaning back (L) vs correct (C)"),
    LabelledRule("plank", "hips_low", "plank_model", frozenset("L"), frozenset("CH"),
                 "hips low (L) vs the rest"),
    LabelledRule("plank", "hips_high", "plank_model", frozenset("H"), frozenset("CL"),
                 "hips high (H) vs the rest"),
    LabelledRule("lunge", "knee_over_toes", "lunge_model", frozenset("L"), frozenset("C"),
                 "knee over toe (L) vs correct (C)"),
    LabelledRule("lunge", "not_deep", "lunge_model", frozenset("M"), frozenset("D"),
                 "not at depth: middle stage (M) vs down (D), front knee angle"),
    LabelledRule("squat", "down", "squat_model", frozenset(["down"]), frozenset(["up"]),
                 "down stage vs up: the counter leaving its rest position"),
)


@dataclass
class RuleScore:
    rule: LabelledRule
    files: list[str]
    frames: int = 0
    positives: int = 0
    tp: int = 0
    fp: int = 0
    judged: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else math.nan

    @property
    def recall(self) -> float:
        return self.tp / self.positives if self.positives else math.nan


def _runs(poses: np.ndarray) -> list[slice]:
    sh = np.nanmean(poses[:, 11:13, :2], axis=1)
    jump = np.abs(np.diff(sh, axis=0)).sum(axis=1)
    cuts = [0, *(np.nonzero(~(jump <= CUT_JUMP))[0] + 1).tolist(), len(poses)]
    return [slice(a, b) for a, b in zip(cuts[:-1], cuts[1:]) if b > a]


def _frame_verdicts(rule: LabelledRule, poses: np.ndarray, aspect: float) -> np.ndarray:
    """Per frame: 1 flagged, 0 not flagged, -1 not judged."""
    spec = get_spec(rule.exercise)
    out = np.full(len(poses), -1, np.int8)
    if rule.rule in ("not_deep", "down"):
        # The rep's driving signal per frame (combined over sides as the counter does) against
        # the depth rule / the counter's leave-rest threshold.
        c = spec.count
        depth = next((r for r in spec.form if r.code == "not_deep"), None)
        for i, pose in enumerate(poses):
            left, right = side_values(spec.signal, pose, aspect)
            v = combine_sides(spec.signal, pose, left, right)
            if math.isnan(v):
                continue
            if rule.rule == "not_deep":
                out[i] = int(not in_range(depth, v))
            else:
                out[i] = int(v < 180.0 - c.start_fraction * c.min_rom)
        return out
    for run in _runs(poses):
        judge = FormJudge(spec, aspect)
        for k, pose in enumerate(poses[run]):
            judge.update(pose, k * FRAME_MS)
            v = judge.verdicts.get(rule.rule)
            out[run.start + k] = -1 if v is None else int(v)
    return out


def _labelled(path: pathlib.Path) -> bool:
    """A table of labelled landmark frames (not, e.g., the squat width table)."""
    with open(path) as f:
        return f.readline().startswith("label,")


def evaluate(data_dir: str | pathlib.Path, aspect: float = DEFAULT_ASPECT,
             rules: tuple[LabelledRule, ...] = LABELLED) -> list[RuleScore]:
    """Score every labelled rule whose folder exists under ``data_dir``."""
    data_dir = pathlib.Path(data_dir)
    scores = []
    for rule in rules:
        files = [f for f in sorted((data_dir / rule.folder).glob("*.csv")) if _labelled(f)]
        score = RuleScore(rule, [f.name for f in files])
        for f in files:
            labels, poses = read_landmark_csv(f)
            keep = np.isin(labels, list(rule.positive | rule.negative))
            if not keep.any():
                continue
            verdict = _frame_verdicts(rule, poses, aspect)[keep]
            pos = np.isin(labels[keep], list(rule.positive))
            score.frames += int(keep.sum())
            score.positives += int(pos.sum())
            score.tp += int((pos & (verdict == 1)).sum())
            score.fp += int((~pos & (verdict == 1)).sum())
            score.judged += int((verdict >= 0).sum())
        if score.positives:
            scores.append(score)   # a rule without labelled faults here cannot be scored
    return scores
