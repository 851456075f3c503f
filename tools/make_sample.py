"""Generate repsense/samples/squats.npz: a pose recording of five bodyweight squats.

The two key poses (standing, bottom of the squat) are the mean landmarks of one run of frames
labelled "up" and the next run labelled "down" in the MIT-licensed Exercise-Correction data
(``form_labels/squat_model/train.csv``, (c) 2022 Ngo Hong Quoc Bao, see repsense/samples/NOTICE). The
motion between them is generated: a smooth descent and ascent per rep with varied tempo, pauses
and small landmark noise, at 30 fps. Only the 9 landmarks that data has are filled; the rest are
NaN (not seen), as the pose currency says.

    .venv/bin/python tools/make_sample.py ../shared/data/form_labels/squat_model/train.csv
"""

from __future__ import annotations

import csv
import pathlib
import sys

import numpy as np

from repsense.pose import Landmark, PoseRecording, missing_pose

OUT = pathlib.Path(__file__).resolve().parents[1] / "repsense" / "samples" / "squats.npz"
COLUMNS = {"nose": Landmark.NOSE, "left_shoulder": Landmark.LEFT_SHOULDER,
           "right_shoulder": Landmark.RIGHT_SHOULDER, "left_hip": Landmark.LEFT_HIP,
           "right_hip": Landmark.RIGHT_HIP, "left_knee": Landmark.LEFT_KNEE,
           "right_knee": Landmark.RIGHT_KNEE, "left_ankle": Landmark.LEFT_ANKLE,
           "right_ankle": Landmark.RIGHT_ANKLE}
FPS = 30.0
IMAGE_SIZE = (1280, 720)  # the recording declares a 16:9 camera


def key_poses(csv_path: pathlib.Path, run: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean pose of the ``run``-th "up" run and of the "down" run right after it."""
    rows = list(csv.DictReader(open(csv_path, newline="")))
    runs: list[tuple[str, list[dict[str, str]]]] = []
    for row in rows:
        if runs and runs[-1][0] == row["label"]:
            runs[-1][1].append(row)
        else:
            runs.append((row["label"], [row]))
    ups = [i for i, (label, _) in enumerate(runs) if label == "up" and i + 1 < len(runs)]
    up_rows, down_rows = runs[ups[run]][1], runs[ups[run] + 1][1]

    def mean_pose(sel: list[dict[str, str]]) -> np.ndarray:
        pose = missing_pose()
        for name, lm in COLUMNS.items():
            pose[lm] = [np.mean([float(r[f"{name}_{k}"]) for r in sel]) for k in "xyzv"]
        return pose

    return mean_pose(up_rows), mean_pose(down_rows)


def main() -> None:
    src = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else
                       "../shared/data/form_labels/squat_model/train.csv")
    up, down = key_poses(src, run=1)
    rng = np.random.default_rng(7)
    frames: list[np.ndarray] = []

    def hold(pose: np.ndarray, seconds: float) -> None:
        frames.extend(pose for _ in range(int(seconds * FPS)))

    def move(a: np.ndarray, b: np.ndarray, seconds: float) -> None:
        n = int(seconds * FPS)
        for i in range(n):
            w = 0.5 - 0.5 * np.cos(np.pi * (i + 1) / n)
            frames.append(a + w * (b - a))

    hold(up, 1.5)
    for down_s, pause_s, up_s in [(1.2, 0.3, 1.0), (1.0, 0.2, 0.9), (1.4, 0.5, 1.1),
                                  (0.9, 0.1, 0.8), (1.1, 0.3, 1.0)]:
        move(up, down, down_s)
        hold(down, pause_s)
        move(down, up, up_s)
        hold(up, float(rng.uniform(0.3, 0.8)))
    hold(up, 1.0)
    seq = np.stack(frames).astype(np.float32)
    seen = ~np.isnan(seq[..., 0])
    seq[..., :3][seen] += rng.normal(0, 0.002, size=(int(seen.sum()), 3)).astype(np.float32)
    ts = (np.arange(len(seq)) * 1000.0 / FPS).round().astype(np.int64)
    OUT.parent.mkdir(exist_ok=True)
    PoseRecording(seq, ts, IMAGE_SIZE, source="generated").save(OUT)
    print(f"{OUT}: {len(seq)} frames")


if __name__ == "__main__":
    main()
