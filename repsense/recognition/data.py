"""Training and evaluation data for the recogniser, built from the shared data folder.

Every sample is a window ``(30, 33, 4)`` at 30 frames per second with a class name and a *group*
(the source video, subject or recording) so that splits never put one video on both sides:

- ``gym_tracking_dev.npz``: 30-frame windows of six gym exercises; test = a seeded quarter of the
  groups of each exercise (``gym_split``).
- ``ucf101_landmarks_dev.npz``: whole clips resampled from their fps to 30 fps and cut into windows;
  groups g01-g08 train, g09-g12 test.
- ``form_labels``: biceps-curl and plank frames (MIT); consecutive rows are video frames, cut into
  runs at jumps; every fourth run is test. Curl rows have no legs, so standing legs are added from a
  real standing pose scaled to the person's torso.
- dev clips (optional, from saved poses): the labelled span of curl, sit-up and deadlift clips (the
  classes with no other sequence data) and real idle spans named in the clips' notes.
- ``idle``: synthesised from real frames of the training side only (test idle from test frames):
  a standing person held still with sensor noise and sway, a crude walk across the image, and any
  non-plank exercise frame frozen (a person resting in position). These are the synthetic negatives
  of the classical pose-classifier recipe.

Nothing here is copied into the repository; the shipped model holds only learned weights.
"""

from __future__ import annotations

import csv
import pathlib
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from repsense.errors import InputError
from repsense.pose import Landmark as L
from repsense.pose import read_landmark_csv
from repsense.recognition.features import WINDOW_FRAMES, resample, sliding_windows, valid_windows
from repsense.recognition.labels import GYM_LABELS, IDLE, UCF_LABELS

if TYPE_CHECKING:
    from repsense.pose import PoseRecording

DEFAULT_DATA_DIR = pathlib.Path(__file__).resolve().parents[2].parent / "shared" / "data"
UCF_TEST_GROUPS = ("g09", "g10", "g11", "g12")
UCF_ASPECT = 320 / 240   # UCF101 frames are 320x240; x is scaled by width/height like at run time
GYM_TEST_FRACTION = 0.25


@dataclass
class Samples:
    """Windows ``X (N, 30, 33, 4)`` with class ``y`` (str), ``group`` (str) and ``source`` (str)."""

    X: np.ndarray
    y: np.ndarray
    group: np.ndarray
    source: np.ndarray

    @staticmethod
    def concat(parts: list["Samples"]) -> "Samples":
        parts = [p for p in parts if len(p.y)]
        return Samples(np.concatenate([p.X for p in parts]).astype(np.float32),
                       np.concatenate([p.y for p in parts]), np.concatenate([p.group for p in parts]),
                       np.concatenate([p.source for p in parts]))

    def subset(self, mask: np.ndarray) -> "Samples":
        return Samples(self.X[mask], self.y[mask], self.group[mask], self.source[mask])

    def __len__(self) -> int:
        return int(len(self.y))


def _samples(X: np.ndarray, y: list[str] | np.ndarray, group: list[str] | np.ndarray, source: str) -> Samples:
    n = len(X)
    return Samples(np.asarray(X, np.float32).reshape(n, WINDOW_FRAMES, 33, 4),
                   np.asarray(y, dtype=object).astype(str), np.asarray(group).astype(str),
                   np.full(n, source))


def _need(path: pathlib.Path) -> pathlib.Path:
    if not path.exists():
        raise InputError(f"{path}: training data not found; pass the shared data folder with --data")
    return path


def _stable_rank(name: str, seed: int) -> int:
    return zlib.crc32(f"{seed}:{name}".encode())


