"""IMU path figures on the Exermote recordings, leaving one individual out at a time.

    .venv/bin/python bench/imu_accuracy.py                 # shipped fold models (numpy only)
    .venv/bin/python bench/imu_accuracy.py --folds A,B     # the fold models in A and B, averaged
    .venv/bin/python bench/imu_accuracy.py --train DIR     # retrain the 4 fold window CNNs (torch) into DIR, score them
    .venv/bin/python bench/imu_accuracy.py --gbm           # LightGBM over window features, same counter (lightgbm)
    .venv/bin/python bench/imu_accuracy.py --json out.json # also write every figure and per-set count

Per-step accuracy and macro-F1 are over break / burpee / squat / sit_up (Break and setBreak are
one class); rep counts and exercise names are per set (see repsense/imu/scoring.py). The last
lines time one live decision: a recording streamed sample by sample through ImuTracker with the
shipped model (network, step decoder, counter per 10 Hz sample), in wall time and in the
process's CPU time (the same on a quiet machine; on a busy one the wall time also holds the waits
for a core).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repsense.cli.imu import format_evaluation  # noqa: E402
from repsense.imu.features import N_CLASSES, windows  # noqa: E402
from repsense.imu.decoding import DecoderConfig, decode  # noqa: E402
from repsense.imu.model import StepModel  # noqa: E402
from repsense.imu.scoring import evaluate  # noqa: E402
from repsense.imu.tracker import ImuTracker  # noqa: E402
from repsense.imu.training import (TrainConfig, decoder_config, fold_model_path, load_labelled,  # noqa: E402
                                   train_model)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "exermote"
FOLDS = Path(__file__).resolve().parents[1] / "repsense" / "imu" / "folds"


class GbmStepModel:
    """LightGBM over summary features of the same windows, with the StepModel interface (and the
    same step decoder, durations from its training labels)."""

    def __init__(self, booster: Any, length: int, lookahead: int, decoder: DecoderConfig) -> None:
        self.booster, self.length, self.lookahead, self._decoder = booster, length, lookahead, decoder

    def decoder(self) -> DecoderConfig:
        return self._decoder

    def labels(self, probs: np.ndarray) -> np.ndarray:
        return decode(probs, self._decoder)

    @staticmethod
    def features(win: np.ndarray, lookahead: int) -> np.ndarray:
        n = win.shape[1]
        t = n - 1 - lookahead
        short = win[:, max(0, t - 5):t + 6]
        return np.concatenate([win.mean(1), win.std(1), win.min(1), win.max(1), win[:, -1] - win[:, 0],
                               short.mean(1), short.std(1), win[:, t],
                               win[:, :n // 2].mean(1) - win[:, n // 2:].mean(1)], axis=1)

    def predict_proba(self, win: np.ndarray) -> np.ndarray:
        return self.booster.predict_proba(self.features(np.asarray(win), self.lookahead))

    def predict_sequence(self, inputs: np.ndarray) -> np.ndarray:
        return self.predict_proba(windows(inputs, self.length, self.lookahead))


def train_gbm(data, cfg: TrainConfig) -> GbmStepModel:
    import lightgbm as lgb

    X = np.concatenate([GbmStepModel.features(windows(d.inputs, cfg.length, cfg.lookahead)[::2], cfg.lookahead)
                        for d in data])
    y = np.concatenate([d.labels[::2] for d in data])
    booster = lgb.LGBMClassifier(n_estimators=120, learning_rate=0.1, num_leaves=31, subsample=0.8,
                                 subsample_freq=1, colsample_bytree=0.5, random_state=cfg.seed,
                                 n_jobs=1, verbose=-1)
    booster.fit(X, y)
    assert booster.n_classes_ == N_CLASSES
    return GbmStepModel(booster, cfg.length, cfg.lookahead, decoder_config(data))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--train", metavar="DIR", help="retrain the fold CNNs into DIR (needs torch)")
    ap.add_argument("--gbm", action="store_true", help="LightGBM window-feature baseline (needs lightgbm)")
    ap.add_argument("--folds", metavar="DIR[,DIR...]", default=str(FOLDS),
                    help="score the fold models in DIR (several: their ensemble, probabilities averaged)")
    ap.add_argument("--epochs", type=int, default=TrainConfig.epochs)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()

    data = load_labelled(args.data)
    individuals = sorted({d.individual for d in data})
    cfg = TrainConfig(epochs=args.epochs)
    t0 = time.time()
    models = {}
    for k in individuals:
        train = [d for d in data if d.individual != k]
        if args.gbm:
            models[k] = train_gbm(train, cfg)
        elif args.train:
            out = Path(args.train)
            out.mkdir(parents=True, exist_ok=True)
            train_model(train, cfg, lambda s: print(f"  without {k}: {s}", file=sys.stderr)).save(
                fold_model_path(out, k))
            models[k] = StepModel.load(fold_model_path(out, k))
        else:
            members = [StepModel.load(fold_model_path(Path(d), k)) for d in args.folds.split(",")]
            models[k] = members[0] if len(members) == 1 else StepModel.ensemble(members)
    items = [(f"individual {d.individual}", d.recording, models[d.individual]) for d in data]
    ev = evaluate(items)
    title = "LightGBM window features" if args.gbm else "step model (numpy runtime)"
    print(format_evaluation(ev, f"{title}, leave-one-individual-out"))
    by_ex: dict[str, list[int]] = {}
    for s in ev.sets:
        by_ex.setdefault(s.exercise, []).append(s.error)
    print("  per exercise: " + ", ".join(
        f"{ex} {len(e)} sets, off by <=1 {np.mean(np.abs(e) <= 1):.3f}, mean error {np.mean(e):+.2f}"
        for ex, e in sorted(by_ex.items())))
    bad = [s for s in ev.sets if abs(s.error) > 1]
    for s in bad:
        print(f"  off by {s.error:+d}: {Path(s.path).name} {s.exercise} at {s.start_ms} ms "
              f"({s.true_reps} true, {s.counted_reps} counted)")
    print(f"({time.time() - t0:.0f} s)", file=sys.stderr)
    latency = live_decision_ms(data[0].recording)
    print(f"one live decision (shipped model, {int(latency['samples'])} samples of {Path(data[0].path).name} one "
          f"by one): CPU median {latency['cpu_median_ms']:.2f} ms, p99 {latency['cpu_p99_ms']:.2f} ms; wall median "
          f"{latency['median_ms']:.2f} ms, p99 {latency['p99_ms']:.2f} ms; labels final "
          f"{latency['label_latency_ms'] / 1000:.1f} s after the step")
    if args.json:
        Path(args.json).write_text(json.dumps({**ev.to_dict(), "live_decision": latency}, indent=2))
    return 0


def live_decision_ms(rec: Any, model: StepModel | None = None) -> dict[str, float]:
    """Wall time of ``ImuTracker.update`` per sample over a whole recording (the first 100
    samples, before the first decision, left out)."""
    tracker = ImuTracker(model)
    wall, cpu = [], []
    for row, t in zip(rec.samples, rec.timestamp_ms):
        t0, c0 = time.perf_counter(), time.process_time()
        tracker.update(row, int(t))
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    w, c = 1000 * np.array(wall[100:]), 1000 * np.array(cpu[100:])
    return {"samples": float(len(w)), "median_ms": float(np.median(w)), "p99_ms": float(np.percentile(w, 99)),
            "cpu_median_ms": float(np.median(c)), "cpu_p99_ms": float(np.percentile(c, 99)),
            "label_latency_ms": float(tracker.latency_ms)}


if __name__ == "__main__":
    sys.exit(main())
