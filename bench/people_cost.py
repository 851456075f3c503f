"""What following several people costs in ``analyze``: pose frames per second for 1, 2, 4, 6 people.

    nice -n 10 python bench/people_cost.py [--model full|lite] [--seconds 6]

For each count it runs the pose model over a video with that many people (one labelled clip; the
two-person video; 2x2 and 3x2 grids from bench/people_videos.py) the way ``analyze --people N``
does (the whole frame for N = 1; overlapping tiles for N > 1, and the whole frame in one pass for
comparison), then the identity tracker and one session per person. Prints pose frames per second,
the mean number of people found per frame, and the engine's milliseconds per frame (tracker and
every session). The machine's load average is printed too: other work on it slows every figure.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run(path: pathlib.Path, people: int, model: str, seconds: float, tiled: bool | None):  # type: ignore[no-untyped-def]
    from repsense.session import analyze_people
    from repsense.sources.video import extract_people

    t0 = time.perf_counter()
    rec = extract_people(path, people, model=model, end_s=seconds, tiled=tiled)
    pose_s = time.perf_counter() - t0
    found = float(np.mean((~np.isnan(rec.poses[:, :, 0, 0])).sum(axis=1)))
    t0 = time.perf_counter()
    analyze_people(rec, people)
    engine_s = time.perf_counter() - t0
    return len(rec) / pose_s, found, 1000.0 * engine_s / len(rec)


def main(argv: list[str] | None = None) -> int:
    from bench.people_videos import CLIPS, SPECS, build

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="full", choices=["lite", "full"])
    ap.add_argument("--seconds", type=float, default=6.0, help="of each video")
    args = ap.parse_args(argv)
    videos = {1: CLIPS / "aiTrainer_squats.mp4", 2: build(SPECS["two"]), 4: build(SPECS["four"]),
              6: build(SPECS["six"])}
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"model {args.model}, first {args.seconds:g} s of each video")
    print(f"{'people':>6s} {'frame':9s} {'pose fps':>8s} {'found':>6s} {'engine ms':>9s}")
    for n, path in videos.items():
        for tiled in ([False] if n == 1 else [False, True]):
            fps, found, engine = run(path, n, args.model, args.seconds, tiled)
            print(f"{n:6d} {'tiles' if tiled else 'whole':9s} {fps:8.1f} {found:6.2f} "
                  f"{engine:9.2f}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
