"""A learned class-agnostic counter on RepCount-A, by 5-fold cross-validation by video.

The experiment behind the choice of the generic counter (docs/benchmarks.md, "Rep counting on
RepCount-A"): a dilated TCN (the IMU counter's architecture) reads the poses at 15 Hz and gives
per step the phase of the rep it is in (rest, or one of 6 bins of the rep's time from its start
to its end, learned from ``cycle_bounds``); the count is the number of times the expected cosine
of the phase goes below -0.3 and back above 0.3. Trained per fold on the other four folds (every
fifth video of the sorted names, as bench/count_accuracy.py folds them), with time warps (x0.6
to x1.6), left-right mirroring, and small shifts, stretches and noise; scored on the fold.

``--features raw``: the 13 body landmarks (x, y) as given, their velocities and a no-pose flag;
``local``: each coordinate minus its 4 s moving mean over the window's spread (the shape of the
movement, not of the body), velocities over that spread, the log spread, the flag.

Needs torch (``pip install torch==2.13.0``, the CPU build); ~10 min on 2 cores.

    .venv/bin/python bench/learned_counter_cv.py [--features raw|local] [--iterations 2000]
"""

from __future__ import annotations

import argparse
import csv
import pathlib
import time

import numpy as np

REPCOUNT = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "repcount"
HZ = 15.0
LANDMARKS = [0, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
MIRROR = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11]   # indices into LANDMARKS, left <-> right
BINS = 6
THETA = np.concatenate([[0.0], (np.arange(BINS) + 0.5) / BINS * 2 * np.pi])   # rest, phase bins
FOLDS = 5


