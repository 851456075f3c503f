"""The step classifier at run time: a small 1-D CNN evaluated with numpy (no torch needed).

The model file (``.npz``) holds the layer list as JSON under ``spec``, the weights under
``w<i>``/``b<i>``, and the input normalisation (``mean``, ``std``), window ``length`` and
``lookahead``. It maps a window of steps ``(B, length, N_INPUTS)`` to class probabilities
``(B, N_CLASSES)`` for the step ``lookahead`` steps before the window's end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from repsense.errors import InputError
from repsense.imu.features import CLASSES, N_INPUTS, windows

DEFAULT_MODEL_PATH = Path(__file__).with_name("step_cnn.npz")


def _conv1d(x: np.ndarray, w: np.ndarray, b: np.ndarray, pad: int) -> np.ndarray:
    """x ``(B, C, T)``, w ``(O, C, K)`` -> ``(B, O, T + 2 pad - K + 1)``, as one matrix product."""
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad)))
    n, c, _ = x.shape
    o, _, k = w.shape
    cols = np.lib.stride_tricks.sliding_window_view(x, k, axis=2)  # B, C, T', K
    t_out = cols.shape[2]
    cols = cols.transpose(0, 2, 1, 3).reshape(n * t_out, c * k)
    out = cols @ w.reshape(o, c * k).T + b
    return out.reshape(n, t_out, o).transpose(0, 2, 1)


@dataclass
class StepModel:
    """Window classifier: ``predict_proba(windows (B, length, N_INPUTS)) -> (B, N_CLASSES)``."""

    spec: list[dict[str, Any]]
    weights: dict[str, np.ndarray]
    mean: np.ndarray
    std: np.ndarray
    length: int
    lookahead: int
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MODEL_PATH) -> "StepModel":
        path = Path(path)
        if not path.is_file():
            raise InputError(f"IMU model file {path} not found; run 'repsense imu train' to build it")
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            weights = {k: z[k].astype(np.float32) for k in z.files if k[0] in "wb" and k[1:].isdigit()}
            model = cls(spec=meta["spec"], weights=weights, mean=z["mean"].astype(np.float32),
                        std=z["std"].astype(np.float32), length=int(meta["length"]),
                        lookahead=int(meta["lookahead"]), info=meta.get("info", {}))
        if tuple(meta.get("classes", ())) != CLASSES or model.mean.shape != (N_INPUTS,):
            raise InputError(f"IMU model file {path} was built for other classes or inputs; "
                             "rebuild it with 'repsense imu train'")
        return model

    def save(self, path: str | Path) -> None:
        meta = {"spec": self.spec, "length": self.length, "lookahead": self.lookahead,
                "classes": list(CLASSES), "info": self.info}
        np.savez_compressed(path, meta=np.array(json.dumps(meta)), mean=self.mean, std=self.std,
                            **{k: v.astype(np.float32) for k, v in self.weights.items()})

    def predict_proba(self, win: np.ndarray) -> np.ndarray:
        x = ((np.asarray(win, dtype=np.float32) - self.mean) / self.std).transpose(0, 2, 1)
        for i, layer in enumerate(self.spec):
            kind = layer["type"]
            if kind == "conv":
                x = _conv1d(x, self.weights[f"w{i}"], self.weights[f"b{i}"], int(layer["pad"]))
            elif kind == "relu":
                x = np.maximum(x, 0.0)
            elif kind == "maxpool":
                k = int(layer["k"])
                t = x.shape[2] // k * k
                pooled = x[:, :, 0:t:k]
                for i in range(1, k):
                    pooled = np.maximum(pooled, x[:, :, i:t:k])
                x = pooled
            elif kind == "flatten":
                x = np.ascontiguousarray(x).reshape(x.shape[0], -1)
            elif kind == "linear":
                x = x @ self.weights[f"w{i}"].T + self.weights[f"b{i}"]
            else:
                raise ValueError(f"unknown layer type {kind!r} in IMU model")
        x = x - x.max(axis=1, keepdims=True)
        e = np.exp(x)
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)

    def predict_sequence(self, inputs: np.ndarray, batch: int = 1024) -> np.ndarray:
        """Probabilities for every step of a whole sequence ``(T, N_INPUTS)`` -> ``(T, N_CLASSES)``,
        edges padded like ``features.windows`` (used for training-time evaluation)."""
        w = windows(inputs, self.length, self.lookahead)
        return np.concatenate([self.predict_proba(w[i:i + batch]) for i in range(0, len(w), batch)])


__all__ = ["StepModel", "DEFAULT_MODEL_PATH"]
