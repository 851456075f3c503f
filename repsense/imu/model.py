"""The step classifier at run time, evaluated with numpy (no torch needed).

Two kinds of network, both mapping the steps around a step to its class probabilities, the step
``lookahead`` steps before the newest one they see:

- a window CNN (``spec`` is a layer list: conv / relu / maxpool / flatten / linear): a window of
  ``length`` steps ``(B, length, N_INPUTS)`` -> ``(B, N_CLASSES)``;
- a dilated TCN (``spec == [{"type": "tcn", "blocks": n}]``): a 1x1 input layer, ``n`` residual
  blocks ``h[t] + W2 relu(W1 * relu(h))[t]`` with a kernel-3 convolution of dilation 1, 2, 4, ...
  (no padding, so each block looks ``2 d`` steps further back), and a 1x1 output layer over
  ``relu(h)``. Its receptive field is ``length = 2^(n+1) - 1`` steps; it runs over a whole
  sequence in one pass, and over a stream one step at a time with a short history per block
  (``stream``), which costs a few matrix-vector products per step.

The model file (``.npz``) holds the layer list as JSON under ``meta``, the weights (``w<i>``/``b<i>``
per CNN layer; ``in_w``, ``in_b``, ``b<i>_w1``, ``b<i>_b1``, ``b<i>_w2``, ``b<i>_b2``, ``out_w``,
``out_b`` for a TCN), the input normalisation (``mean``, ``std``), window ``length`` and
``lookahead``. A file may instead hold an ensemble: ``meta["members"]`` lists each member's spec,
length and lookahead, its arrays are stored with the prefix ``m<j>_``, and the model's
probabilities are the mean of the members' (all members share the lookahead).
"""

from __future__ import annotations

import json
from collections import deque
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
    """Step classifier: ``predict_proba(windows (B, length, N_INPUTS)) -> (B, N_CLASSES)``,
    ``predict_sequence`` over a whole sequence, ``stream`` one step at a time."""

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
                           if k.startswith(pre) and k != "meta" and k[len(pre):] not in ("mean", "std")}
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

    @property
    def is_tcn(self) -> bool:
        return bool(self.spec) and self.spec[0]["type"] == "tcn"

    def predict_proba(self, win: np.ndarray) -> np.ndarray:
        if self.members:
            win = np.asarray(win, dtype=np.float32)
            return np.mean([m.predict_proba(win[:, win.shape[1] - m.length:]) for m in self.members],
                           axis=0).astype(np.float32)
        if self.is_tcn:
            return self._tcn(np.asarray(win, dtype=np.float32)[:, -self.length:])[:, -1]
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

    def _tcn(self, x: np.ndarray) -> np.ndarray:
        """TCN over sequences ``(B, T, N_INPUTS)`` -> probabilities ``(B, T - length + 1, N_CLASSES)``."""
        w = self.weights
        h = ((x - self.mean) / self.std) @ w["in_w"].T + w["in_b"]
        for i in range(int(self.spec[0]["blocks"])):
            d, k = 2 ** i, w[f"b{i}_w1"]
            r = np.maximum(h, 0.0)
            n = r.shape[1] - 2 * d
            z = r[:, :n] @ k[:, :, 0].T + r[:, d:d + n] @ k[:, :, 1].T + r[:, 2 * d:] @ k[:, :, 2].T + w[f"b{i}_b1"]
            h = h[:, 2 * d:] + np.maximum(z, 0.0) @ w[f"b{i}_w2"].T + w[f"b{i}_b2"]
        return _softmax(np.maximum(h, 0.0) @ w["out_w"].T + w["out_b"])

    def predict_sequence(self, inputs: np.ndarray, batch: int = 1024) -> np.ndarray:
        """Probabilities for every step of a whole sequence ``(T, N_INPUTS)`` -> ``(T, N_CLASSES)``,
        edges padded like ``features.windows`` (the first step repeated before, the last after)."""
        if self.members:
            return np.mean([m.predict_sequence(inputs, batch) for m in self.members], axis=0).astype(np.float32)
        if self.is_tcn:
            x = np.asarray(inputs, dtype=np.float32)
            before = self.length - 1 - self.lookahead
            padded = np.concatenate([np.repeat(x[:1], before, 0), x, np.repeat(x[-1:], self.lookahead, 0)])
            return self._tcn(padded[None])[0]
        w = windows(inputs, self.length, self.lookahead)
        return np.concatenate([self.predict_proba(w[i:i + batch]) for i in range(0, len(w), batch)])

    def stream(self) -> "StepStream":
        """A stream of this model's step probabilities, fed one step of inputs at a time; gives
        what ``predict_sequence`` gives for the same steps."""
        if self.members:
            return _EnsembleStream([m.stream() for m in self.members])
        return _TcnStream(self) if self.is_tcn else _WindowStream(self)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


