"""IMU CSV loading: validation messages and safe resampling, on small files written by the tests."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from repsense.errors import InputError
from repsense.imu.recording import CHANNELS, load_csv

HEADER = [f"Device: {c}" for c in CHANNELS] + ["exerciseType", "exerciseSubType", "timeStampSaved"]


def write_csv(path: Path, t_ms: np.ndarray, values: np.ndarray, header: list[str] | None = None,
              stamp_fmt: str = "date") -> Path:
    header = header or HEADER
    lines = [",".join(header)]
    for t, row in zip(t_ms, values):
        cells = ["" if math.isnan(v) else f"{v:.4f}" for v in row]
        if stamp_fmt == "date":
            sec, ms = divmod(int(t), 1000)
            stamp = f"2017-04-22 15:{sec // 60 % 60:02d}:{sec % 60:02d}:{ms:03d}"
        else:
            stamp = str(int(t))
        lines.append(",".join(cells[:len(header) - 3] + ["Break", "Break", stamp]))
    path.write_text("\n".join(lines) + "\n")
    return path


def signal(t_ms: np.ndarray) -> np.ndarray:
    """12 smooth channels; channel c is sin(2 pi f_c t) so resampling errors are measurable."""
    t = t_ms / 1000.0
    return np.stack([np.sin(2 * np.pi * (0.2 + 0.05 * c) * t) for c in range(12)], axis=1)


def test_regular_10hz_file_is_read_as_is(tmp_path: Path) -> None:
    t = np.arange(0, 20_000, 100)
    rec = load_csv(write_csv(tmp_path / "a.csv", t, signal(t)))
    assert len(rec) == len(t)
    assert rec.valid.all()
    np.testing.assert_allclose(rec.samples, signal(t), atol=1e-4)
    assert rec.source_rate_hz == pytest.approx(10.0)
    assert set(rec.exercise) == {"break"}


def test_jittered_timestamps_land_on_the_grid(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    t = np.cumsum(rng.uniform(70, 130, 300)).round()
    rec = load_csv(write_csv(tmp_path / "j.csv", t, signal(t), stamp_fmt="ms"))
    assert np.all(np.diff(rec.timestamp_ms) == 100)
    np.testing.assert_allclose(rec.samples, signal(rec.timestamp_ms.astype(float)), atol=0.05)


def test_faster_source_is_averaged_down_to_10hz(tmp_path: Path) -> None:
    t = np.arange(0, 30_000, 20)  # 50 Hz
    rec = load_csv(write_csv(tmp_path / "fast.csv", t, signal(t), stamp_fmt="ms"))
    assert rec.source_rate_hz == pytest.approx(50.0)
    assert len(rec) == pytest.approx(300, abs=1)
    inner = slice(1, -1)  # the edge bins hold only half a bin of samples
    np.testing.assert_allclose(rec.samples[inner], signal(rec.timestamp_ms[inner].astype(float)), atol=0.02)


def test_slower_source_is_refused(tmp_path: Path) -> None:
    t = np.arange(0, 30_000, 250)  # 4 Hz
    with pytest.raises(InputError, match=r"4\.0 Hz.*record at 10 Hz"):
        load_csv(write_csv(tmp_path / "slow.csv", t, signal(t), stamp_fmt="ms"))


def test_short_gap_and_nan_rows_are_interpolated(tmp_path: Path) -> None:
    t = np.arange(0, 20_000, 100)
    v = signal(t)
    v[50:54] = np.nan                   # 0.4 s of NaN
    keep = np.ones(len(t), bool)
    keep[100:106] = False               # 0.6 s of missing rows
    rec = load_csv(write_csv(tmp_path / "g.csv", t[keep], v[keep]))
    assert len(rec) == len(t)
    assert not rec.valid[50:54].any() and not rec.valid[100:106].any()
    assert rec.valid.sum() == len(t) - 10
    np.testing.assert_allclose(rec.samples[rec.valid], signal(t)[rec.valid], atol=1e-4)
    for a, b in ((49, 54), (99, 106)):  # filled steps lie on the line between their neighbours
        w = (np.arange(a + 1, b) - a) / (b - a)
        line = v[a] + w[:, None] * (signal(t)[b] - v[a])
        np.testing.assert_allclose(rec.samples[a + 1:b], line, atol=1e-3)


def test_leading_empty_row_is_dropped(tmp_path: Path) -> None:
    t = np.arange(0, 5_000, 100)
    v = signal(t)
    v[0] = np.nan                      # the Exermote files start like this
    rec = load_csv(write_csv(tmp_path / "lead.csv", t, v))
    assert len(rec) == len(t) - 1 and rec.valid.all()


@pytest.mark.parametrize("make, message", [
    (lambda t, v: (t, v, HEADER[:3] + HEADER[4:]), r"missing sensor column\(s\) Device: xAcceleration"),
    (lambda t, v: (t, v, [h if h != "timeStampSaved" else "when" for h in HEADER]), r"no timestamp column"),
    (lambda t, v: (np.concatenate([t[:100], t[100:] + 5000]), v, None), r"5\.1 s without valid samples after 9\.9 s"),
    (lambda t, v: (t, np.where(np.arange(len(t))[:, None] // 20 == 3, np.nan, v), None),
     r"2\.1 s without valid samples"),
    (lambda t, v: (t[::-1], v, None), r"timestamps go backwards"),
])
def test_bad_files_say_what_is_wrong(tmp_path: Path, make, message) -> None:
    t = np.arange(0, 20_000, 100)
    t2, v2, header = make(t, signal(t))
    path = write_csv(tmp_path / "bad.csv", t2, v2, header=header)
    with pytest.raises(InputError, match=message):
        load_csv(path)


def test_non_numeric_value_names_line_and_column(tmp_path: Path) -> None:
    t = np.arange(0, 2_000, 100)
    path = write_csv(tmp_path / "txt.csv", t, signal(t))
    lines = path.read_text().splitlines()
    cells = lines[5].split(",")
    cells[4] = "fast"
    lines[5] = ",".join(cells)
    path.write_text("\n".join(lines))
    with pytest.raises(InputError, match=r"line 6: 'Device: yAcceleration' is 'fast'"):
        load_csv(path)


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_csv(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        load_csv(tmp_path / "empty.csv")
    (tmp_path / "head.csv").write_text(",".join(HEADER) + "\n")
    with pytest.raises(InputError, match="no samples"):
        load_csv(tmp_path / "head.csv")
