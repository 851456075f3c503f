"""Per-step labels from the step model's probabilities by a duration-aware Viterbi (fixed lag).

A workout follows a script: every rep is a first half, then a second half, then a break, and the
script gives each a duration (in the Exermote recordings a burpee's first half lasts 12-19 steps,
a break between reps at least 8). The decoder is a hidden semi-Markov model over the 7 step
classes with these durations — break -> first half -> second half -> break, any exercise after a
break, each half between its shortest and longest duration seen in the training labels (widened by
``slack`` steps), a break at least as long as the shortest one — and the step model's
log-probabilities as emissions. A label must agree with a whole plausible rep around it, which
mends most single steps the classifier gets wrong at the edges of a rep.

It runs on a stream with a fixed lag: the label of step ``t`` is read off the best path ending at
step ``t + lag`` (at the end of a stream, the best path ending at the last step). ``decode``
gives the same labels for a whole sequence at once.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from repsense.imu.features import N_CLASSES

_NEG = -1e30
UNSEEN_MAX = 600  # longest run of a class that the training labels never showed whole
# Class segments that may precede each one: break <- any second half; first half <- break;
# second half <- its first half.
_PREDECESSORS: dict[int, tuple[int, ...]] = {0: (2, 4, 6), 1: (0,), 3: (0,), 5: (0,), 2: (1,), 4: (3,), 6: (5,)}


@dataclass(frozen=True)
class DecoderConfig:
    """``durations[c] = (shortest, longest)`` run of class ``c`` in steps (``longest`` unused for
    break, which may last forever)."""

    durations: tuple[tuple[int, int], ...]
    slack: int = 1
    lag: int = 20
    break_scale: float = 1.0  # multiplies the break probability before decoding (< 1 favours reps)

    @classmethod
    def from_labels(cls, label_runs: list[np.ndarray], **kw: Any) -> "DecoderConfig":
        """Durations from labelled sequences (class per step); the first and last run of each
        sequence are cut off by the recording and ignored."""
        lo = [10 ** 9] * N_CLASSES
        hi = [0] * N_CLASSES
        for y in label_runs:
            y = np.asarray(y)
            edges = np.flatnonzero(np.diff(y) != 0) + 1
            starts = np.concatenate([[0], edges])
            ends = np.concatenate([edges, [len(y)]])
            for s, e in list(zip(starts, ends))[1:-1]:
                c = int(y[s])
                lo[c], hi[c] = min(lo[c], int(e - s)), max(hi[c], int(e - s))
        if hi[0] == 0:
            raise ValueError("the labels need at least one complete break to learn its duration")
        # a class never seen whole is left unconstrained
        return cls(durations=tuple((l, h) if h else (1, UNSEEN_MAX) for l, h in zip(lo, hi)), **kw)

    def to_dict(self) -> dict[str, Any]:
        return {"durations": [list(d) for d in self.durations], "slack": self.slack, "lag": self.lag,
                "break_scale": self.break_scale}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "DecoderConfig":
        return cls(durations=tuple((int(a), int(b)) for a, b in d["durations"]), slack=int(d["slack"]),
                   lag=int(d["lag"]), break_scale=float(d["break_scale"]))


class StepDecoder:
    """Streaming decoder: ``update(probs)`` per step returns the labels that became final."""

    def __init__(self, config: DecoderConfig) -> None:
        self.config = config
        starts, sizes, exits = [], [], []
        n = 0
        for c, (lo, hi) in enumerate(config.durations):
            lo = max(1, lo - config.slack)
            size = lo if c == 0 else max(lo, hi + config.slack)
            starts.append(n)
            sizes.append(size)
            # the states a segment may be left from: after at least `lo` steps
            exits.append((n + size - 1, n + size) if c == 0 else (n + lo - 1, n + size))
            n += size
        self._starts, self._exits = starts, exits
        self._break_last = starts[0] + sizes[0] - 1
        self.state_class = np.concatenate([np.full(s, c) for c, s in enumerate(sizes)]).astype(np.int64)
        self._first = np.zeros(n, dtype=bool)
        self._first[starts] = True
        self.n_states = n
        self.reset()

    def reset(self) -> None:
        self._delta: np.ndarray | None = None
        self._back: deque[np.ndarray] = deque()  # back pointers of the steps not yet final

    def _emissions(self, probs: np.ndarray) -> np.ndarray:
        p = np.asarray(probs, dtype=np.float64).copy()
        p[0] *= self.config.break_scale
        return np.log(p + 1e-6)[self.state_class]

    def update(self, probs: np.ndarray) -> list[int]:
        em = self._emissions(probs)
        if self._delta is None:
            delta = np.full(self.n_states, _NEG)
            delta[self._break_last] = 0.0          # a recording starts in a break or a first half
            for c in (1, 3, 5):
                delta[self._starts[c]] = 0.0
            self._delta = delta + em
            self._back.append(np.arange(self.n_states))
        else:
            old = self._delta
            new = np.empty_like(old)
            back = np.arange(-1, self.n_states - 1)
            new[1:] = old[:-1]                      # one more step in the same segment
            best = []
            for a, b in self._exits:
                k = a + int(np.argmax(old[a:b]))
                best.append((old[k], k))
            for c, preds in _PREDECESSORS.items():  # entering segment c from the best exit
                v, k = max((best[q] for q in preds), key=lambda t: t[0])
                new[self._starts[c]], back[self._starts[c]] = v, k
            bl = self._break_last
            if old[bl] > new[bl]:
                new[bl], back[bl] = old[bl], bl     # a break goes on
            new += em
            self._delta = new - new.max()
            self._back.append(back)
        if len(self._back) > self.config.lag:
            return [self._trace(self.config.lag)[0]]
        return []

    def _trace(self, steps: int) -> list[int]:
        """Classes of the oldest ``steps + 1`` pending steps along the best path; drops the oldest."""
        assert self._delta is not None
        s = int(np.argmax(self._delta))
        path = [s]
        for back in list(self._back)[:0:-1][:steps]:
            s = int(back[s])
            path.append(s)
        self._back.popleft()
        return [int(self.state_class[s]) for s in path[::-1]]

    def flush(self) -> list[int]:
        """The labels of the steps still pending, from the best path ending at the last step."""
        if self._delta is None or not self._back:
            self.reset()
            return []
        n = len(self._back)
        out = self._trace(n - 1)
        self.reset()
        return out


def decode(probs: np.ndarray, config: DecoderConfig) -> np.ndarray:
    """Labels for a whole sequence of step probabilities ``(T, N_CLASSES)`` -> ``(T,)``, the same
    as streaming it through ``StepDecoder``."""
    dec = StepDecoder(config)
    out: list[int] = []
    for p in probs:
        out += dec.update(p)
    out += dec.flush()
    return np.asarray(out, dtype=np.int64)


__all__ = ["DecoderConfig", "StepDecoder", "decode"]
