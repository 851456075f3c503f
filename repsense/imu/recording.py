"""IMU recordings: load and validate a CSV of phone motion samples, put them on a 10 Hz grid.

The format is the Exermote one: 12 ``Device:`` channels (gravity xyz, user acceleration xyz,
pitch, roll, yaw, rotation rate xyz), a timestamp column, and optional label columns
(``exerciseType``, ``exerciseSubType``) used only for scoring.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from repsense.errors import InputError

CHANNELS: tuple[str, ...] = (
    "xGravity", "yGravity", "zGravity",
    "xAcceleration", "yAcceleration", "zAcceleration",
    "pitch", "roll", "yaw",
    "xRotationRate", "yRotationRate", "zRotationRate",
)
N_CHANNELS = len(CHANNELS)
SAMPLE_RATE_HZ = 10.0
STEP_MS = 100
# Gaps and NaN runs up to this long are filled by linear interpolation; longer ones are refused.
MAX_FILL_MS = 1000
# Rates within this ratio of 10 Hz are taken as 10 Hz jitter (the phone's timer wanders by ~20%).
RATE_TOLERANCE = 0.15
# Below this rate a 10 Hz grid would invent motion that was never measured.
MIN_RATE_HZ = 8.0

TIMESTAMP_COLUMNS = ("timestamp_ms", "timeStampSaved", "timestamp")

# Label vocabulary of the Exermote recordings -> repsense names.
EXERCISE_NAMES = {"Burpee": "burpee", "Squat": "squat", "Situp": "sit_up"}
BREAK_TYPES = ("Break", "setBreak")


@dataclass(frozen=True)
class ImuRecording:
    """Samples on a regular 10 Hz grid.

    ``samples`` is float32 ``(T, 12)`` in ``CHANNELS`` order, ``timestamp_ms`` int64 ``(T,)`` from
    the source clock. ``exercise``/``phase`` are per-step label strings when the file has them
    (``exercise`` in ``burpee``, ``squat``, ``sit_up``, ``break``, ``set_break``; ``phase`` in
    ``first``, ``second``, ``none``), else None. ``valid`` marks the steps that were measured
    rather than filled in.
    """

    path: str
    samples: np.ndarray
    timestamp_ms: np.ndarray
    valid: np.ndarray
    source_rate_hz: float
    exercise: np.ndarray | None = None
    phase: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.samples.shape[0])


def parse_timestamp_ms(text: str) -> float:
    """Milliseconds from a timestamp cell: a number (ms) or ``YYYY-MM-DD HH:MM:SS:fff``."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    for fmt in ("%Y-%m-%d %H:%M:%S:%f", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f",
                "%Y-%m-%d %H:%M:%S"):
        try:
            return round(datetime.strptime(text, fmt).timestamp() * 1000.0, 3)
        except ValueError:
            continue
    raise ValueError(text)


def _column_index(header: list[str]) -> tuple[list[int], int]:
    norm = [h.strip() for h in header]
    bare = [h.split(":", 1)[1].strip() if h.startswith("Device:") else h for h in norm]
    missing = [c for c in CHANNELS if c not in bare]
    if missing:
        raise InputError(
            f"missing sensor column(s) {', '.join('Device: ' + c for c in missing)}; a recording needs "
            f"the 12 columns {', '.join('Device: ' + c for c in CHANNELS)} and a timestamp column")
    ts = [i for i, h in enumerate(norm) if h in TIMESTAMP_COLUMNS]
    if not ts:
        raise InputError(f"no timestamp column; add one named {' or '.join(TIMESTAMP_COLUMNS)} "
                         "(milliseconds, or 'YYYY-MM-DD HH:MM:SS:fff')")
    return [bare.index(c) for c in CHANNELS], ts[0]


