"""Training the step networks (needs torch, a training-only extra) and leave-one-individual-out
scoring.

Two kinds (``model.py``): the window CNN (``TrainConfig``, ``train_model``) and the shipped
dilated TCN (``TcnConfig``, ``train_tcn``), trained sequence to sequence on random crops of the
recordings. Both are trained in torch and exported to the numpy ``StepModel`` format, so run time
needs numpy only.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from repsense.errors import InputError
from repsense.imu.decoding import DecoderConfig
from repsense.imu.features import N_CLASSES, N_INPUTS, VECTOR_SLICES, step_inputs, step_labels, windows
from repsense.imu.model import StepModel
from repsense.imu.recording import ImuRecording, load_csv

WINDOW = 60
LOOKAHEAD = 20
SEED = 0
SEEDS = (0, 1, 2)  # the window CNN was shipped as the mean of networks trained with these seeds
TCN_SEEDS = (0,)   # the shipped TCN: one network
# Step decoding (repsense/imu/decoding.py): rep halves may be 1 step shorter or longer than seen in
# training, labels are final 20 steps later, and break probabilities count 0.5 times (chosen on
# the leave-one-individual-out predictions, like the counter's thresholds; docs/imu.md).
DECODER_SLACK = 1
DECODER_LAG = 20
DECODER_BREAK_SCALE = 0.5


@dataclass(frozen=True)
class TrainConfig:
    length: int = WINDOW
    lookahead: int = LOOKAHEAD
    epochs: int = 8
    batch: int = 256
    max_lr: float = 3e-3
    weight_decay: float = 1e-3
    seed: int = SEED
    threads: int = 1  # NOTE: 2 threads ran 7x slower per batch on a busy 2-core machine (611 vs 85 ms)
    jitter_deg: float = 25.0
    break_weight: float = 1.0  # loss weight of the break class relative to the rep classes
    warp: float = 1.25  # time warp: each window resampled at a speed in [1/warp, warp] (<= 1: off)
    amp: float = 0.2    # per-window gain of acceleration and rotation rate, each up to +-amp (0: off)


@dataclass
class Labelled:
    path: str
    individual: int
    recording: ImuRecording
    inputs: np.ndarray = field(repr=False)
    labels: np.ndarray = field(repr=False)


def individual_of(path: str | Path) -> int:
    m = re.search(r"Individual_(\d+)", Path(path).name)
    if not m:
        raise InputError(f"{path}: cannot tell the individual from the file name "
                         "(expected '..._Individual_<n>.csv')")
    return int(m.group(1))


def load_labelled(folder: str | Path) -> list[Labelled]:
    folder = Path(folder)
    files = sorted(folder.glob("*.csv"))
    if not files:
        raise InputError(f"{folder}: no .csv recordings found; point at the exermote data folder")
    out = []
    for f in files:
        rec = load_csv(f)
        if rec.exercise is None:
            raise InputError(f"{f}: no exerciseType/exerciseSubType columns; training needs labels")
        out.append(Labelled(str(f), individual_of(f), rec, step_inputs(rec.samples), step_labels(rec)))
    return out


# Ways to strap the phone on: as recorded, upside down, screen turned in, both (180 deg turns).
MOUNTINGS = (
    ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    ((-1, 0, 0), (0, -1, 0), (0, 0, 1)),
    ((-1, 0, 0), (0, 1, 0), (0, 0, -1)),
    ((1, 0, 0), (0, -1, 0), (0, 0, -1)),
)


def normalisation(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean/std per input column; a device-frame vector gets mean 0 and one scale for its three
    axes, so normalising commutes with rotating the phone."""
    mean = inputs.mean(axis=0).astype(np.float64)
    std = inputs.std(axis=0).astype(np.float64) + 1e-6
    for sl in VECTOR_SLICES:
        mean[sl] = 0.0
        std[sl] = float(np.sqrt(np.mean(inputs[:, sl].astype(np.float64) ** 2))) + 1e-6
    return mean.astype(np.float32), std.astype(np.float32)


