"""``imu train`` end to end on two real recordings, a few iterations: the torch networks (the
shipped TCN, two seeds; the earlier window CNN, one epoch) are exported to the numpy runtime (the
trainers check numpy against torch) and the CLI writes loadable models with their step decoder
settings."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from repsense.cli.imu import main
from repsense.imu.model import StepModel

EXERMOTE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "exermote"
FILES = ("2017-04-28_08-35-55_Individual_3.csv", "2017-04-28_10-48-31_Individual_4.csv")


def test_train_writes_numpy_models(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    if not all((EXERMOTE / f).is_file() for f in FILES):
        if os.environ.get("CI"):
            pytest.fail(f"IMU test data missing under CI: {EXERMOTE}")
        pytest.skip(f"IMU test data not found at {EXERMOTE}")
    data = tmp_path / "data"
    data.mkdir()
    for f in FILES:
        shutil.copy(EXERMOTE / f, data / f)
    out = tmp_path / "model.npz"
    assert main(["train", "--data", str(data), "--out", str(out), "--iterations", "5", "--folds",
                 "--folds-dir", str(tmp_path / "folds"), "--seeds", "0,1"]) == 0
    model = StepModel.load(out)
    assert model.info["individuals"] == [3, 4] and model.info["iterations"] == 5 and model.info["seeds"] == [0, 1]
    assert [m.info["seed"] for m in model.members] == [0, 1] and all(m.is_tcn for m in model.members)
    decoder = model.decoder()
    assert decoder is not None and decoder.durations[0][0] >= 5  # rep durations learned from the labels
    assert sorted(p.name for p in (tmp_path / "folds").iterdir()) == \
        ["step_cnn_without_3.npz", "step_cnn_without_4.npz"]
    probs = model.predict_proba(np.zeros((2, model.length, 13), dtype=np.float32))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert main(["evaluate", "--data", str(data), "--loio", "--folds-dir", str(tmp_path / "folds")]) == 0

    cnn = tmp_path / "cnn.npz"
    assert main(["train", "--data", str(data), "--out", str(cnn), "--arch", "cnn", "--epochs", "1",
                 "--seeds", "0"]) == 0
    model = StepModel.load(cnn)
    assert not model.is_tcn and model.info["epochs"] == 1 and model.length == 60


def test_train_without_recordings_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "--data", str(tmp_path), "--out", str(tmp_path / "m.npz")]) == 2
    assert "no .csv recordings found" in capsys.readouterr().err
