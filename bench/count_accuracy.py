"""Counting accuracy on every labelled dev clip in ../shared/data/videos.

Prints per clip the true and predicted count, then per exercise and overall the off-by-one
accuracy (share of clips with |predicted - true| <= 1), the exact-match rate and the mean absolute
error normalised by the true count. The plank clip is scored on hold seconds (within 10%).

The clips in videos/clips are analysed whole: their labels count every complete rep in the
clip, so set-up, walking, title cards, rests and camera cuts are part of the test. UCFRep counts
only between its start and end frames, so those clips are cut to that span. ``--span`` cuts
every clip to its labelled span instead.

    .venv/bin/python bench/count_accuracy.py [--poses DIR] [--exercise labelled|generic|auto]

``--poses DIR`` keeps the pose recordings there and reuses them on the next run, so counting can
be re-measured in seconds; without it every video goes through the pose model.

``--repcount`` runs the 82 RepCount-A pose recordings of ``../shared/data/repcount`` instead
(long YouTube sets, poses min-max normalised per frame and axis; see the data README) with
``--exercise auto`` and ``generic`` (or the one given), and prints per class and overall the
normalised MAE, off-by-one and exact rates. A video with a true count of 0 is scored on
|predicted - 0| / 1. ``--folds K`` also prints the generic counter's K-fold cross-validation by
video (the fold's parameters chosen on the other folds, scored on it).

    .venv/bin/python bench/count_accuracy.py --repcount [--exercise auto|generic] [--folds 5]

``--summary`` counts every clip with the exercise given (``labelled``), in auto and generic, and
the RepCount-A dev half the same way (its classes mapped to our exercises, REPCOUNT_EXERCISE),
and prints the one table: a row per mode, a column per clip set (the 18 old dev clips, the 20
new ones, UCFRep dev, RepCount). ``--cv`` cross-validates the counting thresholds leaving one
source video out (CV_PARAMS).

    .venv/bin/python bench/count_accuracy.py --poses DIR --summary
    .venv/bin/python bench/count_accuracy.py --poses DIR --cv
"""

from __future__ import annotations

import argparse
import csv
import pathlib
import sys
from collections import defaultdict
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "videos"
REPCOUNT = ROOT.parent / "shared" / "data" / "repcount"
# The dev clips in videos/clips before the second batch of clips: the first rows of labels.csv.
OLD_CLIPS = 18
CLIP_SETS = ("old", "new", "ucfrep")
UCF_EXERCISE = {"BodyWeightSquats": "squat", "JumpingJack": "jumping_jack",
                "HandStandPushups": "handstand_push_up"}


@dataclass(frozen=True)
class Clip:
    path: pathlib.Path
    exercise: str
    count: float          # reps, or hold seconds for a hold
    start_s: float
    end_s: float
    hold: bool = False
    span_only: bool = False   # the label counts only inside [start_s, end_s]
    set: str = "old"          # old / new dev clips, or ucfrep (see CLIP_SETS)

    @property
    def group(self) -> str:
        """The source video the clip comes from, for cross-validation grouped by source: the
        repository prefix of a dev clip ("MrPose", "aiTrainer", ...), UCFRep's group (g05)."""
        stem = self.path.stem
        if self.set == "ucfrep":   # v_<class>_g<NN>_c<MM>: a group of one class is one source
            return "_".join(stem.split("_")[1:3])
        return stem.split("_")[0]

    @property
    def counted_as(self) -> str:
        """The exercise to count the clip with: its label, or ``generic`` for an exercise that has
        no description (front raises, rows, dips, ...)."""
        from repsense.engine.exercises import catalog

        return self.exercise if self.exercise in catalog() else "generic"