def _rotate(xb: Any, flips: Any, jitter_deg: float, gen: Any) -> Any:
    """Turn each window's device-frame vectors by a random mounting and a small random tilt."""
    import torch

    b = xb.shape[0]
    R = flips[torch.randint(len(flips), (b,), generator=gen)]
    if jitter_deg > 0:
        axis = torch.randn(b, 3, generator=gen)
        axis = axis / axis.norm(dim=1, keepdim=True)
        ang = (torch.rand(b, generator=gen) * 2 - 1) * np.deg2rad(jitter_deg)
        K = torch.zeros(b, 3, 3)
        K[:, 0, 1], K[:, 0, 2], K[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
        K = K - K.transpose(1, 2)
        s, c = torch.sin(ang)[:, None, None], torch.cos(ang)[:, None, None]
        R = (torch.eye(3) + s * K + (1 - c) * (K @ K)) @ R
    out = xb.clone()
    for sl in VECTOR_SLICES:
        out[:, sl] = R @ xb[:, sl]
    return out


def _network(length: int) -> Any:
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv1d(N_INPUTS, 32, 5, padding=2), nn.ReLU(),
        nn.Conv1d(32, 32, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
        nn.Conv1d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * (length // 4), 64), nn.ReLU(),
        nn.Linear(64, N_CLASSES))


def _export(net: Any, mean: np.ndarray, std: np.ndarray, cfg: TrainConfig,
            info: dict[str, Any]) -> StepModel:
    import torch.nn as nn

    spec: list[dict[str, Any]] = []
    weights: dict[str, np.ndarray] = {}
    for layer in net:
        i = len(spec)
        if isinstance(layer, nn.Conv1d):
            spec.append({"type": "conv", "pad": int(layer.padding[0])})
        elif isinstance(layer, nn.Linear):
            spec.append({"type": "linear"})
        elif isinstance(layer, nn.ReLU):
            spec.append({"type": "relu"})
            continue
        elif isinstance(layer, nn.MaxPool1d):
            spec.append({"type": "maxpool", "k": int(layer.kernel_size)})
            continue
        elif isinstance(layer, nn.Flatten):
            spec.append({"type": "flatten"})
            continue
        elif isinstance(layer, nn.Dropout):
            continue
        else:
            raise TypeError(f"cannot export layer {layer}")
        weights[f"w{i}"] = layer.weight.detach().numpy().copy()
        weights[f"b{i}"] = layer.bias.detach().numpy().copy()
    return StepModel(spec, weights, mean.astype(np.float32), std.astype(np.float32), cfg.length,
                     cfg.lookahead, info)


# Columns that scale with the speed of a motion: rotation rate and its derived quantities go with
# the speed, user acceleration and its derived quantities with its square (gravity does not).
_SPEED1 = (6, 7, 8, 10, 12)
_SPEED2 = (3, 4, 5, 9, 11)


class _Warper:
    """Windows resampled around their labelled step at a random speed (time-warp augmentation).

    Step ``t`` of a recording at speed ``s`` sees the inputs at ``t + s * k`` for the window's
    offsets ``k``, linearly interpolated (edges repeated), with rotation rates scaled by ``s`` and
    accelerations by ``s**2``, as if the same motion were made ``s`` times faster."""

    def __init__(self, data: list[Labelled], cfg: TrainConfig) -> None:
        import torch

        before = int(np.ceil((cfg.length - 1 - cfg.lookahead) * cfg.warp)) + 2
        after = int(np.ceil(cfg.lookahead * cfg.warp)) + 2
        parts, base, off = [], [], 0
        for d in data:
            x = d.inputs
            parts.append(np.concatenate([np.repeat(x[:1], before, 0), x, np.repeat(x[-1:], after, 0)]))
            base.append(off + before + np.arange(len(x)))
            off += len(x) + before + after
        self.seq = torch.from_numpy(np.concatenate(parts).astype(np.float32))
        self.base = torch.from_numpy(np.concatenate(base).astype(np.float64))
        self.offsets = torch.arange(cfg.length, dtype=torch.float64) - (cfg.length - 1 - cfg.lookahead)
        self.log_warp = float(np.log(cfg.warp))
        self.p1 = torch.zeros(N_INPUTS)
        self.p1[list(_SPEED1)] = 1
        self.p2 = torch.zeros(N_INPUTS)
        self.p2[list(_SPEED2)] = 2

    def __call__(self, idx: Any, gen: Any) -> Any:
        import torch

        s = torch.exp((torch.rand(len(idx), generator=gen, dtype=torch.float64) * 2 - 1) * self.log_warp)
        pos = self.base[idx][:, None] + s[:, None] * self.offsets[None, :]
        lo = pos.floor()
        frac = (pos - lo).float()[..., None]
        lo = lo.long()
        x = self.seq[lo] * (1 - frac) + self.seq[lo + 1] * frac          # B, length, C
        scale = s.float()[:, None] ** (self.p1 + self.p2)[None, :]       # B, C
        return (x * scale[:, None, :]).transpose(1, 2).contiguous()


def _torch(seed: int, threads: int) -> tuple[Any, Any]:
    """torch and its functional module, seeded and limited to ``threads`` (training is
    deterministic for a seed and thread count); a clear message when torch is missing."""
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        raise InputError("training needs torch: pip install torch==2.13.0 (CPU build)") from None
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    return torch, F


def train_model(data: list[Labelled], cfg: TrainConfig = TrainConfig(),
                log: Callable[[str], None] | None = None) -> StepModel:
    """Train on every step of ``data``; deterministic for a seed and thread count."""
    torch, F = _torch(cfg.seed, cfg.threads)
    rng = np.random.default_rng(cfg.seed)
    mean, std = normalisation(np.concatenate([d.inputs for d in data]))
    X = np.concatenate([windows(d.inputs, cfg.length, cfg.lookahead) for d in data])
    X = np.ascontiguousarray(X.transpose(0, 2, 1), dtype=np.float32)  # raw; rotated, then normalised
    Y = np.concatenate([d.labels for d in data])
    net = _network(cfg.length)
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=cfg.weight_decay)
    steps = cfg.epochs * ((len(X) + cfg.batch - 1) // cfg.batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.max_lr, total_steps=steps)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)
    mean_t, std_t = torch.from_numpy(mean)[None, :, None], torch.from_numpy(std)[None, :, None]
    flips = torch.tensor(MOUNTINGS, dtype=torch.float32)
    gen = torch.Generator().manual_seed(cfg.seed)
    warper = _Warper(data, cfg) if cfg.warp > 1 else None
    amp_cols = [torch.tensor(c) for c in ((3, 4, 5, 9, 11), (6, 7, 8, 10, 12))]
    class_w = torch.ones(N_CLASSES)
    class_w[0] = cfg.break_weight
    t0 = time.time()
    for epoch in range(cfg.epochs):
        net.train()
        perm = torch.from_numpy(rng.permutation(len(Xt)))
        total = 0.0
        for b in range(0, len(perm), cfg.batch):
            idx = perm[b:b + cfg.batch]
            xb = _rotate(warper(idx, gen) if warper is not None else Xt[idx], flips, cfg.jitter_deg, gen)
            if cfg.amp > 0:
                for cols in amp_cols:  # acceleration, then rotation rate (raw units, before normalising)
                    g = 1 + cfg.amp * (torch.rand(len(idx), 1, 1, generator=gen) * 2 - 1)
                    xb[:, cols] = xb[:, cols] * g
            xb = (xb - mean_t) / std_t
            # Per-window gain and sensor noise, for people who move bigger or smaller.
            xb = xb * (1 + 0.1 * torch.randn(len(idx), 1, 1, generator=gen)) \
                + 0.05 * torch.randn(xb.shape, generator=gen)
            loss = F.cross_entropy(net(xb), Yt[idx], weight=class_w, label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss.detach()) * len(idx)
        if log:
            log(f"epoch {epoch + 1}/{cfg.epochs}: loss {total / len(X):.4f} ({time.time() - t0:.0f} s)")
    net.eval()
    info = {"trained_on": sorted({Path(d.path).name for d in data}), "epochs": cfg.epochs,
            "seed": cfg.seed, "individuals": sorted({d.individual for d in data}),
            "warp": cfg.warp, "amp": cfg.amp, "decoder": decoder_config(data).to_dict()}
    model = _export(net, mean, std, cfg, info)
    # The numpy runtime must reproduce torch on real windows, or the export is wrong.
    probe = X[:: max(1, len(X) // 512)][:512]
    with torch.no_grad():
        ref = torch.softmax(net((torch.from_numpy(probe) - mean_t) / std_t), dim=1).numpy()
    got = model.predict_proba(probe.transpose(0, 2, 1))
    if not np.allclose(got, ref, atol=1e-4):
        raise RuntimeError(f"numpy export differs from torch by {np.abs(got - ref).max():.2e}")
    return model


@dataclass(frozen=True)
class TcnConfig:
    """The dilated TCN and its training: every step of random ``crop``-step stretches of the
    recordings is a training example, with the CNN's augmentations applied per stretch."""

    blocks: int = 7           # receptive field 2^(blocks+1) - 1 = 255 steps: 234 back, 20 ahead
    channels: int = 64
    dropout: float = 0.1
    lookahead: int = LOOKAHEAD
    iterations: int = 1000
    crop: int = 256
    batch: int = 16
    max_lr: float = 3e-3
    weight_decay: float = 1e-3
    seed: int = SEED
    threads: int = 1
    jitter_deg: float = 25.0
    warp: float = 1.25
    amp: float = 0.2

    @property
    def length(self) -> int:
        return 2 ** (self.blocks + 1) - 1


def _tcn_network(cfg: TcnConfig) -> Any:
    import torch.nn as nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self, d: int) -> None:
            super().__init__()
            self.d = d
            self.c1 = nn.Conv1d(cfg.channels, cfg.channels, 3, dilation=d)
            self.c2 = nn.Conv1d(cfg.channels, cfg.channels, 1)
            self.drop = nn.Dropout(cfg.dropout)

        def forward(self, x: Any) -> Any:
            return x[:, :, 2 * self.d:] + self.c2(self.drop(F.relu(self.c1(F.relu(x)))))

    class Tcn(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = nn.Conv1d(N_INPUTS, cfg.channels, 1)
            self.blocks = nn.ModuleList([Block(2 ** i) for i in range(cfg.blocks)])
            self.out = nn.Conv1d(cfg.channels, N_CLASSES, 1)

        def forward(self, x: Any) -> Any:
            x = self.inp(x)
            for b in self.blocks:
                x = b(x)
            return self.out(F.relu(x))

    return Tcn()


def train_tcn(data: list[Labelled], cfg: TcnConfig = TcnConfig(),
              log: Callable[[str], None] | None = None) -> StepModel:
    """Train the TCN on every step of ``data``; deterministic for a seed and thread count."""
    torch, F = _torch(cfg.seed, cfg.threads)
    gen = torch.Generator().manual_seed(cfg.seed)
    mean, std = normalisation(np.concatenate([d.inputs for d in data]))
    net = _tcn_network(cfg)
    past = cfg.length - 1 - cfg.lookahead
    seqs = [torch.from_numpy(np.concatenate([np.repeat(d.inputs[:1], past, 0), d.inputs,
                                             np.repeat(d.inputs[-1:], cfg.lookahead, 0)]).astype(np.float32))
            for d in data]
    labs = [torch.from_numpy(d.labels) for d in data]
    share = np.array([len(d.labels) for d in data], dtype=np.float64)
    share /= share.sum()
    opt = torch.optim.AdamW(net.parameters(), 1e-3, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, cfg.max_lr, total_steps=cfg.iterations)
    flips = torch.tensor(MOUNTINGS, dtype=torch.float32)
    mean_t, std_t = torch.from_numpy(mean)[None, :, None], torch.from_numpy(std)[None, :, None]
    speed_power = torch.zeros(N_INPUTS)
    speed_power[list(_SPEED1)] = 1
    speed_power[list(_SPEED2)] = 2
    rng = np.random.default_rng(cfg.seed)
    n_in = cfg.crop + cfg.length - 1
    t0, total = time.time(), 0.0
    for it in range(cfg.iterations):
        xs, ys = [], []
        for _ in range(cfg.batch):
            # a stretch of a recording at a random speed (time warp), labels read off nearest
            k = rng.choice(len(data), p=share)
            seq, lab = seqs[k], labs[k]
            speed = float(np.exp(rng.uniform(-1, 1) * np.log(cfg.warp)))
            start = rng.uniform(0, max(len(seq) - 1 - (n_in - 1) * speed, 0))
            pos = torch.from_numpy(start + speed * np.arange(n_in)).clamp(0, len(seq) - 1.001)
            lo = pos.floor().long()
            frac = (pos - lo).float()[:, None]
            x = seq[lo] * (1 - frac) + seq[(lo + 1).clamp(max=len(seq) - 1)] * frac
            xs.append((x * (speed ** speed_power)[None, :]).T)
            ys.append(lab[(pos[past:past + cfg.crop] - past).round().long().clamp(0, len(lab) - 1)])
        xb, yb = torch.stack(xs), torch.stack(ys)
        xb = _rotate(xb, flips, cfg.jitter_deg, gen)
        for cols in ((3, 4, 5, 9, 11), (6, 7, 8, 10, 12)):  # acceleration, then rotation rate
            g = 1 + cfg.amp * (torch.rand(cfg.batch, 1, 1, generator=gen) * 2 - 1)
            xb[:, list(cols)] = xb[:, list(cols)] * g
        xb = (xb - mean_t) / std_t
        xb = xb * (1 + 0.1 * torch.randn(cfg.batch, 1, 1, generator=gen)) \
            + 0.05 * torch.randn(xb.shape, generator=gen)
        net.train()
        loss = F.cross_entropy(net(xb), yb, label_smoothing=0.05)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        total += float(loss.detach())
        if log and (it + 1) % 100 == 0:
            log(f"iteration {it + 1}/{cfg.iterations}: loss {total / 100:.4f} ({time.time() - t0:.0f} s)")
            total = 0.0
    net.eval()
    weights = {"in_w": net.inp.weight[:, :, 0], "in_b": net.inp.bias,
               "out_w": net.out.weight[:, :, 0], "out_b": net.out.bias}
    for i, b in enumerate(net.blocks):
        weights.update({f"b{i}_w1": b.c1.weight, f"b{i}_b1": b.c1.bias,
                        f"b{i}_w2": b.c2.weight[:, :, 0], f"b{i}_b2": b.c2.bias})
    info = {"trained_on": sorted({Path(d.path).name for d in data}), "iterations": cfg.iterations,
            "seed": cfg.seed, "individuals": sorted({d.individual for d in data}), "arch": "tcn",
            "warp": cfg.warp, "amp": cfg.amp, "decoder": decoder_config(data).to_dict()}
    model = StepModel([{"type": "tcn", "blocks": cfg.blocks}],
                      {k: v.detach().numpy().astype(np.float32).copy() for k, v in weights.items()},
                      mean, std, cfg.length, cfg.lookahead, info)
    # The numpy runtime must reproduce torch on a real stretch, or the export is wrong.
    probe = seqs[0][:600 + cfg.length - 1]
    with torch.no_grad():
        ref = torch.softmax(net(((probe.T[None] - mean_t) / std_t)), dim=1)[0].T.numpy()
    got = model._tcn(probe.numpy()[None])[0]
    if not np.allclose(got, ref, atol=1e-4):
        raise RuntimeError(f"numpy export differs from torch by {np.abs(got - ref).max():.2e}")
    return model


def decoder_config(data: list[Labelled]) -> DecoderConfig:
    """The step decoder's settings, with rep durations from the training labels."""
    return DecoderConfig.from_labels([d.labels for d in data], slack=DECODER_SLACK, lag=DECODER_LAG,
                                     break_scale=DECODER_BREAK_SCALE)


def train_ensemble(data: list[Labelled], cfg: TrainConfig | TcnConfig = TcnConfig(),
                   seeds: tuple[int, ...] = TCN_SEEDS, log: Callable[[str], None] | None = None) -> StepModel:
    """One network per seed, averaged (a single seed gives a plain model)."""
    import dataclasses

    members = []
    for seed in seeds:
        if log and len(seeds) > 1:
            log(f"seed {seed}")
        if isinstance(cfg, TcnConfig):
            members.append(train_tcn(data, dataclasses.replace(cfg, seed=seed), log))
        else:
            members.append(train_model(data, dataclasses.replace(cfg, seed=seed), log))
    if len(members) == 1:
        return members[0]
    info = {k: v for k, v in members[0].info.items() if k != "seed"}
    return StepModel.ensemble(members, {**info, "seeds": list(seeds)})


def fold_model_path(folder: Path, individual: int) -> Path:
    return folder / f"step_cnn_without_{individual}.npz"


__all__ = ["TrainConfig", "TcnConfig", "Labelled", "load_labelled", "train_model", "train_tcn", "train_ensemble",
           "decoder_config", "individual_of", "fold_model_path", "WINDOW", "LOOKAHEAD", "SEEDS", "TCN_SEEDS"]
