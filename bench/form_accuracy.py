"""Precision and recall of each form rule that has labels, by exercise.

    .venv/bin/python bench/form_accuracy.py [DATA_DIR] [--aspect W/H] [--json FILE]

DATA_DIR defaults to ../shared/data/form_labels (any folder of the same layout:
``<exercise>_model/*.csv`` with a ``label`` column and landmark columns). Target: every rule
>= 0.85 precision and >= 0.80 recall.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from bench.form_labels import DEFAULT_ASPECT, evaluate  # noqa: E402
from repsense.sinks.jsonio import write_json  # noqa: E402

DEFAULT_DIR = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "form_labels"
PRECISION, RECALL = 0.85, 0.80


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("data_dir", nargs="?", default=str(DEFAULT_DIR))
    ap.add_argument("--aspect", type=float, default=DEFAULT_ASPECT,
                    help="width/height of the videos the landmarks come from (default 16:9)")
    ap.add_argument("--json", metavar="FILE", help="also write the figures as JSON ('-': stdout)")
    args = ap.parse_args()
    data = pathlib.Path(args.data_dir)
    if not data.is_dir():
        print(f"form_accuracy: {data} is not a folder", file=sys.stderr)
        return 2
    scores = evaluate(data, args.aspect)
    if not scores:
        print(f"form_accuracy: no labelled CSVs under {data}", file=sys.stderr)
        return 2
    print(f"form rules on labelled frames in {data} (aspect {args.aspect:.3f})")
    print(f"| exercise | rule | labels | frames | positives | judged | precision | recall | target |")
    print("|---|---|---|---|---|---|---|---|---|")
    for s in scores:
        ok = s.precision >= PRECISION and s.recall >= RECALL
        print(f"| {s.rule.exercise} | {s.rule.rule} | {s.rule.what} | {s.frames} | {s.positives} "
              f"| {s.judged / s.frames:.2f} | {s.precision:.3f} | {s.recall:.3f} | "
              f"{'met' if ok else 'NOT met'} |")
    if args.json:
        write_json({"aspect": args.aspect, "rules": [
            {"exercise": s.rule.exercise, "rule": s.rule.rule, "labels": s.rule.what,
             "files": s.files, "frames": s.frames, "positives": s.positives,
             "judged": s.judged, "precision": s.precision, "recall": s.recall}
            for s in scores]}, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
