"""The step classifier at run time: a small 1-D CNN evaluated with numpy (no torch needed).

The model file (``.npz``) holds the layer list as JSON under ``spec``, the weights under
``w<i>``/``b<i>``, and the input normalisation (``mean``, ``std``), window ``length`` and
``lookahead``. It maps a window of steps ``(B, length, N_INPUTS)`` to class probabilities
``(B, N_CLASSES)`` for the step ``lookahead`` steps before the window's end.

A file may instead hold an ensemble: ``meta["members"]`` lists each member's spec, length and
lookahead, its arrays are stored as ``m<j>_w<i>``, ``m<j>_b<i>``, ``m<j>_mean``, ``m<j>_std``,
and the model's probabilities are the mean of the members' (all members share the lookahead;
each sees the last ``length`` steps of the window).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from repsense.errors import InputError
from repsense.imu.features import CLASSES, N_INPUTS, windows

if TYPE_CHECKING:
    from repsense.imu.decoding import DecoderConfig

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
    members: list["StepModel"] = field(default_factory=list)  # an ensemble's networks (else empty)

    @classmethod
    def ensemble(cls, members: list["StepModel"], info: dict[str, Any] | None = None) -> "StepModel":
        """The mean of several models' probabilities (e.g. seeds), as one model."""
        if not members or len({m.lookahead for m in members}) != 1 or any(m.members for m in members):
            raise ValueError("an ensemble needs single models that share the lookahead")
        return cls(spec=[], weights={}, mean=members[0].mean, std=members[0].std,
                   length=max(m.length for m in members), lookahead=members[0].lookahead,
                   info=info if info is not None else {"members": [m.info for m in members]},
                   members=list(members))

    @classmethod
    def load(cls, path: str | Path = DEFAULT_MODEL_PATH) -> "StepModel":
        path = Path(path)
        if not path.is_file():
            raise InputError(f"IMU model file {path} not found; run 'repsense imu train' to build it")
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if tuple(meta.get("classes", ())) != CLASSES:
                raise InputError(f"IMU model file {path} was built for other classes; "
                                 "rebuild it with 'repsense imu train'")
            parts = meta["members"] if "members" in meta else [meta]
            models = []
            for j, part in enumerate(parts):
                pre = f"m{j}_" if "members" in meta else ""
                weights = {k[len(pre):]: z[k].astype(np.float32) for k in z.files
                           if k.startswith(pre) and k[len(pre)] in "wb" and k[len(pre) + 1:].isdigit()}
                models.append(cls(spec=part["spec"], weights=weights, mean=z[pre + "mean"].astype(np.float32),
                                  std=z[pre + "std"].astype(np.float32), length=int(part["length"]),
                                  lookahead=int(part["lookahead"]), info=part.get("info", {})))
        if any(m.mean.shape != (N_INPUTS,) for m in models):
            raise InputError(f"IMU model file {path} was built for other inputs; "
                             "rebuild it with 'repsense imu train'")
        return cls.ensemble(models, meta.get("info", {})) if "members" in meta else models[0]

    def save(self, path: str | Path) -> None:
        if not self.members:
            meta = {"spec": self.spec, "length": self.length, "lookahead": self.lookahead,
                    "classes": list(CLASSES), "info": self.info}
            np.savez_compressed(path, meta=np.array(json.dumps(meta)), mean=self.mean, std=self.std,
                                **{k: v.astype(np.float32) for k, v in self.weights.items()})
            return
        meta = {"members": [{"spec": m.spec, "length": m.length, "lookahead": m.lookahead, "info": m.info}
                            for m in self.members], "classes": list(CLASSES), "info": self.info}
        arrays: dict[str, np.ndarray] = {}
        for j, m in enumerate(self.members):
            arrays[f"m{j}_mean"], arrays[f"m{j}_std"] = m.mean, m.std
            arrays.update({f"m{j}_{k}": v.astype(np.float32) for k, v in m.weights.items()})
        np.savez_compressed(path, meta=np.array(json.dumps(meta)), **arrays)

    def decoder(self) -> "DecoderConfig | None":
        """The step decoder settings stored with the model (None in files from before it)."""
        from repsense.imu.decoding import DecoderConfig

        d = self.info.get("decoder") or (self.members[0].info.get("decoder") if self.members else None)
        return DecoderConfig.from_dict(d) if d else None

    def predict_steps(self, inputs: np.ndarray) -> np.ndarray:
        """Class per step of a whole sequence ``(T, N_INPUTS)`` -> ``(T,)``: the step decoder's
        labels (``decoding.decode``, as a stream would get them) or, without one, the most
        probable class."""
        return self.labels(self.predict_sequence(inputs))

    def labels(self, probs: np.ndarray) -> np.ndarray:
        """Class per step from step probabilities ``(T, N_CLASSES)``: decoded, or the most probable."""
        from repsense.imu.decoding import decode

        cfg = self.decoder()
        return decode(probs, cfg) if cfg is not None else probs.argmax(axis=1)

    def predict_proba(self, win: np.ndarray) -> np.ndarray:
        if self.members:
            win = np.asarray(win, dtype=np.float32)
            return np.mean([m.predict_proba(win[:, win.shape[1] - m.length:]) for m in self.members],
                           axis=0).astype(np.float32)
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
