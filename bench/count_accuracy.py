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


def labelled_clips(data: pathlib.Path = DATA) -> list[Clip]:
    clips = []
    with open(data / "clips" / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            hold = not row["count"]
            clips.append(Clip(data / "clips" / row["file"], row["exercise"],
                              float(row["hold_s"] if hold else row["count"]),
                              float(row["t_start_s"]), float(row["t_end_s"]), hold))
    with open(data / "ucfrep" / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            fps = float(row.get("fps") or 25.0)
            # label frames are 1-based boundaries; keep half a frame either side
            clips.append(Clip(data / "ucfrep" / row["file"], UCF_EXERCISE[row["exercise"]],
                              float(row["count"]), (int(row["start_frame"]) - 1.5) / fps,
                              (int(row["end_frame"]) + 0.5) / fps, span_only=True))
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

    exercise = clip.exercise if mode == "labelled" else mode
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poses", type=pathlib.Path, help="cache folder for pose recordings")
    parser.add_argument("--exercise", default="labelled", help="labelled, generic or auto")
    parser.add_argument("--model", default="full", choices=["lite", "full"])
    parser.add_argument("--only", default="", help="substring filter on clip file names")
    parser.add_argument("--span", action="store_true",
                        help="cut every clip to its labelled span (default: only UCFRep clips)")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"no data at {DATA}", file=sys.stderr)
        return 2
    rows: list[tuple[Clip, float]] = []
    print(f"{'clip':48s} {'exercise':18s} {'true':>6s} {'pred':>6s}")
    for clip in labelled_clips():
        if args.only not in clip.path.name:
            continue
        rec = recording_for(clip, args.poses, args.model, whole=not (args.span or clip.span_only))
        pred = predict(clip, rec, args.exercise)
        rows.append((clip, pred))
        flag = "" if abs(pred - clip.count) <= (0.1 * clip.count if clip.hold else 1) else "  <-- off"
        print(f"{clip.path.name:48s} {clip.exercise:18s} {clip.count:6.1f} {pred:6.1f}{flag}",
              flush=True)
    by_ex: dict[str, list[tuple[Clip, float]]] = defaultdict(list)
    for clip, pred in rows:
        by_ex[clip.exercise].append((clip, pred))
    print(f"\n{'exercise':18s} {'clips':>5s} {'off-by-one':>10s} {'exact':>6s} {'nMAE':>6s}")
    for name, sub in sorted(by_ex.items()) + [("overall", rows)]:
        s = score(sub)
        print(f"{name:18s} {s['clips']:5d} {s['off_by_one']:10.2f} {s['exact']:6.2f} {s['nmae']:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