class StepStream:
    """``push(inputs (N_INPUTS,))`` returns the probabilities ``(N_CLASSES,)`` of the step
    ``lookahead`` steps back once it is known, else None; ``finish()`` returns those of the steps
    still waiting, the stream's end padded with its last step as ``predict_sequence`` pads it, and
    starts afresh."""

    def push(self, x: np.ndarray) -> np.ndarray | None:
        raise NotImplementedError

    def finish(self) -> list[np.ndarray]:
        raise NotImplementedError


class _WindowStream(StepStream):
    """A window model's stream: the last ``length`` steps, the start padded with the first one."""

    def __init__(self, model: StepModel) -> None:
        self.model = model
        self._rows: deque[np.ndarray] = deque(maxlen=model.length)
        self._steps = 0

    def push(self, x: np.ndarray) -> np.ndarray | None:
        m = self.model
        if not self._rows:
            self._rows.extend([x] * (m.length - 1 - m.lookahead))
        self._rows.append(x)
        self._steps += 1
        if self._steps <= m.lookahead:
            return None
        return m.predict_proba(np.stack(self._rows)[None])[0]

    def finish(self) -> list[np.ndarray]:
        m = self.model
        out = []
        if self._rows:
            rows = list(self._rows)
            for k in range(min(m.lookahead, self._steps), 0, -1):
                padded = rows + [rows[-1]] * (m.lookahead - k + 1)
                out.append(m.predict_proba(np.stack(padded[-m.length:])[None])[0])
        self._rows.clear()
        self._steps = 0
        return out


class _TcnStream(StepStream):
    """A TCN's stream: each block keeps its last ``2 d + 1`` inputs and computes one new output
    per step."""

    def __init__(self, model: StepModel) -> None:
        self.model = model
        self.blocks = int(model.spec[0]["blocks"])
        self._reset()

    def _reset(self) -> None:
        self._hist = [deque(maxlen=2 * 2 ** i + 1) for i in range(self.blocks)]
        self._steps = 0
        self._last: np.ndarray | None = None

    def _step(self, x: np.ndarray) -> np.ndarray | None:
        m, w = self.model, self.model.weights
        h = ((np.asarray(x, dtype=np.float32) - m.mean) / m.std) @ w["in_w"].T + w["in_b"]
        for i, hist in enumerate(self._hist):
            hist.append(h)
            d, k = 2 ** i, w[f"b{i}_w1"]
            if len(hist) <= 2 * d:
                return None
            z = (np.maximum(hist[0], 0.0) @ k[:, :, 0].T + np.maximum(hist[d], 0.0) @ k[:, :, 1].T
                 + np.maximum(hist[2 * d], 0.0) @ k[:, :, 2].T + w[f"b{i}_b1"])
            h = hist[2 * d] + np.maximum(z, 0.0) @ w[f"b{i}_w2"].T + w[f"b{i}_b2"]
        return _softmax(np.maximum(h, 0.0) @ w["out_w"].T + w["out_b"])

    def _pad(self, x: np.ndarray) -> None:
        """The start of a stream: ``length - 1 - lookahead`` copies of the first step, as
        ``predict_sequence`` pads it. A constant input gives a constant output in every block, so
        one step per block fills its history (30x cheaper than pushing every copy)."""
        m, w = self.model, self.model.weights
        n = m.length - 1 - m.lookahead                 # copies, i.e. outputs of the layer below
        h = ((np.asarray(x, dtype=np.float32) - m.mean) / m.std) @ w["in_w"].T + w["in_b"]
        for i, hist in enumerate(self._hist):
            hist.extend([h] * min(n, hist.maxlen or 0))
            d, k = 2 ** i, w[f"b{i}_w1"]
            n -= 2 * d                                  # this block's outputs from the copies
            if n <= 0:
                return
            r = np.maximum(h, 0.0)
            z = r @ k[:, :, 0].T + r @ k[:, :, 1].T + r @ k[:, :, 2].T + w[f"b{i}_b1"]
            h = h + np.maximum(z, 0.0) @ w[f"b{i}_w2"].T + w[f"b{i}_b2"]

    def push(self, x: np.ndarray) -> np.ndarray | None:
        if self._last is None:
            self._pad(x)
        self._last = x
        self._steps += 1
        return self._step(x)

    def finish(self) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        if self._last is not None:
            for _ in range(self.model.lookahead):   # a short stream answers only within these
                p = self._step(self._last)
                if p is not None:
                    out.append(p)
        self._reset()
        return out


class _EnsembleStream(StepStream):
    """The mean of the members' streams (they share the lookahead, so they answer together)."""

    def __init__(self, streams: list[StepStream]) -> None:
        self.streams = streams

    def push(self, x: np.ndarray) -> np.ndarray | None:
        got = [s.push(x) for s in self.streams]
        if got[0] is None:
            return None
        return np.mean(got, axis=0).astype(np.float32)

    def finish(self) -> list[np.ndarray]:
        parts = [s.finish() for s in self.streams]
        return [np.mean(ps, axis=0).astype(np.float32) for ps in zip(*parts)]


__all__ = ["StepModel", "StepStream", "DEFAULT_MODEL_PATH"]