def labelled_clips(data: pathlib.Path = DATA) -> list[Clip]:
    clips = []
    with open(data / "clips" / "labels.csv", newline="") as f:
        for i, row in enumerate(csv.DictReader(f)):
            hold = not row["count"]
            clips.append(Clip(data / "clips" / row["file"], row["exercise"],
                              float(row["hold_s"] if hold else row["count"]),
                              float(row["t_start_s"]), float(row["t_end_s"]), hold,
                              set="old" if i < OLD_CLIPS else "new"))
    with open(data / "ucfrep" / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            fps = float(row.get("fps") or 25.0)
            # label frames are 1-based boundaries; keep half a frame either side
            clips.append(Clip(data / "ucfrep" / row["file"], UCF_EXERCISE[row["exercise"]],
                              float(row["count"]), (int(row["start_frame"]) - 1.5) / fps,
                              (int(row["end_frame"]) + 0.5) / fps, span_only=True,
                              set="ucfrep"))
    return clips


def recording_for(clip: Clip, poses: pathlib.Path | None, model: str,  # type: ignore[no-untyped-def]
                  whole: bool = False):
    """The clip's pose recording over its labelled span (or the whole clip)."""
    from repsense.sources import load_input, select_span
    from repsense.pose import PoseRecording

    start, end = (None, None) if whole else (clip.start_s, clip.end_s)
    if poses is not None:
        cached = poses / (clip.path.stem + ".npz")
        if cached.is_file():
            rec = PoseRecording.load(cached)
        else:
            rec = load_input(clip.path, model=model)
            poses.mkdir(parents=True, exist_ok=True)
            rec.save(cached)
        return select_span(rec, start, end)
    return load_input(clip.path, start_s=start, end_s=end, model=model)


def predict(clip: Clip, rec, mode: str) -> float:  # type: ignore[no-untyped-def]
    from repsense.session import analyze_recording

    exercise = clip.counted_as if mode == "labelled" else mode
    report = analyze_recording(rec, exercise).report
    if clip.hold:
        return sum(e.hold_s or 0.0 for e in report.exercises)
    return float(report.total_reps)


def score(rows: list[tuple[Clip, float]]) -> dict[str, float]:
    reps = [(c, p) for c, p in rows if not c.hold]
    holds = [(c, p) for c, p in rows if c.hold]
    ok = [abs(p - c.count) <= 1 for c, p in reps] + [abs(p - c.count) <= 0.1 * c.count for c, p in holds]
    exact = [p == c.count for c, p in reps]
    nmae = [abs(p - c.count) / c.count for c, p in rows]
    return {"clips": len(rows), "off_by_one": sum(ok) / len(ok) if ok else float("nan"),
            "exact": sum(exact) / len(exact) if exact else float("nan"),
            "nmae": sum(nmae) / len(nmae) if nmae else float("nan")}


@dataclass(frozen=True)
class RepCountVideo:
    path: pathlib.Path
    cls: str               # RepCount-A's class name (bench_pressing, situp, others, ...)
    count: int
    bounds: tuple[int, ...]   # start and end frame of every rep, in pairs

    @property
    def name(self) -> str:
        return self.path.stem


def repcount_videos(data: pathlib.Path = REPCOUNT) -> list[RepCountVideo]:
    with open(data / "labels.csv", newline="") as f:
        return [RepCountVideo(data / row["file"], row["class"], int(row["count"]),
                              tuple(int(b) for b in row["cycle_bounds"].split()))
                for row in csv.DictReader(f)]


def repcount_recording(video: RepCountVideo):  # type: ignore[no-untyped-def]
    from repsense.pose import PoseRecording

    return PoseRecording.load(video.path)


def repcount_score(rows: list[tuple[int, float]]) -> dict[str, float]:
    """nMAE (a true count of 0 is divided by 1), off-by-one and exact over (true, predicted)."""
    n = len(rows)
    if not n:
        return {"n": 0, "nmae": float("nan"), "obo": float("nan"), "exact": float("nan")}
    return {"n": n, "nmae": sum(abs(p - t) / max(t, 1) for t, p in rows) / n,
            "obo": sum(abs(p - t) <= 1 for t, p in rows) / n,
            "exact": sum(p == t for t, p in rows) / n}


def repcount_table(preds: dict[str, dict[str, float]], videos: list[RepCountVideo]) -> str:
    """Per class and overall nMAE / off-by-one / exact, one column group per mode."""
    modes = list(preds)
    head = f"{'class':16s} {'n':>3s}" + "".join(
        f" | {m + ' nMAE':>12s} {'OBO':>5s} {'exact':>5s}" for m in modes)
    lines = [head]
    classes = sorted({v.cls for v in videos})
    for cls in classes + ["all"]:
        sub = [v for v in videos if cls in ("all", v.cls)]
        line = f"{cls:16s} {len(sub):3d}"
        for m in modes:
            s = repcount_score([(v.count, preds[m][v.name]) for v in sub])
            line += f" | {s['nmae']:12.3f} {s['obo']:5.3f} {s['exact']:5.3f}"
        lines.append(line)
    return "\n".join(lines)


# RepCount-A's classes as our exercises ("labelled" mode); a class with no description
# (front raises, pommel horse, others) is counted by the generic counter.
REPCOUNT_EXERCISE = {"bench_pressing": "bench_press", "situp": "sit_up",
                     "jump_jack": "jumping_jack", "pull_up": "pull_up", "push_up": "push_up",
                     "squat": "squat"}


def repcount_mode(video: RepCountVideo, mode: str) -> str:
    if mode != "labelled":
        return mode
    from repsense.engine.exercises import catalog

    name = REPCOUNT_EXERCISE.get(video.cls, "generic")
    return name if name in catalog() else "generic"


def run_repcount(modes: list[str], folds: int = 0,
                 quiet: bool = False) -> dict[str, dict[str, float]]:
    """Every RepCount-A video counted in each mode: {mode: {video: predicted}}; prints per video
    and the per-class table unless ``quiet``."""
    from repsense.session import analyze_recording

    videos = repcount_videos()
    preds: dict[str, dict[str, float]] = {m: {} for m in modes}
    if not quiet:
        print(f"{'video':14s} {'class':16s} {'true':>5s}" + "".join(f" {m:>8s}" for m in modes))
    for v in videos:
        rec = repcount_recording(v)
        for m in modes:
            preds[m][v.name] = float(analyze_recording(rec, repcount_mode(v, m)).report.total_reps)
        if not quiet:
            print(f"{v.name:14s} {v.cls:16s} {v.count:5d}" +
                  "".join(f" {preds[m][v.name]:8.0f}" for m in modes), flush=True)
    if not quiet:
        print()
        print(repcount_table(preds, videos))
    if folds:
        print()
        print(cross_validate(videos, folds))
    return preds


def generic_candidates() -> dict[str, object]:
    """The generic counter's settings the cross-validation chooses from (the shipped one among
    them): the depth of a rep on box-normalised poses, as the amplitude above which the signal is
    scaled to the movement (amp_ref; a rep needs min_rom / amp_ref of it), and how many reps one
    interval of a regular run may hide (fill_missed, counting.Rhythm; 0 counts only the reps
    seen). Camera poses are not scaled, so their figures do not depend on amp_ref."""
    import dataclasses

    from repsense.engine.generic import GENERIC_SPEC, MotionParams

    out: dict[str, object] = {}
    for amp in (0.35, 0.5):
        for fill in (0, 3, 6, 10):
            count = dataclasses.replace(GENERIC_SPEC.count, fill_missed=fill)
            out[f"amp{amp:g}_fill{fill}"] = dataclasses.replace(
                GENERIC_SPEC, count=count, extra={"motion": MotionParams(amp_ref=amp)})
    return out


def cross_validate(videos: list[RepCountVideo], folds: int) -> str:
    """K folds by video (every K-th video of the sorted names): per fold, the candidate with the
    lowest nMAE on the other folds, scored on the fold."""
    from repsense.session import Session

    def count(rec, spec) -> int:  # type: ignore[no-untyped-def]
        session = Session(spec, aspect=rec.aspect)
        session.run(zip(rec.landmarks, rec.timestamp_ms))
        session.finish()
        return session.tracker.total_reps

    cands = generic_candidates()
    recs = {v.name: repcount_recording(v) for v in videos}
    preds = {name: {v.name: count(recs[v.name], spec) for v in videos}
             for name, spec in cands.items()}
    order = sorted(videos, key=lambda v: v.name)
    lines = [f"generic counter, {folds}-fold cross-validation by video",
             f"{'fold':>4s} {'n':>3s} {'chosen':16s} {'train nMAE':>10s} {'test nMAE':>9s} "
             f"{'test OBO':>8s}"]
    pooled: list[tuple[int, float]] = []
    for k in range(folds):
        test = [v for i, v in enumerate(order) if i % folds == k]
        train = [v for i, v in enumerate(order) if i % folds != k]
        train_score = {n: repcount_score([(v.count, p[v.name]) for v in train])["nmae"]
                       for n, p in preds.items()}
        best = min(train_score, key=lambda n: (train_score[n], n))
        rows = [(v.count, preds[best][v.name]) for v in test]
        pooled += rows
        s = repcount_score(rows)
        lines.append(f"{k:4d} {len(test):3d} {best:16s} {train_score[best]:10.3f} "
                     f"{s['nmae']:9.3f} {s['obo']:8.3f}")
    s = repcount_score(pooled)
    lines.append(f"{'all':>4s} {len(pooled):3d} {'':16s} {'':10s} {s['nmae']:9.3f} {s['obo']:8.3f}")
    lines.append("candidates on all videos: " + ", ".join(
        f"{n} {repcount_score([(v.count, p[v.name]) for v in videos])['nmae']:.3f}"
        for n, p in preds.items()))
    return "\n".join(lines)


def clip_rows(mode: str, clips: list[Clip], poses: pathlib.Path | None, model: str = "full",
              span: bool = False) -> list[tuple[Clip, float]]:
    """Every clip counted in one mode (``labelled``: the clip's exercise, see Clip.counted_as)."""
    return [(clip, predict(clip, recording_for(clip, poses, model,
                                               whole=not (span or clip.span_only)), mode))
            for clip in clips]


def off(clip: Clip, pred: float) -> bool:
    return abs(pred - clip.count) > (0.1 * clip.count if clip.hold else 1)


def clip_tables(results: dict[str, list[tuple[Clip, float]]]) -> str:
    """Per clip (a column per mode), then per exercise and per clip set, a column group per mode."""
    modes = list(results)
    clips = [c for c, _ in results[modes[0]]]
    lines = [f"{'clip':58s} {'set':6s} {'exercise':14s} {'true':>5s}" +
             "".join(f" {m[:8]:>8s}" for m in modes)]
    for i, clip in enumerate(clips):
        preds = [results[m][i][1] for m in modes]
        flags = ",".join(m for m, p in zip(modes, preds) if off(clip, p))
        lines.append(f"{clip.path.name[:58]:58s} {clip.set:6s} {clip.exercise[:14]:14s} "
                     f"{clip.count:5.1f}" + "".join(f" {p:8.1f}" for p in preds) +
                     (f"  <-- off ({flags})" if flags else ""))

    def block(title: str, groups: list[tuple[str, list[int]]]) -> None:
        lines.append("")
        lines.append(f"{title:18s} {'clips':>5s}" +
                     "".join(f" | {m[:8] + ' OBO':>12s} {'exact':>5s} {'nMAE':>6s}" for m in modes))
        for name, idx in groups:
            line = f"{name:18s} {len(idx):5d}"
            for m in modes:
                sc = score([results[m][i] for i in idx])
                line += f" | {sc['off_by_one']:12.2f} {sc['exact']:5.2f} {sc['nmae']:6.3f}"
            lines.append(line)

    by_ex: dict[str, list[int]] = defaultdict(list)
    for i, clip in enumerate(clips):
        by_ex[clip.exercise].append(i)
    block("exercise", sorted(by_ex.items()) + [("overall", list(range(len(clips))))])
    block("clip set", [(name, [i for i, c in enumerate(clips) if c.set == name])
                       for name in CLIP_SETS] +
          [("clips (old+new)", [i for i, c in enumerate(clips) if c.set != "ucfrep"]),
           ("all", list(range(len(clips))))])
    return "\n".join(lines)


def summary_table(results: dict[str, list[tuple[Clip, float]]],
                  repcount: dict[str, dict[str, float]] | None) -> str:
    """The one table: a row per mode, a column per clip set; cells are OBO / exact / nMAE."""
    sets: list[tuple[str, object]] = [(n, lambda c, n=n: c.set == n) for n in CLIP_SETS]
    sets.insert(2, ("clips", lambda c: c.set != "ucfrep"))
    sets.append(("all dev", lambda c: True))
    head = ["mode"] + [f"{n} ({sum(f(c) for c, _ in next(iter(results.values())))})"
                       for n, f in sets]
    videos = repcount_videos() if repcount else []
    if repcount:
        head.append(f"RepCount dev ({len(videos)})")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m, rows in results.items():
        cells = [{"labelled": "given"}.get(m, m)]
        for _, f in sets:
            sc = score([(c, p) for c, p in rows if f(c)])  # type: ignore[operator]
            cells.append(f"{sc['off_by_one']:.2f} / {sc['exact']:.2f} / {sc['nmae']:.3f}")
        if repcount:
            if m in repcount:
                sc = repcount_score([(v.count, repcount[m][v.name]) for v in videos])
                cells.append(f"{sc['obo']:.2f} / {sc['exact']:.2f} / {sc['nmae']:.3f}")
            else:
                cells.append("-")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("cells: within one (holds: within 10%) / exact / nMAE")
    return "\n".join(lines)


# The counting thresholds the grouped cross-validation chooses from: (module, constant, candidates
# with the shipped value among them). 0.5 for LOOSE_VISIBILITY and 10**6 for EVIDENCE_REPS turn
# the feature off (MIN_VISIBILITY; no run is ever long enough), as 1e9 for FORESHORTENED (no
# torso is that short); GATE_NOTE_SHARE above 1 never finds a tilt check misfit.
CV_PARAMS: list[tuple[str, str, tuple[float, ...]]] = [
    ("repsense.engine.tracker", "LOOSE_VISIBILITY", (0.5, 0.35, 0.2, 0.1, 0.05)),
    ("repsense.engine.tracker", "EVIDENCE_REPS", (10**6, 3, 2)),
    ("repsense.engine.tracker", "FORESHORTENED", (1e9, 2.0, 1.5, 1.0)),
    ("repsense.engine.tracker", "GATE_NOTE_SHARE", (1.01, 0.7, 0.5, 0.3)),
]


def cross_validate_clips(clips: list[Clip], poses: pathlib.Path | None) -> str:
    """Leave one source out (Clip.group: a repository's clips, a UCFRep class group): for each
    counting threshold in CV_PARAMS (the others as shipped), the candidate with the lowest nMAE
    (then the highest within-one share) on the other sources counts the held-out source's clips,
    with the exercise given. Prints the pooled held-out figures next to the shipped value's."""
    import importlib

    recs = {c.path.name: recording_for(c, poses, "full", whole=not c.span_only) for c in clips}
    groups = sorted({c.group for c in clips})
    lines = [f"counting thresholds, leave-one-source-out cross-validation over {len(clips)} "
             f"clips from {len(groups)} sources (exercise given)"]
    for module_name, attr, candidates in CV_PARAMS:
        module = importlib.import_module(module_name)
        shipped = getattr(module, attr)
        preds: dict[float, list[tuple[Clip, float]]] = {}
        try:
            for value in candidates:
                setattr(module, attr, type(shipped)(value))
                preds[value] = [(c, predict(c, recs[c.path.name], "labelled")) for c in clips]
        finally:
            setattr(module, attr, shipped)
        pooled: list[tuple[Clip, float]] = []
        chosen: dict[float, int] = defaultdict(int)
        for g in groups:
            def train(value: float, g: str = g) -> tuple[float, float]:
                sc = score([(c, p) for c, p in preds[value] if c.group != g])
                return sc["nmae"], -sc["off_by_one"]
            best = min(candidates, key=lambda v: (train(v), v != shipped))
            chosen[best] += 1
            pooled += [(c, p) for c, p in preds[best] if c.group == g]
        cv, ship = score(pooled), score(preds[shipped])
        lines.append(f"{attr}: shipped {shipped:g}: within one {ship['off_by_one']:.3f}, nMAE "
                     f"{ship['nmae']:.3f}; cross-validated: within one {cv['off_by_one']:.3f}, "
                     f"nMAE {cv['nmae']:.3f}; chosen " + ", ".join(
                         f"{v:g} in {n} of {len(groups)} folds" for v, n in sorted(chosen.items())))
        lines.append("  per candidate on all clips: " + ", ".join(
            f"{v:g}: {score(r)['off_by_one']:.3f} / {score(r)['nmae']:.3f}"
            for v, r in preds.items()))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poses", type=pathlib.Path, help="cache folder for pose recordings")
    parser.add_argument("--exercise", default="labelled",
                        help="labelled, generic or auto, or several comma-separated")
    parser.add_argument("--model", default="full", choices=["lite", "full"])
    parser.add_argument("--only", default="", help="substring filter on clip file names")
    parser.add_argument("--span", action="store_true",
                        help="cut every clip to its labelled span (default: only UCFRep clips)")
    parser.add_argument("--repcount", action="store_true",
                        help="run the RepCount-A pose recordings (auto and generic by default)")
    parser.add_argument("--folds", type=int, default=0,
                        help="with --repcount: K-fold cross-validation of the generic counter")
    parser.add_argument("--summary", action="store_true",
                        help="all clips and RepCount in labelled, auto and generic: the one table")
    parser.add_argument("--cv", action="store_true",
                        help="cross-validation by source video of the counting thresholds")
    args = parser.parse_args()
    if args.cv:
        print(cross_validate_clips(labelled_clips(), args.poses))
        return 0
    if args.repcount and not args.summary:
        if not REPCOUNT.is_dir():
            print(f"no data at {REPCOUNT}", file=sys.stderr)
            return 2
        modes = ["auto", "generic"] if args.exercise == "labelled" else args.exercise.split(",")
        run_repcount(modes, args.folds)
        return 0
    if not DATA.is_dir():
        print(f"no data at {DATA}", file=sys.stderr)
        return 2
    modes = ["labelled", "auto", "generic"] if args.summary else args.exercise.split(",")
    clips = [c for c in labelled_clips() if args.only in c.path.name]
    results = {m: clip_rows(m, clips, args.poses, args.model, args.span) for m in modes}
    print(clip_tables(results))
    if args.summary:
        repcount = run_repcount(modes, quiet=True) if REPCOUNT.is_dir() else None
        print()
        print(summary_table(results, repcount))
    return 0


if __name__ == "__main__":
    sys.exit(main())
