"""Training of the recognition models (needs the training extras: scikit-learn for the trees,
torch for the 1-D CNN; the shipped blend needs both). Seeds are fixed, so a rerun on the same data
gives the same model.

Both kinds are trained on the same training side (see :mod:`repsense.recognition.data`), with every
window kept once as recorded and ``copies`` times under random camera changes
(:func:`~repsense.recognition.data.augment`, including turned camera views), and classes weighted
equally. The shipped model is trained on the training side only, so the held-out figures describe
the shipped model itself.
"""

from __future__ import annotations

import numpy as np

from repsense.recognition.data import Samples, augment
from repsense.recognition.features import fill_missing, frame_features, window_features
from repsense.recognition.model import Blend, ConvNet, TreeEnsemble

SEED = 0
# Weight of the trees in the shipped blend (the CNN gets the rest). Chosen by the same
# cross-validation over the UCF101 training groups: clip macro-F1 0.863 trees alone, 0.831 CNN
# alone, 0.870 / 0.872 / 0.871 at 0.3 / 0.5 / 0.7 (docs/recognition.md).
BLEND_WEIGHT = 0.5
# Augmented copies: half the windows are also seen from a camera turned about the vertical axis by
# up to this angle (front views become side views and back). Chosen by cross-validation over the
# UCF101 training groups (g01-g04 / g05-g08 held out in turn): clip macro-F1 0.80 without, 0.86
# with 90 degrees (docs/recognition.md).
YAW_DEG = 90.0


def augmented(train: Samples, copies: int, seed: int = SEED, yaw_deg: float = YAW_DEG
              ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.concatenate([train.X] + [augment(rng, train.X, yaw_deg=yaw_deg) for _ in range(copies)])
    y = np.concatenate([train.y] * (copies + 1))
    return X, y


def class_weights(y: np.ndarray) -> np.ndarray:
    classes, counts = np.unique(y, return_counts=True)
    w = {c: len(y) / (len(classes) * n) for c, n in zip(classes, counts)}
    return np.array([w[c] for c in y])


def train_trees(train: Samples, copies: int = 2, max_iter: int = 120, seed: int = SEED) -> TreeEnsemble:
    """Gradient-boosted trees over window features, exported to the numpy runtime."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = augmented(train, copies, seed)
    feats = window_features(frame_features(fill_missing(X)))
    clf = HistGradientBoostingClassifier(
        max_iter=max_iter, learning_rate=0.1, max_leaf_nodes=15, max_depth=6, min_samples_leaf=20,
        l2_regularization=1.0, early_stopping=False, random_state=seed)
    clf.fit(feats, y, sample_weight=class_weights(y))
    return export_trees(clf)


def export_trees(clf) -> TreeEnsemble:  # type: ignore[no-untyped-def]
    trees = [(k, p.nodes) for it in clf._predictors for k, p in enumerate(it)]
    width = max(len(nodes) for _, nodes in trees)

    def pad(field: str, dtype: type) -> np.ndarray:
        out = np.zeros((len(trees), width), dtype)
        for t, (_, nodes) in enumerate(trees):
            out[t, :len(nodes)] = nodes[field]
        return out

    depth = int(max(nodes["depth"].max() for _, nodes in trees))
    return TreeEnsemble(tuple(str(c) for c in clf.classes_), np.ravel(clf._baseline_prediction),
                        np.array([k for k, _ in trees]), pad("feature_idx", np.int64),
                        pad("num_threshold", np.float64), pad("left", np.int64), pad("right", np.int64),
                        pad("value", np.float64), pad("is_leaf", bool), pad("missing_go_to_left", bool),
                        depth)


def train_cnn(train: Samples, copies: int = 1, epochs: int = 15, channels: int = 32,
              seed: int = SEED) -> ConvNet:
    """A small 1-D CNN over standardised per-frame features, exported to the numpy runtime."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)   # NOTE: on the shared 2-core box more threads only spin
    X, y = augmented(train, copies, seed)
    frames = frame_features(fill_missing(X))
    mean = np.nanmean(frames.reshape(-1, frames.shape[-1]), axis=0)
    std = np.nanstd(frames.reshape(-1, frames.shape[-1]), axis=0) + 1e-3
    inputs = np.nan_to_num((frames - mean) / std, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)
    classes = tuple(sorted(set(y)))
    target = np.array([classes.index(c) for c in y])
    f = inputs.shape[-1]

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv1d(f, channels, 5, padding=2)
            self.conv2 = nn.Conv1d(channels, channels, 5, padding=2)
            self.drop = nn.Dropout(0.3)
            self.fc = nn.Linear(2 * channels, len(classes))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = torch.relu(self.conv1(x.transpose(1, 2)))
            h = torch.relu(self.conv2(self.drop(h)))
            pooled = torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1)
            return self.fc(self.drop(pooled))

    net = Net()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    weights = torch.tensor([len(y) / (len(classes) * (target == k).sum()) for k in range(len(classes))],
                           dtype=torch.float32)
    loss_fn = nn.CrossEntropyLoss(weight=weights, label_smoothing=0.05)
    xt, yt = torch.from_numpy(inputs), torch.from_numpy(target)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        net.train()
        order = torch.randperm(len(xt), generator=gen)
        for i in range(0, len(order), 128):
            b = order[i:i + 128]
            opt.zero_grad()
            loss = loss_fn(net(xt[b]), yt[b])
            loss.backward()
            opt.step()
        sched.step()
    net.eval()
    g = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    return ConvNet(classes, mean, std, g["conv1.weight"], g["conv1.bias"], g["conv2.weight"],
                   g["conv2.bias"], g["fc.weight"], g["fc.bias"])


def train_blend(train: Samples, weight: float = BLEND_WEIGHT, seed: int = SEED) -> Blend:
    """The shipped model: :func:`train_trees` and :func:`train_cnn` on the same windows, averaged."""
    return Blend(train_trees(train, seed=seed), train_cnn(train, seed=seed), weight)
