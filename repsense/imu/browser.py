"""Browser motion events -> the model's samples: units, frames and the 10 Hz grid.

A page reads the phone's sensors through the W3C DeviceMotion and DeviceOrientation events
(https://www.w3.org/TR/orientation-event/) and sends them raw (docs/web.md, ``motion``); this
module turns them into the 12 channels the step model was trained on (``recording.CHANNELS``: the
Exermote recordings, made with iOS Core Motion at 10 Hz). It runs on the server, not in the page,
so there is one implementation, next to the channel definitions and tested against the recordings
in Python; the page stays a thin sensor reader, and the raw values reach the server unchanged.

Both platforms use the same device axes (x to the right of the screen, y up the screen, z out of
the screen); they differ in units, sign and angle ranges:

- ``accelerationIncludingGravity`` (m/s²) is the *reaction* to gravity plus the acceleration:
  a phone lying flat screen-up reads z = +9.81. Core Motion's ``gravity`` points down, (0, 0, -1) g
  for the same phone, and ``userAcceleration`` is in g with the same sign as ``acceleration``
  negated: ``accelerationIncludingGravity = -G (gravity + userAcceleration)`` and
  ``acceleration = -G userAcceleration``. So ``userAcceleration = -acceleration / G`` and
  ``gravity = (acceleration - accelerationIncludingGravity) / G``.
- ``rotationRate`` is in °/s with ``alpha`` about z, ``beta`` about x, ``gamma`` about y; Core
  Motion's ``rotationRate`` is rad/s in x, y, z order.
- DeviceOrientation ``alpha, beta, gamma`` (°) and Core Motion ``yaw, pitch, roll`` (rad) are the
  same intrinsic Z-X'-Y'' rotation, decomposed with different ranges: the browser keeps
  ``gamma`` (about y) in [-90, 90) and lets ``beta`` run over ±180; Core Motion keeps ``pitch``
  (about x) in [-90, 90] and lets ``roll`` run over ±180. Where |beta| > 90 the same attitude is
  ``pitch = ±180 - beta, roll = gamma + 180, yaw = alpha + 180`` (all wrapped to ±180).

Where the browser gives no ``acceleration`` (some Android phones have no linear-acceleration
sensor) gravity comes from the orientation angles, and without those from a 0.5 s low-pass of
``accelerationIncludingGravity``. Without orientation events the attitude is made from gravity
(yaw 0: the model uses none of the three angles, see features.py). Without ``rotationRate`` (no
gyroscope) the sample has no rotation values and the tracker drops it: counting needs a gyroscope.

Resampling: the events come at 50-100 Hz with jitter; :class:`MotionResampler` averages them into
100 ms steps on a grid anchored at the first event (vectors by the mean, angles by the circular
mean) and gives one model sample per step, timed at its centre, when a later step begins. A step
without events is not made up here; the tracker fills short gaps and ends the run on long ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from repsense.errors import InputError
from repsense.imu.recording import N_CHANNELS, STEP_MS

G = 9.80665  # standard gravity, m/s² per g (what the browsers use)
# One raw row as the page sends it (docs/web.md): time (ms), acceleration xyz (m/s², null if
# absent), accelerationIncludingGravity xyz (m/s²), rotationRate alpha/beta/gamma (°/s),
# orientation alpha/beta/gamma (°, null if no orientation event came yet).
RAW_FIELDS: tuple[str, ...] = ("t", "ax", "ay", "az", "gx", "gy", "gz",
                               "rate_alpha", "rate_beta", "rate_gamma", "alpha", "beta", "gamma")
N_RAW = len(RAW_FIELDS)
GRAVITY_TAU_MS = 500.0  # low-pass time constant of the gravity estimate without `acceleration`
ANGLES = (6, 7, 8)      # pitch, roll, yaw among the model's channels
WRAPPED = (7, 8)        # roll and yaw run over ±180°, averaged on the circle


def _wrap(rad: float) -> float:
    """An angle in (-pi, pi]."""
    w = math.remainder(rad, 2 * math.pi)
    return math.pi if w == -math.pi else w


def attitude_from_orientation(alpha: float, beta: float, gamma: float) -> tuple[float, float, float]:
    """DeviceOrientation angles (°) -> Core Motion (pitch, roll, yaw) in radians."""
    a, b, g = math.radians(alpha), math.radians(beta), math.radians(gamma)
    if abs(b) > math.pi / 2:   # the other decomposition of the same rotation
        b = math.copysign(math.pi, b) - b
        g += math.pi
        a += math.pi
    return _wrap(b), _wrap(g), _wrap(a)


def gravity_from_attitude(pitch: float, roll: float) -> tuple[float, float, float]:
    """The unit gravity vector (g, pointing down) in the device frame for an attitude (rad)."""
    return (math.sin(roll) * math.cos(pitch), -math.sin(pitch), -math.cos(roll) * math.cos(pitch))


def attitude_from_gravity(gx: float, gy: float, gz: float) -> tuple[float, float]:
    """(pitch, roll) in radians of a gravity vector (the inverse of gravity_from_attitude)."""
    n = math.sqrt(gx * gx + gy * gy + gz * gz) or 1.0
    return math.asin(max(-1.0, min(1.0, -gy / n))), math.atan2(gx, -gz)


def _num(v: object) -> float:
    if v is None:
        return math.nan
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise InputError("motion values must be numbers or null")
    return float(v)


def parse_rows(rows: object, limit: int) -> list[list[float]]:
    """The ``samples`` of a ``motion`` message: a list of rows of ``N_RAW`` numbers (null where a
    value is missing, never the time). InputError says what is wrong."""
    if not isinstance(rows, list) or not rows:
        raise InputError("motion needs a non-empty list 'samples'")
    if len(rows) > limit:
        raise InputError(f"at most {limit} samples in one motion message")
    out = []
    for row in rows:
        if not isinstance(row, list) or len(row) != N_RAW:
            raise InputError(f"each motion sample is a list of {N_RAW} values: {', '.join(RAW_FIELDS)}")
        vals = [_num(v) for v in row]
        if not math.isfinite(vals[0]):
            raise InputError("each motion sample needs a finite time 't' (ms)")
        out.append(vals)
    return out


class MotionResampler:
    """Raw browser rows (``RAW_FIELDS``) in, model samples (``(12,)``, 10 Hz grid) out."""

    def __init__(self) -> None:
        self._origin: float | None = None
        self._bin: int | None = None
        self._rows: list[np.ndarray] = []
        self._gravity: np.ndarray | None = None    # low-passed, for phones without `acceleration`
        self._gravity_t: float | None = None
        self._last_t: float | None = None
        self.events = 0        # raw rows taken
        self.dropped = 0       # rows not later than the one before

    def channels(self, row: Sequence[float]) -> np.ndarray:
        """One raw row -> the 12 model channels (NaN where nothing gives a value)."""
        t = row[0]
        acc = np.array(row[1:4], dtype=np.float64)
        incl = np.array(row[4:7], dtype=np.float64)
        rate = row[7:10]
        orient = row[10:13]
        total = -incl / G                    # gravity + userAcceleration, in g
        has_orient = all(math.isfinite(v) for v in orient)
        if has_orient:
            pitch, roll, yaw = attitude_from_orientation(*orient)
        if np.isfinite(acc).all():
            user = -acc / G
            gravity = total - user
        elif has_orient:
            gravity = np.array(gravity_from_attitude(pitch, roll))
            user = total - gravity
        else:                                # low-pass of the total
            if self._gravity is None or self._gravity_t is None \
                    or not np.isfinite(self._gravity).all():
                self._gravity = total.copy()
            else:
                k = 1.0 - math.exp(-max(t - self._gravity_t, 0.0) / GRAVITY_TAU_MS)
                self._gravity = self._gravity + k * (total - self._gravity)
            self._gravity_t = t
            gravity = self._gravity.copy()
            user = total - gravity
        if not has_orient:
            pitch, roll = attitude_from_gravity(*gravity) if np.isfinite(gravity).all() \
                else (math.nan, math.nan)
            yaw = 0.0
        rot = np.radians([rate[1], rate[2], rate[0]])   # beta: x, gamma: y, alpha: z
        return np.concatenate([gravity, user, [pitch, roll, yaw], rot])

    def push(self, row: Sequence[float]) -> list[tuple[np.ndarray, int]]:
        """Take one raw row (time order; an earlier or repeated time is dropped); return the
        model samples of the steps it closed, as ``(sample, timestamp_ms)``."""
        t = float(row[0])
        if self._last_t is not None and t <= self._last_t:
            self.dropped += 1
            return []
        x = self.channels(row)
        self._last_t = t
        self.events += 1
        if self._origin is None:
            self._origin = t
        b = int(math.floor((t - self._origin) / STEP_MS + 0.5))
        out = []
        if self._bin is not None and b != self._bin:
            out = self.flush()
        self._bin = b
        self._rows.append(x)
        return out

    def flush(self) -> list[tuple[np.ndarray, int]]:
        """The sample of the step being filled, if any (end of the stream)."""
        if self._bin is None or not self._rows:
            return []
        rows = np.stack(self._rows)
        with np.errstate(invalid="ignore"):
            sample = rows.mean(axis=0)
        for i in WRAPPED:
            sample[i] = math.atan2(np.sin(rows[:, i]).mean(), np.cos(rows[:, i]).mean())
        assert self._origin is not None
        t = int(round(self._origin + self._bin * STEP_MS))
        self._rows = []
        self._bin = None
        return [(sample, t)]


def events_from_sample(sample: Sequence[float]) -> dict[str, dict[str, float]]:
    """A model sample (12 channels) as the browser would report it: the inverse of
    ``MotionResampler.channels``, for replaying recordings as DeviceMotion/DeviceOrientation
    events. Keys: acceleration, accelerationIncludingGravity, rotationRate (°/s), orientation (°)."""
    s = np.asarray(sample, dtype=np.float64)
    if s.shape != (N_CHANNELS,):
        raise ValueError(f"a sample is {N_CHANNELS} channels")
    gravity, user = s[0:3], s[3:6]
    pitch, roll, yaw = (math.degrees(v) for v in s[6:9])
    incl = -G * (gravity + user)
    acc = -G * user
    if abs(roll) >= 90:    # the browser keeps gamma in [-90, 90): the other decomposition
        beta = math.copysign(180.0, pitch) - pitch if pitch != 0 else 180.0
        gamma = roll - math.copysign(180.0, roll)
        alpha = yaw + 180.0
    else:
        beta, gamma, alpha = pitch, roll, yaw
    beta = math.remainder(beta, 360.0)
    deg = np.degrees(s[9:12])
    return {
        "acceleration": {"x": acc[0], "y": acc[1], "z": acc[2]},
        "accelerationIncludingGravity": {"x": incl[0], "y": incl[1], "z": incl[2]},
        "rotationRate": {"alpha": deg[2], "beta": deg[0], "gamma": deg[1]},
        "orientation": {"alpha": alpha % 360.0, "beta": beta, "gamma": gamma},
    }


def raw_row(t: float, ev: dict[str, dict[str, float]]) -> list[float]:
    """A browser event pair (``events_from_sample``'s shape) as the page's raw row at time ``t``."""
    a, g, r, o = (ev["acceleration"], ev["accelerationIncludingGravity"], ev["rotationRate"],
                  ev["orientation"])
    return [t, a["x"], a["y"], a["z"], g["x"], g["y"], g["z"], r["alpha"], r["beta"], r["gamma"],
            o["alpha"], o["beta"], o["gamma"]]


__all__ = ["G", "MotionResampler", "N_RAW", "RAW_FIELDS", "attitude_from_gravity",
           "attitude_from_orientation", "events_from_sample", "gravity_from_attitude", "parse_rows",
           "raw_row"]
