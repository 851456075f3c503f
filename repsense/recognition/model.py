"""The recogniser's model runtime: numpy only (no torch, no scikit-learn at run time).

Three model kinds share one interface, ``predict_proba(windows (N, 30, 33, 4)) -> (N, C)``:

- ``trees``: gradient-boosted trees (trained with scikit-learn's HistGradientBoostingClassifier) over
  :func:`~repsense.recognition.features.window_features`, stored as padded node arrays and walked
  for all trees at once.
- ``cnn``: a small 1-D convolutional net (trained with torch) over the per-frame features: two
  convolutions with ReLU, mean and max pooling over time, one linear layer.
- ``blend`` (shipped): the probabilities of one of each averaged, the per-frame features computed
  once for both. Trees are better on the gym videos and on idle, the CNN on unseen UCF101 groups;
  the average was chosen by cross-validation over the UCF101 training groups (docs/recognition.md).

A model is one ``.npz`` file of arrays (``allow_pickle=False``); ``kind`` and ``classes`` say what it is.
"""

from __future__ import annotations

import functools
import pathlib
from typing import Protocol

import numpy as np

from repsense.errors import InputError
from repsense.recognition.features import fill_missing, frame_features, window_features

SHIPPED_MODEL = pathlib.Path(__file__).with_name("model.npz")


class Model(Protocol):
    classes: tuple[str, ...]

    def predict_proba(self, windows: np.ndarray) -> np.ndarray: ...

    def save(self, path: str | pathlib.Path) -> None: ...


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class TreeEnsemble:
    """Boosted trees as arrays ``(n_trees, max_nodes)``; tree ``t`` adds to class ``tree_class[t]``."""

    kind = "trees"

    def __init__(self, classes: tuple[str, ...], baseline: np.ndarray, tree_class: np.ndarray,
                 feature: np.ndarray, threshold: np.ndarray, left: np.ndarray, right: np.ndarray,
                 value: np.ndarray, is_leaf: np.ndarray, missing_left: np.ndarray, depth: int) -> None:
        self.classes = tuple(classes)
        self.baseline = np.asarray(baseline, np.float64)
        self.tree_class = np.asarray(tree_class, np.int64)
        self.feature = np.asarray(feature, np.int64)
        self.threshold = np.asarray(threshold, np.float64)
        self.left = np.asarray(left, np.int64)
        self.right = np.asarray(right, np.int64)
        self.value = np.asarray(value, np.float64)
        self.is_leaf = np.asarray(is_leaf, bool)
        self.missing_left = np.asarray(missing_left, bool)
        self.depth = int(depth)
        # Flat node arrays where a leaf points to itself, so every tree can take `depth` steps.
        n_trees, width = self.feature.shape
        base = (np.arange(n_trees) * width)[:, None]
        own = base + np.arange(width)[None, :]
        self._feature = self.feature.ravel()
        self._threshold = self.threshold.ravel()
        self._missing_left = self.missing_left.ravel()
        self._left = np.where(self.is_leaf, own, base + self.left).ravel()
        self._right = np.where(self.is_leaf, own, base + self.right).ravel()
        self._children = np.stack([self._left, self._right], axis=1).ravel()  # node*2 (+1: right)
        self._value = self.value.ravel()
        self._roots = base[:, 0]
        self._to_class = np.eye(len(self.classes))[self.tree_class]              # (n_trees, C)

    def decision(self, feats: np.ndarray) -> np.ndarray:
        """Raw class scores ``(N, C)`` of window features ``(N, W)``."""
        n, width = feats.shape
        flat = np.ascontiguousarray(feats).ravel()
        offset = (np.arange(n) * width)[:, None]
        node = np.broadcast_to(self._roots, (n, self._roots.size))
        has_nan = bool(np.isnan(flat).any())
        for _ in range(self.depth):
            x = flat[offset + self._feature[node]]
            go_left = x <= self._threshold[node]
            if has_nan:
                go_left |= np.isnan(x) & self._missing_left[node]
            node = self._children[node * 2 + ~go_left]
        return self._value[node] @ self._to_class + self.baseline

    def truncated(self, n_iter: int) -> "TreeEnsemble":
        """The ensemble of the first ``n_iter`` boosting rounds (a smaller, faster model)."""
        keep = slice(0, n_iter * len(self.classes))
        return TreeEnsemble(self.classes, self.baseline, self.tree_class[keep], self.feature[keep],
                            self.threshold[keep], self.left[keep], self.right[keep], self.value[keep],
                            self.is_leaf[keep], self.missing_left[keep], self.depth)

    def proba_of_frames(self, frames: np.ndarray) -> np.ndarray:
        """Class probabilities from per-frame features ``(N, T, F)`` (gap-filled windows)."""
        return _softmax(self.decision(window_features(frames).astype(np.float64)))

    def predict_proba(self, windows: np.ndarray) -> np.ndarray:
        return self.proba_of_frames(frame_features(fill_missing(windows)))

    def arrays(self) -> dict[str, object]:
        """What ``save`` writes (a blend stores its members' under a prefix)."""
        return {"kind": self.kind, "classes": np.array(self.classes), "baseline": self.baseline,
                "tree_class": self.tree_class, "feature": self.feature.astype(np.int16),
                "threshold": self.threshold.astype(np.float32), "left": self.left.astype(np.int16),
                "right": self.right.astype(np.int16), "value": self.value.astype(np.float32),
                "is_leaf": self.is_leaf, "missing_left": self.missing_left, "depth": self.depth}

    def save(self, path: str | pathlib.Path) -> None:
        np.savez_compressed(path, **self.arrays())

    @classmethod
    def from_arrays(cls, d: dict[str, np.ndarray]) -> "TreeEnsemble":
        return cls(tuple(str(c) for c in d["classes"]), d["baseline"], d["tree_class"], d["feature"],
                   d["threshold"], d["left"], d["right"], d["value"], d["is_leaf"], d["missing_left"],
                   int(d["depth"]))


