"""Engine cost per frame with and without the form rules, on saved pose recordings.

    .venv/bin/python bench/engine_cost.py DIR [--rounds 3]

DIR holds dev-clip pose recordings (``<clip>.npz``, made with ``repsense analyze --save-pose``).
Both variants run in the same process, interleaved, so the ratio is fair on a noisy machine.
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from repsense import tracker as tracker_mod  # noqa: E402
from repsense.engine.exercises import get_spec  # noqa: E402
from repsense.pose import PoseRecording  # noqa: E402

CLIPS = {"PushUp-Counter_pushup": "push_up", "MrPose_squat": "squat", "MrPose_plank": "plank",
         "aiTrainer_curls3": "biceps_curl", "aiTrainer_lunges": "lunge"}


def per_frame_ms(rec: PoseRecording, exercise: str, with_form: bool) -> list[float]:
    t = tracker_mod.Tracker(exercise, aspect=rec.aspect)
    if not with_form and t._counter is not None:
        spec = dataclasses.replace(get_spec(exercise), form=())
        t._counter = tracker_mod.ExerciseCounter(spec, rec.aspect)
    out = []
    for pose, ts in zip(rec.landmarks, rec.timestamp_ms):
        a = time.perf_counter()
        t.update(pose, int(ts))
        out.append((time.perf_counter() - a) * 1000.0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("poses", type=pathlib.Path)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"{'clip':28s} {'exercise':12s} {'no form med ms':>14s} {'form med ms':>12s} "
          f"{'form p99 ms':>12s} {'ratio':>6s}")
    for stem, exercise in CLIPS.items():
        path = args.poses / f"{stem}.npz"
        if not path.is_file():
            print(f"{stem}: no recording in {args.poses}", file=sys.stderr)
            continue
        rec = PoseRecording.load(path)
        res: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(args.rounds):
            for with_form in (False, True):
                res[with_form] += per_frame_ms(rec, exercise, with_form)
        base, form = statistics.median(res[False]), statistics.median(res[True])
        print(f"{stem:28s} {exercise:12s} {base:14.3f} {form:12.3f} "
              f"{float(np.percentile(res[True], 99)):12.3f} {form / base:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