def load() -> list[dict]:
    videos = []
    with open(REPCOUNT / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            z = np.load(REPCOUNT / row["file"])
            b = [int(x) for x in row["cycle_bounds"].split()]
            ts = z["timestamp_ms"].astype(np.float64)
            grid, lm, miss = resample(z["landmarks"][:, LANDMARKS, :2].astype(np.float64), ts)
            videos.append(dict(name=pathlib.Path(row["file"]).stem, cls=row["class"],
                               count=int(row["count"]), lm=lm, miss=miss,
                               y=phase_labels(grid, ts, list(zip(b[0::2], b[1::2])))))
    return sorted(videos, key=lambda v: v["name"])


def resample(lm: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poses at HZ (linear between the frames with a pose) and a flag for steps without one."""
    ok = ~np.isnan(lm).any(axis=(1, 2))
    grid = np.arange(ts[0], ts[-1] + 1e-6, 1000 / HZ)
    if ok.sum() < 2:
        return grid, np.zeros((len(grid), lm.shape[1], 2)), np.ones(len(grid))
    flat = lm.reshape(len(ts), -1)
    out = np.stack([np.interp(grid, ts[ok], flat[ok, j]) for j in range(flat.shape[1])], 1)
    idx = np.clip(np.searchsorted(ts, grid), 0, len(ts) - 1)
    return grid, out.reshape(len(grid), -1, 2), (~ok[idx]).astype(np.float64)


def phase_labels(grid: np.ndarray, ts: np.ndarray, bounds: list[tuple[int, int]]) -> np.ndarray:
    y = np.zeros(len(grid), np.int64)
    for s, e in bounds:
        a, b = ts[min(s, len(ts) - 1)], ts[min(e, len(ts) - 1)]
        if b > a:
            sel = (grid >= a) & (grid < b)
            y[sel] = 1 + np.minimum(((grid[sel] - a) / (b - a) * BINS).astype(int), BINS - 1)
    return y


def features(lm: np.ndarray, miss: np.ndarray, kind: str) -> np.ndarray:
    x = lm.reshape(len(lm), -1)
    v = np.diff(x, axis=0, prepend=x[:1]) * HZ / 10
    if kind == "raw":
        return np.concatenate([x, v, miss[:, None]], 1).astype(np.float32)
    from scipy.ndimage import uniform_filter1d

    d = x - uniform_filter1d(x, 61, axis=0, mode="nearest")
    spread = np.sqrt(np.maximum(uniform_filter1d(d ** 2, 61, axis=0, mode="nearest"), 0).sum(1, keepdims=True)) + 1e-3
    return np.concatenate([d / spread, v / spread * 0.3, np.log(spread), miss[:, None]], 1).astype(np.float32)


def train(videos: list[dict], kind: str, iterations: int, seed: int = 0):  # type: ignore[no-untyped-def]
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(seed)
    torch.set_num_threads(2)
    rng = np.random.default_rng(seed)
    blocks, ahead, channels, crop, batch = 6, 30, 64, 256, 16
    length = 2 ** (blocks + 1) - 1
    past = length - 1 - ahead
    X = np.concatenate([features(v["lm"], v["miss"], kind) for v in videos])
    mean, std = torch.tensor(X.mean(0))[None, :, None], torch.tensor(X.std(0) + 1e-6)[None, :, None]

    class Block(nn.Module):
        def __init__(self, d: int) -> None:
            super().__init__()
            self.d = d
            self.c1, self.c2 = nn.Conv1d(channels, channels, 3, dilation=d), nn.Conv1d(channels, channels, 1)
            self.drop = nn.Dropout(0.1)

        def forward(self, x):  # type: ignore[no-untyped-def]
            return x[:, :, 2 * self.d:] + self.c2(self.drop(F.relu(self.c1(F.relu(x)))))

    net = nn.Sequential(nn.Conv1d(X.shape[1], channels, 1), *[Block(2 ** i) for i in range(blocks)],
                        nn.ReLU(), nn.Conv1d(channels, BINS + 1, 1))
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 3e-3, total_steps=iterations)
    share = np.array([len(v["y"]) for v in videos], float)
    share /= share.sum()
    n_in = crop + length - 1
    t0 = time.time()
    for it in range(iterations):
        xs, ys = [], []
        for _ in range(batch):
            v = videos[rng.choice(len(videos), p=share)]
            lm = np.concatenate([np.repeat(v["lm"][:1], past, 0), v["lm"], np.repeat(v["lm"][-1:], ahead, 0)])
            miss = np.concatenate([np.repeat(v["miss"][:1], past), v["miss"], np.repeat(v["miss"][-1:], ahead)])
            speed = float(np.exp(rng.uniform(-1, 1) * np.log(1.6)))
            pos = np.clip(rng.uniform(0, max(len(lm) - 1 - (n_in - 1) * speed, 0)) + speed * np.arange(n_in),
                          0, len(lm) - 1.001)
            lo = np.floor(pos).astype(int)
            hi = np.minimum(lo + 1, len(lm) - 1)
            fr = (pos - lo)[:, None, None]
            p = lm[lo] * (1 - fr) + lm[hi] * fr
            if rng.random() < 0.5:
                p = p[:, MIRROR]
                p[..., 0] = 1 - p[..., 0]
            p = (p - 0.5) * (1 + 0.1 * rng.standard_normal(2)) + 0.5 + 0.02 * rng.standard_normal(2)
            p = p + 0.005 * rng.standard_normal(p.shape)
            xs.append(features(p, np.maximum(miss[lo], miss[hi]), kind).T)
            ys.append(v["y"][np.clip(np.round(pos[past:past + crop] - past).astype(int), 0, len(v["y"]) - 1)])
        loss = F.cross_entropy(net((torch.tensor(np.stack(xs)) - mean) / std), torch.tensor(np.stack(ys)),
                               label_smoothing=0.05)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if (it + 1) % 500 == 0:
            print(f"  iteration {it + 1}: loss {float(loss.detach()):.3f} ({time.time() - t0:.0f} s)", flush=True)
    net.eval()

    def predict(v: dict) -> np.ndarray:
        x = features(v["lm"], v["miss"], kind)
        x = np.concatenate([np.repeat(x[:1], past, 0), x, np.repeat(x[-1:], ahead, 0)])
        with torch.no_grad():
            return torch.softmax(net((torch.tensor(x.T[None]) - mean) / std), 1)[0].T.numpy()

    return predict


def count(probs: np.ndarray, threshold: float = 0.3) -> int:
    low, n = False, 0
    for c in probs @ np.cos(THETA):
        if not low and c < -threshold:
            low = True
        elif low and c > threshold:
            low, n = False, n + 1
    return n


def score(rows: list[tuple[int, int]]) -> str:
    nmae = np.mean([abs(p - t) / max(t, 1) for t, p in rows])
    obo = np.mean([abs(p - t) <= 1 for t, p in rows])
    return f"nMAE {nmae:.3f} OBO {obo:.3f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", choices=("raw", "local"), default="local")
    parser.add_argument("--iterations", type=int, default=2000)
    args = parser.parse_args()
    videos = load()
    rows: list[tuple[int, int]] = []
    per_class: dict[str, list[tuple[int, int]]] = {}
    for k in range(FOLDS):
        predict = train([v for i, v in enumerate(videos) if i % FOLDS != k], args.features, args.iterations)
        test = [v for i, v in enumerate(videos) if i % FOLDS == k]
        fold = [(v["count"], count(predict(v))) for v in test]
        for v, row in zip(test, fold):
            per_class.setdefault(v["cls"], []).append(row)
        print(f"fold {k}: {len(fold)} videos, {score(fold)}", flush=True)
        rows += fold
    for cls, r in sorted(per_class.items()):
        print(f"  {cls:16s} {len(r):3d} {score(r)}")
    print(f"all {len(rows)}: {score(rows)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