def gym_split(groups: np.ndarray, labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """Boolean test mask over windows: a seeded quarter (at least one) of the groups of each class,
    chosen per group so no group is on both sides. Groups spanning classes (Fit3D subjects) are split
    among themselves the same way."""
    owner: dict[str, str] = {}
    for g, c in zip(groups, labels):
        owner[g] = c if owner.get(g, c) == c else "multi"
    test: set[str] = set()
    for c in sorted(set(owner.values())):
        members = sorted((g for g, o in owner.items() if o == c), key=lambda g: _stable_rank(g, seed))
        test.update(members[:max(1, int(round(GYM_TEST_FRACTION * len(members))))])
    return np.array([g in test for g in groups])


def load_gym(data_dir: pathlib.Path) -> tuple[Samples, np.ndarray]:
    """Gym windows and their test mask."""
    with np.load(_need(data_dir / "gym_tracking_dev.npz"), allow_pickle=False) as d:
        classes = [GYM_LABELS[str(c)] for c in d["classes"]]
        y = np.array([classes[i] for i in d["y"]])
        s = _samples(d["X"], y, d["group"], "gym")
    return s, gym_split(s.group, s.y)


def load_ucf_clips(data_dir: pathlib.Path) -> list[tuple[str, str, str, np.ndarray, np.ndarray]]:
    """UCF101 clips as ``(name, class, group, landmarks (T, 33, 4), timestamp_ms (T,))``, with x
    already multiplied by the frame aspect (as :func:`to_model_space` does at run time)."""
    out = []
    with np.load(_need(data_dir / "ucf101_landmarks_dev.npz"), allow_pickle=False) as d:
        for name, label, fps in zip(d["_name"], d["_label"], d["_fps"]):
            lm = d[str(name)].astype(np.float32)
            lm[..., 0] *= UCF_ASPECT
            lm[..., 2] *= UCF_ASPECT     # depth z is on the scale of x
            ts = np.round(np.arange(lm.shape[0]) * 1000.0 / float(fps)).astype(np.int64)
            group = str(name).split("_")[2]
            out.append((str(name), UCF_LABELS[str(label)], group, lm, ts))
    return out


def clip_windows(lm: np.ndarray, ts: np.ndarray, stride: int, speed: float = 1.0) -> np.ndarray:
    """Windows of a clip resampled to 30 fps; ``speed`` > 1 plays it faster (time-stretch)."""
    reg, _ = resample(lm, (ts / speed).astype(np.int64))
    return sliding_windows(reg, stride)


def load_ucf(data_dir: pathlib.Path, stride: int = 6, speeds: tuple[float, ...] = (1.0,)) -> tuple[Samples, np.ndarray]:
    parts, test = [], []
    for name, cls, group, lm, ts in load_ucf_clips(data_dir):
        for speed in speeds:
            w = clip_windows(lm, ts, stride, speed)
            parts.append(_samples(w, [cls] * len(w), [name] * len(w), "ucf"))
            test += [group in UCF_TEST_GROUPS] * len(w)
    return Samples.concat(parts), np.array(test)


def split_runs(poses: np.ndarray, jump: float = 0.03, min_len: int = WINDOW_FRAMES) -> list[np.ndarray]:
    """Consecutive-frame runs of a frame table, cut where the shoulders jump."""
    d = np.abs(np.diff(poses[:, L.LEFT_SHOULDER, :2], axis=0)).sum(axis=1)
    runs = np.split(poses, np.nonzero(d > jump)[0] + 1)
    return [r for r in runs if len(r) >= min_len]


_LEGS = [L.LEFT_KNEE, L.RIGHT_KNEE, L.LEFT_ANKLE, L.RIGHT_ANKLE, L.LEFT_HEEL, L.RIGHT_HEEL,
         L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX]


def _torso(p: np.ndarray) -> np.ndarray:
    return np.linalg.norm((p[..., L.LEFT_SHOULDER, :2] + p[..., L.RIGHT_SHOULDER, :2]) / 2
                          - (p[..., L.LEFT_HIP, :2] + p[..., L.RIGHT_HIP, :2]) / 2, axis=-1)


def add_standing_legs(poses: np.ndarray, standing: np.ndarray) -> np.ndarray:
    """Copy of ``poses (T, 33, 4)`` with the legs of the ``standing`` pose ``(33, 4)`` attached at
    each frame's hips, scaled by the torso length."""
    out = poses.copy()
    s_hip = (standing[L.LEFT_HIP, :2] + standing[L.RIGHT_HIP, :2]) / 2
    rel = (standing[_LEGS, :2] - s_hip) / _torso(standing)
    hip = (poses[:, L.LEFT_HIP, :2] + poses[:, L.RIGHT_HIP, :2]) / 2
    out[:, _LEGS, :2] = hip[:, None] + rel[None] * _torso(poses)[:, None, None]
    out[:, _LEGS, 2] = 0.0
    out[:, _LEGS, 3] = 0.9
    return out


def load_form(data_dir: pathlib.Path, standing: np.ndarray, stride: int = 3) -> tuple[Samples, np.ndarray]:
    """Biceps-curl and plank windows from the form-label frame tables, with their test mask."""
    parts, test = [], []
    tables = (("biceps_curl", "bicep_model/dataset.csv"), ("plank", "plank_model/dataset.csv"),
              ("plank", "plank_model/kaggle.csv"))
    for cls, rel in tables:
        _, poses = read_landmark_csv(_need(data_dir / "form_labels" / rel))
        for i, run in enumerate(split_runs(poses)):
            if cls == "biceps_curl":
                run = add_standing_legs(run, standing[i % len(standing)])
            w = sliding_windows(run, stride)
            parts.append(_samples(w, [cls] * len(w), [f"{rel}#{i}"] * len(w), "form"))
            test += [i % 4 == 3] * len(w)
    return Samples.concat(parts), np.array(test)


def standing_frames(s: Samples) -> np.ndarray:
    """Frames ``(K, 33, 4)`` of people standing upright (straight knees and hips, torso vertical)."""
    from repsense.recognition.features import frame_features, FRAME_FEATURE_NAMES
    keep = np.isin(s.y, ["squat", "split_squat", "lunge", "jumping_jack"])
    frames = s.X[keep][:, ::10]
    flat = frames.reshape(-1, 1, 33, 4)
    flat = flat[~np.isnan(flat[:, 0, :, 0]).any(axis=1)]
    f = frame_features(flat)[:, 0]
    col = {n: i for i, n in enumerate(FRAME_FEATURE_NAMES)}
    ok = ((f[:, col["knee_angle_lo"]] > 165 / 180) & (f[:, col["hip_angle_lo"]] > 160 / 180)
          & (f[:, col["torso_dy"]] < -0.9) & (f[:, col["wrist_y_hi"]] < 0.4))
    return flat[ok, 0]


def _jitter(rng: np.random.Generator, window: np.ndarray, torso: float, sigma: float = 0.02) -> np.ndarray:
    w = window.copy()
    w[..., :2] += rng.normal(0.0, sigma * torso, w[..., :2].shape)
    sway = np.cumsum(rng.normal(0.0, 0.004 * torso, (len(w), 1, 2)), axis=0)
    w[..., :2] += sway
    return w


def idle_motion(rng: np.random.Generator, base: np.ndarray, n_frames: int, kind: str) -> np.ndarray:
    """``(n_frames, 33, 4)`` at 30 fps of one person in pose ``base``: ``still`` (held, arms
    drifting a little), ``walk`` (a crude walk across the image: body moving sideways, legs and arms
    swinging in counter-phase) or ``frozen`` (held as is); all with landmark noise and slow sway."""
    t = np.arange(n_frames) / 30.0
    torso = float(_torso(base))
    w = np.repeat(base[None], n_frames, axis=0).astype(np.float64)
    if kind == "still":
        arm = [L.LEFT_ELBOW, L.LEFT_WRIST, L.RIGHT_ELBOW, L.RIGHT_WRIST]
        drift = np.sin(2 * np.pi * t / rng.uniform(2.0, 6.0))[:, None, None]
        w[:, arm, :2] += drift * rng.normal(0, 0.15 * torso, (1, 4, 2))
    elif kind == "walk":
        speed = rng.uniform(0.3, 1.2) * torso * rng.choice([-1, 1])
        freq = rng.uniform(0.8, 1.3)
        phase = np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
        w[:, :, 0] += (speed * t)[:, None]
        for side, sign in (("LEFT", 1.0), ("RIGHT", -1.0)):
            for part, amp in (("KNEE", 0.15), ("ANKLE", 0.3), ("HEEL", 0.3), ("FOOT_INDEX", 0.3),
                              ("WRIST", -0.2), ("ELBOW", -0.1)):
                j = L[f"{side}_{part}"]
                w[:, j, 0] += sign * amp * torso * phase
                if part in ("ANKLE", "HEEL", "FOOT_INDEX"):
                    w[:, j, 1] -= 0.08 * torso * np.clip(sign * phase, 0, None)
        w[:, :, 1] += 0.02 * torso * np.abs(phase)[:, None]
    return _jitter(rng, w, torso)


def synth_idle(rng: np.random.Generator, standing: np.ndarray, frozen: np.ndarray, n: int) -> np.ndarray:
    """``n`` idle windows: a third standing still, a third walking, a third frozen exercise frames."""
    out = []
    for k in range(n):
        kind = ("still", "walk", "frozen")[k % 3]
        pool = frozen if kind == "frozen" else standing
        out.append(idle_motion(rng, pool[rng.integers(len(pool))], WINDOW_FRAMES, kind))
    return np.asarray(out, np.float32)


FROZEN_CLASSES = ("squat", "lunge", "split_squat", "bench_press", "lat_pulldown", "pull_up",
                  "jumping_jack", "biceps_curl", "wall_push_up")


def make_idle(rng: np.random.Generator, s: Samples, n: int, tag: str) -> Samples:
    standing = standing_frames(s)
    keep = np.isin(s.y, FROZEN_CLASSES)
    frames = s.X[keep][:, ::15].reshape(-1, 33, 4)
    frames = frames[~np.isnan(frames[:, :, 0]).any(axis=1)]
    X = synth_idle(rng, standing, frames, n)
    return _samples(X, [IDLE] * n, [f"idle_{tag}_{i // 50}" for i in range(n)], "synthetic")


def turn_view(X: np.ndarray, yaw_deg: np.ndarray) -> np.ndarray:
    """Windows ``(N, T, 33, 4)`` seen from a camera turned by ``yaw_deg (N,)`` about the vertical
    axis through the hip centre, using the pose model's depth z (on the scale of x): a front view
    becomes an oblique or side view and back. Depth is the weakest coordinate of a 2-D pose model,
    so this is a rough view change, not a true one."""
    X = X.astype(np.float64, copy=True)
    hip = np.nanmean((X[:, :, L.LEFT_HIP, 0] + X[:, :, L.RIGHT_HIP, 0]) / 2, axis=1)[:, None, None]
    a = np.radians(np.asarray(yaw_deg, np.float64))[:, None, None]
    x, z = X[..., 0] - hip, X[..., 2]
    X[..., 0] = hip + x * np.cos(a) + z * np.sin(a)
    X[..., 2] = -x * np.sin(a) + z * np.cos(a)
    return X


def augment(rng: np.random.Generator, X: np.ndarray, rotate_deg: float = 12.0, stretch: float = 0.2,
            noise: float = 0.01, drop: float = 0.15, yaw_deg: float = 0.0, yaw_share: float = 0.5
            ) -> np.ndarray:
    """Random camera changes on windows ``(N, T, 33, 4)``: rotation about the hip centre, aspect
    stretch, landmark noise (in torso lengths) and dropped frames (NaN); with ``yaw_deg`` a share
    ``yaw_share`` of the windows is also seen from a camera turned by up to that angle about the
    vertical axis (:func:`turn_view`)."""
    X = X.astype(np.float64, copy=True)
    n = len(X)
    if yaw_deg > 0:
        turn = rng.random(n) < yaw_share
        yaw = rng.uniform(-yaw_deg, yaw_deg, n)
        X[turn] = turn_view(X[turn], yaw[turn])
    hip = np.nanmean((X[:, :, L.LEFT_HIP, :2] + X[:, :, L.RIGHT_HIP, :2]) / 2, axis=1)[:, None, None]
    a = np.radians(rng.uniform(-rotate_deg, rotate_deg, n))[:, None, None]
    sx = np.exp(rng.uniform(-stretch, stretch, n))[:, None, None]
    p = X[..., :2] - hip
    x = (p[..., 0] * np.cos(a) - p[..., 1] * np.sin(a)) * sx
    y = p[..., 0] * np.sin(a) + p[..., 1] * np.cos(a)
    X[..., 0], X[..., 1] = x + hip[..., 0], y + hip[..., 1]
    torso = np.nanmedian(_torso(X), axis=1)[:, None, None, None]
    X[..., :2] += rng.normal(0.0, 1.0, X[..., :2].shape) * noise * torso
    dropped = rng.random(X.shape[:2]) < rng.uniform(0, drop, (n, 1))
    dropped[:, 0] = False
    X[dropped] = np.nan
    return X.astype(np.float32)


# Dev clips whose labelled span trains the classes that have no other sequence data (curls, sit-up,
# deadlift); aiTrainer_curls3 is kept for testing. Every other dev clip stays unseen.
DEV_TRAIN_CLIPS = ("aiTrainer_curls1.mp4", "aiTrainer_curls5.mp4", "Computer-Vision-Curl-Counter-Project_curl.mp4",
                   "situp_situp.mp4", "exercises_deadlift.mp4")
DEV_TEST_CLIPS = ("aiTrainer_curls3.mp4",)
# Real idle spans (s) read from the notes of videos/clips/labels.csv: standing still, kneeling and
# walking into position, lying prone, propped on forearms with knees down.
DEV_IDLE_SPANS = {
    "test_video_squat.mp4": [(0.0, 1.6)],
    "MrPose_squat2.mp4": [(1.5, 6.5)],
    "PushUp-Counter_pushup4.mp4": [(0.0, 2.7)],
    "MrPose_plank.mp4": [(0.0, 12.5), (50.5, 58.4)],
}


def _dev_windows(rec: "PoseRecording", t0_s: float, t1_s: float, stride: int) -> np.ndarray:
    from repsense.recognition.recognizer import to_model_space
    keep = (rec.timestamp_ms >= t0_s * 1000) & (rec.timestamp_ms <= t1_s * 1000)
    if keep.sum() < 10:
        return np.empty((0, WINDOW_FRAMES, 33, 4), np.float32)
    reg, _ = resample(to_model_space(rec.landmarks[keep], rec.aspect), rec.timestamp_ms[keep])
    return sliding_windows(reg, stride)


def load_dev_clips(data_dir: pathlib.Path, poses_dir: pathlib.Path, stride: int = 3) -> tuple[Samples, np.ndarray]:
    """Windows of the labelled dev clips from their saved poses (``poses_dir/<clip stem>.npz``, made
    with ``repsense analyze VIDEO --save-pose``): the labelled span of DEV_TRAIN_CLIPS and
    DEV_TEST_CLIPS, and the DEV_IDLE_SPANS as idle. Clips without poses are skipped."""
    from repsense.pose import PoseRecording
    parts, test = [], []
    with open(_need(data_dir / "videos" / "clips" / "labels.csv"), newline="") as f:
        rows = {r["file"]: r for r in csv.DictReader(f)}
    for clip, row in rows.items():
        path = poses_dir / (pathlib.Path(clip).stem + ".npz")
        if not path.exists():
            continue
        rec = PoseRecording.load(path)
        if clip in DEV_TRAIN_CLIPS + DEV_TEST_CLIPS:
            w = _dev_windows(rec, float(row["t_start_s"] or 0), float(row["t_end_s"] or 1e9), stride)
            parts.append(_samples(w, [row["exercise"]] * len(w), [clip] * len(w), "dev"))
            test += [clip in DEV_TEST_CLIPS] * len(w)
        for t0, t1 in DEV_IDLE_SPANS.get(clip, []):
            w = _dev_windows(rec, t0, t1, stride)
            parts.append(_samples(w, [IDLE] * len(w), [f"{clip}#idle"] * len(w), "dev"))
            test += [False] * len(w)
    if not parts:
        return _samples(np.empty((0, WINDOW_FRAMES, 33, 4)), [], [], "dev"), np.zeros(0, bool)
    return Samples.concat(parts), np.array(test)


def load_all(data_dir: pathlib.Path | str = DEFAULT_DATA_DIR, seed: int = 0,
             dev_poses: pathlib.Path | str | None = None) -> tuple[Samples, Samples]:
    """``(train, test)`` windows of every source, split by source video (see module doc).
    ``dev_poses`` adds the dev clips' saved poses (:func:`load_dev_clips`)."""
    data_dir = pathlib.Path(data_dir)
    gym, gym_test = load_gym(data_dir)
    ucf, ucf_test = load_ucf(data_dir)
    train_parts = [gym.subset(~gym_test), ucf.subset(~ucf_test)]
    test_parts = [gym.subset(gym_test), ucf.subset(ucf_test)]
    if dev_poses is not None:
        dev, dev_test = load_dev_clips(data_dir, pathlib.Path(dev_poses))
        if len(dev):
            train_parts.append(dev.subset(~dev_test))
            test_parts.append(dev.subset(dev_test))
    standing = standing_frames(Samples.concat(train_parts))
    form, form_test = load_form(data_dir, standing)
    train_parts.append(form.subset(~form_test))
    test_parts.append(form.subset(form_test))
    rng = np.random.default_rng(seed)
    train = Samples.concat(train_parts)
    test = Samples.concat(test_parts)
    train = Samples.concat([train, make_idle(rng, train, 1500, "train")])
    test = Samples.concat([test, make_idle(rng, test, 500, "test")])
    # Windows where nobody is seen are idle by rule at run time; they teach the model nothing.
    return train.subset(valid_windows(train.X)), test.subset(valid_windows(test.X))
