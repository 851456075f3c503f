"""Exercise recognition figures: the shipped model's held-out scores, optionally the model
comparison (retrains trees and CNN and blends them as shipped; needs the training extras) and the
dev videos.

    .venv/bin/python bench/recognition.py                      # shipped model, held-out tables
    .venv/bin/python bench/recognition.py --compare            # + trees, 1-D CNN and their blend, retrained
    .venv/bin/python bench/recognition.py --dev-poses DIR      # + labelled dev clips (DIR/<clip>.npz,
                                                               #   e.g. from `repsense analyze --save-pose`)
    .venv/bin/python bench/recognition.py --reliability DIR    # only the reliability table of the
                                                               #   confidence shown, over the dev clips
"""

from __future__ import annotations

import argparse
import csv
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from repsense.pose import PoseRecording  # noqa: E402
from repsense.recognition import classify_recording, load_model  # noqa: E402
from repsense.recognition.data import DEFAULT_DATA_DIR, load_all  # noqa: E402
from repsense.recognition.evaluate import evaluate, format_report  # noqa: E402


def dev_videos(model, data_dir: pathlib.Path, poses: pathlib.Path) -> str:  # type: ignore[no-untyped-def]
    """Classify every labelled dev clip (whole clip and its labelled span) from saved poses."""
    from repsense.recognition.data import DEV_IDLE_SPANS, DEV_TEST_CLIPS, DEV_TRAIN_CLIPS

    rows = ["| clip | label | seen in training | whole clip | labelled span | confidence | segments |",
            "|---|---|---|---|---|---|---|"]
    right = total = 0
    with open(data_dir / "videos" / "clips" / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            path = poses / (pathlib.Path(row["file"]).stem + ".npz")
            if not path.exists():
                rows.append(f"| {row['file']} | {row['exercise']} | | (no poses) | | | |")
                continue
            rec = PoseRecording.load(path)
            res = classify_recording(rec, model=model)
            t0 = float(row["t_start_s"] or 0) * 1000
            t1 = float(row["t_end_s"] or 1e9) * 1000
            keep = (rec.timestamp_ms >= t0) & (rec.timestamp_ms <= t1)
            span = classify_recording(PoseRecording(rec.landmarks[keep], rec.timestamp_ms[keep],
                                                    rec.image_size), model=model)
            total += 1
            right += span["exercise"] == row["exercise"]
            segs = "; ".join(f"{s['exercise']} {s['start_s']:.1f}-{s['end_s']:.1f}" for s in res["segments"])
            seen = ("labelled span" if row["file"] in DEV_TRAIN_CLIPS else
                    "idle spans" if row["file"] in DEV_IDLE_SPANS else
                    "no (held out)" if row["file"] in DEV_TEST_CLIPS else "no")
            rows.append(f"| {row['file']} | {row['exercise']} | {seen} | {res['exercise']} | {span['exercise']} | "
                        f"{span['confidence']:.2f} | {segs} |")
    return "\n".join([f"Labelled span right: {right}/{total}", "", *rows])


def decision_timing(model, test, calls: int = 1000) -> str:  # type: ignore[no-untyped-def]
    """Median and 10th percentile of single-window decisions, for the model and a blend's members."""
    one = test.X[:1]
    parts = [("model", model)] + ([("its trees", model.trees), ("its CNN", model.cnn)] if model.kind == "blend" else [])
    lines = []
    for name, m in parts:
        took = []
        for _ in range(calls):
            t0 = time.perf_counter()
            m.predict_proba(one)
            took.append((time.perf_counter() - t0) * 1000.0)
        lines.append(f"{name}: median {np.median(took):.2f} ms, p10 {np.percentile(took, 10):.2f} ms per decision")
    return "\n".join(lines)


def dev_reliability(model, poses: pathlib.Path):  # type: ignore[no-untyped-def]
    """Confidence bins vs share right of the streaming decisions over the labelled spans of the dev
    clips (videos/clips, and UCFRep's groups g09-g12, which the model never saw; the clips whose
    spans were trained on are left out). A clip of an exercise with no description is never right."""
    sys.path.insert(0, str(ROOT / "bench"))
    from count_accuracy import labelled_clips

    from repsense.recognition.data import DEV_TRAIN_CLIPS
    from repsense.recognition.evaluate import reliability, span_decisions

    conf, right = [], []
    for clip in labelled_clips():
        seen_group = clip.span_only and int(clip.path.stem.split("_")[2][1:]) <= 8
        path = poses / (clip.path.stem + ".npz")
        if clip.path.name in DEV_TRAIN_CLIPS or seen_group or not path.exists():
            continue
        names, c = span_decisions(model, PoseRecording.load(path), clip.start_s, clip.end_s)
        conf += list(c)
        right += [n == clip.exercise for n in names]
    rows, ece = reliability(np.array(conf), np.array(right))
    return rows, ece, len(conf), float(np.mean(right)) if right else float("nan")


def reliability_table(model, poses: pathlib.Path) -> str:  # type: ignore[no-untyped-def]
    rows, ece, n, share = dev_reliability(model, poses)
    lines = ["| confidence shown | decisions | mean confidence | share right |", "|---|---|---|---|"]
    lines += [f"| {r['lo']:.1f}-{r['hi']:.1f} | {r['n']} | {r['confidence']:.2f} | {r['right']:.2f} |"
              for r in rows]
    lines.append(f"\n{n} decisions, {share:.3f} right; expected calibration error {ece:.3f}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT_DATA_DIR))
    ap.add_argument("--compare", action="store_true", help="retrain trees and CNN, report each and their blend")
    ap.add_argument("--dev-poses", metavar="DIR", help="saved poses of the dev clips (<clip>.npz); with it the "
                    "curl/sit-up/deadlift clips join training as `repsense train --dev-poses` does")
    ap.add_argument("--reliability", metavar="DIR", help="only the reliability table over the dev clips' poses")
    args = ap.parse_args()
    data = pathlib.Path(args.data)
    if args.reliability:
        print(reliability_table(load_model(), pathlib.Path(args.reliability)))
        return
    train, test = load_all(data, dev_poses=args.dev_poses)
    shipped = load_model()
    print(format_report(f"shipped model ({shipped.kind})", evaluate(shipped, data, test=test)))
    print(decision_timing(shipped, test) + "\n")
    if args.compare:
        from repsense.recognition.model import Blend
        from repsense.recognition.train import BLEND_WEIGHT, train_cnn, train_trees
        models = {}
        for kind, fit in (("trees", train_trees), ("cnn", train_cnn)):
            t0 = time.perf_counter()
            models[kind] = fit(train)
            took = time.perf_counter() - t0
            print(f"## {kind}: trained in {took:.0f} s")
            print(format_report(kind, evaluate(models[kind], data, test=test)))
        blend = Blend(models["trees"], models["cnn"], BLEND_WEIGHT)
        print(format_report(f"blend (trees weight {BLEND_WEIGHT})", evaluate(blend, data, test=test)))
    if args.dev_poses:
        print("### dev videos\n")
        print(dev_videos(shipped, data, pathlib.Path(args.dev_poses)))


if __name__ == "__main__":
    main()