def load_csv(path: str | Path) -> ImuRecording:
    """Read, validate and regularise one recording; raises InputError with what to do."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; give the path of a CSV recording")
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path}: the file is empty; expected a CSV with a header row")
            try:
                cols, ts_col = _column_index(header)
            except InputError as err:
                raise InputError(f"{path}: {err}") from None
            label_cols = {h.strip(): i for i, h in enumerate(header)
                          if h.strip() in ("exerciseType", "exerciseSubType")}
            values: list[list[float]] = []
            stamps: list[float] = []
            types: list[str] = []
            subs: list[str] = []
            for line_no, row in enumerate(reader, start=2):
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) < len(header):
                    raise InputError(f"{path}: line {line_no} has {len(row)} fields, the header has "
                                     f"{len(header)}; fix or remove that line")
                try:
                    stamps.append(parse_timestamp_ms(row[ts_col]))
                except ValueError:
                    raise InputError(f"{path}: line {line_no}: cannot read timestamp {row[ts_col]!r}; "
                                     "use milliseconds or 'YYYY-MM-DD HH:MM:SS:fff'") from None
                vals = []
                for c in cols:
                    cell = row[c].strip()
                    try:
                        vals.append(float(cell) if cell else math.nan)
                    except ValueError:
                        raise InputError(f"{path}: line {line_no}: {header[c].strip()!r} is {cell!r}, "
                                         "not a number; fix the value or leave it empty") from None
                values.append(vals)
                if label_cols:
                    types.append(row[label_cols["exerciseType"]].strip()
                                 if "exerciseType" in label_cols else "")
                    subs.append(row[label_cols["exerciseSubType"]].strip()
                                if "exerciseSubType" in label_cols else "")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text CSV file; expected a CSV recording") from None
    except csv.Error as err:
        raise InputError(f"{path}: not a readable CSV ({err})") from None
    return regularise(str(path), np.asarray(values, dtype=np.float64).reshape(-1, N_CHANNELS),
                      np.asarray(stamps, dtype=np.float64),
                      types if label_cols else None, subs if label_cols else None)


def _label_arrays(types: list[str], subs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    ex = np.array([EXERCISE_NAMES.get(t, "set_break" if t == "setBreak" else "break") for t in types],
                  dtype=object)
    ph = np.array([{"firstHalf": "first", "secondHalf": "second"}.get(s, "none") for s in subs],
                  dtype=object)
    return ex, ph


def regularise(path: str, values: np.ndarray, stamps_ms: np.ndarray,
               types: list[str] | None = None, subs: list[str] | None = None) -> ImuRecording:
    """Validate samples ``(N, 12)`` with timestamps ``(N,)`` and put them on a 10 Hz grid.

    Leading/trailing rows without values are dropped; interior NaN runs and timestamp gaps up to
    MAX_FILL_MS are interpolated; a faster source is averaged down to 10 Hz; anything else is an
    InputError naming the place in the file.
    """
    if values.shape[0] == 0:
        raise InputError(f"{path}: no samples; the file has a header but no data rows")
    finite_row = np.isfinite(values).all(axis=1)
    if not finite_row.any():
        raise InputError(f"{path}: every row has a missing or NaN sensor value; nothing to analyse")
    first, last = np.flatnonzero(finite_row)[[0, -1]]
    values, stamps_ms, finite_row = values[first:last + 1], stamps_ms[first:last + 1], finite_row[first:last + 1]
    if types is not None and subs is not None:
        types, subs = types[first:last + 1], subs[first:last + 1]
    if values.shape[0] < 2:
        raise InputError(f"{path}: only one usable sample; a recording needs at least a few seconds at 10 Hz")
    d = np.diff(stamps_ms)
    if (d <= 0).any():
        i = int(np.flatnonzero(d <= 0)[0])
        raise InputError(f"{path}: timestamps go backwards or repeat at data row {first + i + 2}; "
                         "rows must be in time order with distinct timestamps")
    rate = 1000.0 / float(np.median(d))
    if rate < MIN_RATE_HZ:
        raise InputError(f"{path}: sample rate is {rate:.1f} Hz; the model needs 10 Hz and cannot safely "
                         f"invent samples below {MIN_RATE_HZ:.0f} Hz; record at 10 Hz or faster")
    # Gaps: find them on the measured rows only, so a NaN row does not hide a timestamp gap.
    good_t = stamps_ms[finite_row]
    gaps = np.diff(good_t)
    if (gaps > MAX_FILL_MS).any():
        i = int(np.flatnonzero(gaps > MAX_FILL_MS)[0])
        t0 = (good_t[i] - stamps_ms[0]) / 1000.0
        raise InputError(f"{path}: {gaps[i] / 1000.0:.1f} s without valid samples after {t0:.1f} s "
                         f"(longer than {MAX_FILL_MS / 1000:.0f} s cannot be filled in safely); "
                         "split the recording at that point")
    n_steps = int(np.floor((stamps_ms[-1] - stamps_ms[0]) / STEP_MS + 1e-6)) + 1
    grid = stamps_ms[0] + STEP_MS * np.arange(n_steps, dtype=np.float64)
    good_v = values[finite_row]
    if rate > SAMPLE_RATE_HZ * (1 + RATE_TOLERANCE):
        # Average the samples falling in each 100 ms bin (anti-aliasing), then interpolate the bins.
        # Each bin's mean value sits at the mean time of its samples.
        bins = np.clip(np.floor((good_t - grid[0]) / STEP_MS + 0.5).astype(np.int64), 0, len(grid) - 1)
        counts = np.bincount(bins, minlength=len(grid)).astype(np.float64)
        sums = np.stack([np.bincount(bins, weights=good_v[:, c], minlength=len(grid))
                         for c in range(N_CHANNELS)], axis=1)
        t_sum = np.bincount(bins, weights=good_t, minlength=len(grid))
        has = counts > 0
        good_t, good_v = t_sum[has] / counts[has], sums[has] / counts[has, None]
    out = np.stack([np.interp(grid, good_t, good_v[:, c]) for c in range(N_CHANNELS)], axis=1)
    nearest = np.clip(np.searchsorted(good_t, grid), 0, len(good_t) - 1)
    prev = np.clip(nearest - 1, 0, len(good_t) - 1)
    dist = np.minimum(np.abs(good_t[nearest] - grid), np.abs(good_t[prev] - grid))
    valid = dist <= STEP_MS / 2
    ex = ph = None
    if types is not None and subs is not None:
        ex_all, ph_all = _label_arrays(types, subs)
        idx = np.clip(np.searchsorted(stamps_ms, grid - STEP_MS / 2), 0, len(stamps_ms) - 1)
        ex, ph = ex_all[idx], ph_all[idx]
    return ImuRecording(path=path, samples=out.astype(np.float32),
                        timestamp_ms=np.round(grid).astype(np.int64), valid=valid,
                        source_rate_hz=rate, exercise=ex, phase=ph)


__all__ = ["CHANNELS", "N_CHANNELS", "SAMPLE_RATE_HZ", "STEP_MS", "ImuRecording", "load_csv",
           "regularise", "parse_timestamp_ms"]
