"""Generate repsense/samples/squats.npz: a pose recording of five bodyweight squats.

The two key poses (standing, bottom of the squat) are the mean landmarks of one run of frames
labelled "up" and the next run labelled "down" in the MIT-licensed Exercise-Correction data
(``form_labels/squat_model/train.csv``, (c) 2022 Ngo Hong Quoc Bao, see repsense/samples/NOTICE). The
motion between them is generated: a smooth descent and ascent per rep with varied tempo, pauses
and small landmark noise, at 30 fps. That data has 9 landmarks (nose, shoulders, hips, knees,
ankles); the rest of the body is generated from them with ordinary proportions, so that the demo
draws a whole person: the face around the nose, the feet under the ankles, and the arms, hanging
at the sides when standing and the hands brought together in front of the chest at the bottom, as
people do in a bodyweight squat.

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

    return complete_body(mean_pose(up_rows), arms_forward=False), \
        complete_body(mean_pose(down_rows), arms_forward=True)


def complete_body(pose: np.ndarray, arms_forward: bool) -> np.ndarray:
    """Face, arms, hands and feet from the 9 landmarks, for a person facing the camera (image
    coordinates: y down, z negative towards the camera; the person's left is the image's right)."""
    out = pose.copy()
    L = Landmark
    torso = float(np.mean(pose[[L.LEFT_HIP, L.RIGHT_HIP], 1]) - np.mean(pose[[L.LEFT_SHOULDER, L.RIGHT_SHOULDER], 1]))
    width = float(pose[L.LEFT_SHOULDER, 0] - pose[L.RIGHT_SHOULDER, 0])      # > 0 facing the camera

    def at(base: int, dx: float, dy: float, dz: float = 0.0, vis: float = 0.98) -> np.ndarray:
        x, y, z, _ = pose[base] if base < len(pose) else (0, 0, 0, 0)
        return np.array([x + dx, y + dy, z + dz, vis], np.float32)

    nose = L.NOSE
    eye = 0.16 * width
    for side, s in ((("LEFT", 1.0)), ("RIGHT", -1.0)):
        out[L[f"{side}_EYE_INNER"]] = at(nose, s * 0.5 * eye, -0.35 * eye)
        out[L[f"{side}_EYE"]] = at(nose, s * eye, -0.4 * eye)
        out[L[f"{side}_EYE_OUTER"]] = at(nose, s * 1.4 * eye, -0.35 * eye)
        out[L[f"{side}_EAR"]] = at(nose, s * 2.4 * eye, 0.0, 0.08)
        out[L[f"{side}_MOUTH".replace("LEFT_MOUTH", "MOUTH_LEFT").replace("RIGHT_MOUTH", "MOUTH_RIGHT")]] = \
            at(nose, s * 0.7 * eye, 0.9 * eye)
        sh, wr, el = L[f"{side}_SHOULDER"], L[f"{side}_WRIST"], L[f"{side}_ELBOW"]
        if arms_forward:     # hands together in front of the chest, elbows down and out
            mid = float(np.mean(pose[[L.LEFT_SHOULDER, L.RIGHT_SHOULDER], 0]))
            out[el] = at(sh, s * 0.22 * width, 0.50 * torso, -0.25 * torso)
            out[wr] = [mid + s * 0.06 * width, pose[sh, 1] + 0.38 * torso, pose[sh, 2] - 0.5 * torso, 0.98]
        else:                # hanging at the sides
            out[el] = at(sh, s * 0.12 * width, 0.60 * torso, 0.02)
            out[wr] = at(sh, s * 0.16 * width, 1.15 * torso, 0.0)
        w = out[wr]
        hand = 0.12 * torso
        down = -0.6 if arms_forward else 1.0   # fingers up when the hands meet
        for name, dx, dy in (("PINKY", 0.15, 1.0), ("INDEX", -0.15, 1.0), ("THUMB", -0.35, 0.6)):
            out[L[f"{side}_{name}"]] = [w[0] + s * dx * hand, w[1] + dy * down * hand, w[2] - 0.3 * hand, 0.95]
        an = L[f"{side}_ANKLE"]
        out[L[f"{side}_HEEL"]] = at(an, s * 0.02 * width, 0.06 * torso, 0.05)
        out[L[f"{side}_FOOT_INDEX"]] = at(an, s * 0.12 * width, 0.16 * torso, -0.25 * torso)
    return out


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
    assert seen.all(), "every landmark is generated"
    seq[..., :3][seen] += rng.normal(0, 0.002, size=(int(seen.sum()), 3)).astype(np.float32)
    ts = (np.arange(len(seq)) * 1000.0 / FPS).round().astype(np.int64)
    OUT.parent.mkdir(exist_ok=True)
    PoseRecording(seq, ts, IMAGE_SIZE, source="generated").save(OUT)
    print(f"{OUT}: {len(seq)} frames")


if __name__ == "__main__":
    main()