def _conv1d_relu(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    """'same' 1-D convolution then ReLU: ``x (N, T, Cin)``, ``w (Cout, Cin, K)`` -> ``(N, T, Cout)``."""
    k = w.shape[2]
    pad = np.zeros((x.shape[0], k // 2, x.shape[2]), x.dtype)
    xp = np.concatenate([pad, x, pad], axis=1)
    cols = np.lib.stride_tricks.sliding_window_view(xp, k, axis=1)               # (N, T, Cin, K)
    y = cols.reshape(x.shape[0], x.shape[1], -1) @ w.reshape(w.shape[0], -1).T + b
    return np.maximum(y, 0.0)


class ConvNet:
    """Two ReLU convolutions over standardised per-frame features, mean+max pooling, a linear layer."""

    kind = "cnn"

    def __init__(self, classes: tuple[str, ...], mean: np.ndarray, std: np.ndarray,
                 conv1_w: np.ndarray, conv1_b: np.ndarray, conv2_w: np.ndarray, conv2_b: np.ndarray,
                 fc_w: np.ndarray, fc_b: np.ndarray) -> None:
        self.classes = tuple(classes)
        self.mean, self.std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
        self.conv1_w, self.conv1_b = np.asarray(conv1_w, np.float32), np.asarray(conv1_b, np.float32)
        self.conv2_w, self.conv2_b = np.asarray(conv2_w, np.float32), np.asarray(conv2_b, np.float32)
        self.fc_w, self.fc_b = np.asarray(fc_w, np.float32), np.asarray(fc_b, np.float32)

    def standardise(self, frames: np.ndarray) -> np.ndarray:
        """Standardised per-frame features ``(N, T, F)``; missing values become 0 (the mean)."""
        x = (frames - self.mean) / self.std
        return np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)

    def logits(self, x: np.ndarray) -> np.ndarray:
        h = _conv1d_relu(x, self.conv1_w, self.conv1_b)
        h = _conv1d_relu(h, self.conv2_w, self.conv2_b)
        pooled = np.concatenate([h.mean(axis=1), h.max(axis=1)], axis=-1)
        return pooled @ self.fc_w.T + self.fc_b

    def proba_of_frames(self, frames: np.ndarray) -> np.ndarray:
        """Class probabilities from per-frame features ``(N, T, F)`` (gap-filled windows)."""
        return _softmax(self.logits(self.standardise(frames)).astype(np.float64))

    def predict_proba(self, windows: np.ndarray) -> np.ndarray:
        return self.proba_of_frames(frame_features(fill_missing(windows)))

    def arrays(self) -> dict[str, object]:
        return {"kind": self.kind, "classes": np.array(self.classes), "mean": self.mean, "std": self.std,
                "conv1_w": self.conv1_w, "conv1_b": self.conv1_b, "conv2_w": self.conv2_w,
                "conv2_b": self.conv2_b, "fc_w": self.fc_w, "fc_b": self.fc_b}

    def save(self, path: str | pathlib.Path) -> None:
        np.savez_compressed(path, **self.arrays())

    @classmethod
    def from_arrays(cls, d: dict[str, np.ndarray]) -> "ConvNet":
        return cls(tuple(str(c) for c in d["classes"]), d["mean"], d["std"], d["conv1_w"], d["conv1_b"],
                   d["conv2_w"], d["conv2_b"], d["fc_w"], d["fc_b"])


class Blend:
    """The class probabilities of a tree ensemble and a CNN, averaged with weight ``weight`` on the
    trees. Both read the same per-frame features, computed once."""

    kind = "blend"

    def __init__(self, trees: TreeEnsemble, cnn: ConvNet, weight: float = 0.5) -> None:
        if tuple(trees.classes) != tuple(cnn.classes):
            raise ValueError(f"blend members disagree on the classes: {trees.classes} vs {cnn.classes}")
        self.trees, self.cnn, self.weight = trees, cnn, float(weight)
        self.classes = trees.classes

    def predict_proba(self, windows: np.ndarray) -> np.ndarray:
        frames = frame_features(fill_missing(windows))
        return (self.weight * self.trees.proba_of_frames(frames)
                + (1.0 - self.weight) * self.cnn.proba_of_frames(frames))

    def save(self, path: str | pathlib.Path) -> None:
        members = {f"{prefix}{k}": v for prefix, member in (("trees_", self.trees), ("cnn_", self.cnn))
                   for k, v in member.arrays().items()}
        np.savez_compressed(path, kind=self.kind, classes=np.array(self.classes),
                            weight=np.float64(self.weight), **members)

    @classmethod
    def from_arrays(cls, d: dict[str, np.ndarray]) -> "Blend":
        def member(prefix: str) -> dict[str, np.ndarray]:
            return {k[len(prefix):]: v for k, v in d.items() if k.startswith(prefix)}
        return cls(TreeEnsemble.from_arrays(member("trees_")), ConvNet.from_arrays(member("cnn_")),
                   float(d["weight"]))


_KINDS: dict[str, type[TreeEnsemble] | type[ConvNet] | type[Blend]] = {
    "trees": TreeEnsemble, "cnn": ConvNet, "blend": Blend}


@functools.cache
def shipped_model() -> TreeEnsemble | ConvNet | Blend:
    """The shipped model, loaded once per process (it is only read, never changed)."""
    return load_model()


def load_model(path: str | pathlib.Path | None = None) -> TreeEnsemble | ConvNet | Blend:
    """Load a model file (the shipped one by default)."""
    path = pathlib.Path(path) if path is not None else SHIPPED_MODEL
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the recognition model ({exc})") from None
    kind = str(arrays.get("kind", ""))
    if kind not in _KINDS:
        raise InputError(f"{path}: not a recognition model (kind {kind!r}, expected one of {sorted(_KINDS)})")
    return _KINDS[kind].from_arrays(arrays)
