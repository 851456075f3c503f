"""Does one video in chunks count like one pass? Every labelled dev clip, both ways.

    .venv/bin/python bench/chunk_agreement.py [--min-chunk-s 8] [--workers 2]

For each clip of ../shared/data/videos (the clips analysed whole, UCFRep over its labelled span)
the poses are estimated in one pass and in chunks of at least --min-chunk-s seconds (forced short,
so clips under a minute are split too), and `analyze` counts both with the clip's exercise. Prints
per clip the two counts and how far the poses after a join are from one pass (median and max over
frames of the largest landmark difference, in image widths), then how many clips agree.
"""

from __future__ import annotations

import argparse
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.count_accuracy import labelled_clips  # noqa: E402
from repsense.batch import extract_pose_parallel  # noqa: E402
from repsense.session import analyze_recording  # noqa: E402
from repsense.sources.video import extract_pose  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "videos"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--min-chunk-s", type=float, default=8.0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    agree = split = 0
    diffs: list[float] = []
    print(f"{'clip':48s} {'one pass':>8s} {'chunks':>6s} {'n':>2s} {'med diff':>8s} {'max diff':>8s}")
    for clip in labelled_clips(DATA):
        start = max(clip.start_s, 0.0) if clip.span_only else None
        end = clip.end_s if clip.span_only else None
        one = extract_pose(clip.path, start_s=start, end_s=end)
        two = extract_pose_parallel(clip.path, args.workers, start_s=start, end_s=end,
                                    min_chunk_s=args.min_chunk_s)
        n_one = analyze_recording(one, clip.counted_as).report.total_reps
        n_two = analyze_recording(two, clip.counted_as).report.total_reps
        joined = not np.array_equal(np.nan_to_num(one.landmarks), np.nan_to_num(two.landmarks))
        med = mx = 0.0
        if len(one) == len(two):
            d = np.abs(one.landmarks[:, :, :2] - two.landmarks[:, :, :2]).max(axis=(1, 2))
            d = d[np.isfinite(d)]
            if d.size and joined:
                med, mx = float(np.median(d[d > 0])) if (d > 0).any() else 0.0, float(d.max())
                diffs.append(med)
        split += joined
        agree += n_one == n_two
        print(f"{clip.path.name[:48]:48s} {n_one:8d} {n_two:6d} {'2' if joined else '1':>2s} "
              f"{med:8.4f} {mx:8.4f}")
    total = len(labelled_clips(DATA))
    print(f"counts equal on {agree} of {total} clips ({split} of them split into chunks); median "
          f"landmark difference after a join {np.median(diffs) if diffs else 0:.4f} image widths")
    return 0


if __name__ == "__main__":
    sys.exit(main())
