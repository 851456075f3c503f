"""The IMU path on the real Exermote recordings: leave-one-individual-out figures, breaks, the CLI.

The thresholds are the measured figures less a small margin (docs/imu.md), so they fail when
accuracy drops. Each individual is scored by the shipped fold model trained without them.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from repsense.engine.events import ExerciseDetected, RepCompleted, SessionEnded, SetCompleted
from repsense.imu.analysis import analyze_file, run_recording
from repsense.imu.model import StepModel
from repsense.imu.recording import ImuRecording, load_csv
from repsense.imu.scoring import evaluate
from repsense.imu.tracker import ImuTracker
from repsense.imu.training import fold_model_path, individual_of

EXERMOTE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "exermote"
FOLDS = Path(__file__).resolve().parents[1] / "repsense" / "imu" / "folds"
REPO = Path(__file__).resolve().parents[1]

# Measured leave-one-individual-out with the shipped 3-seed ensembles and the step decoder
# (docs/imu.md: 0.9509, 0.9437, 93.8% of 161 sets, 0.034; 0.9429 undecoded), less a small
# margin. The targets are 0.96 and 90%: the step accuracy is not there yet.
MIN_STEP_ACCURACY = 0.945
MIN_MACRO_F1 = 0.937
MIN_UNDECODED_STEP_ACCURACY = 0.937
MIN_WITHIN_ONE = 0.92
MAX_NMAE = 0.04
MIN_INDIVIDUAL_STEP_ACCURACY = 0.92  # worst: individual 3, 0.9281


def exermote_files() -> list[Path]:
    files = sorted(EXERMOTE.glob("*.csv"))
    if not files:
        if os.environ.get("CI"):
            pytest.fail(f"IMU test data missing under CI: {EXERMOTE} has no .csv recordings")
        pytest.skip(f"IMU test data not found at {EXERMOTE}")
    return files


@pytest.fixture(scope="module")
def loio():
    files = exermote_files()
    models = {k: StepModel.load(fold_model_path(FOLDS, k)) for k in (1, 2, 3, 4)}
    items = []
    for f in files:
        k = individual_of(f)
        items.append((f"individual {k}", load_csv(f), models[k]))
    return evaluate(items)


def test_leave_one_individual_out_step_accuracy(loio) -> None:
    assert loio.step_accuracy >= MIN_STEP_ACCURACY
    assert loio.step_macro_f1 >= MIN_MACRO_F1
    # the networks alone (most probable class per step), and what the decoder adds
    assert loio.undecoded_step_accuracy >= MIN_UNDECODED_STEP_ACCURACY
    assert loio.step_accuracy > loio.undecoded_step_accuracy + 0.004
    # with rep edges allowed a step early or late (measured 0.9711 / 0.9822 at 1 / 2 steps)
    assert loio.step_accuracy < loio.tolerant_step_accuracy[1] < loio.tolerant_step_accuracy[2]
    assert loio.tolerant_step_accuracy[1] >= 0.965


def test_fold_models_are_seed_ensembles_with_a_decoder() -> None:
    for k in (1, 2, 3, 4):
        model = StepModel.load(fold_model_path(FOLDS, k))
        assert len(model.members) == 3 and model.decoder() is not None
        assert k not in model.info["individuals"]


def test_leave_one_individual_out_rep_counts(loio) -> None:
    assert loio.counts["sets"] >= 100
    assert loio.counts["within_one"] >= MIN_WITHIN_ONE
    assert loio.counts["nmae"] <= MAX_NMAE


def test_every_individual_is_recognised(loio) -> None:
    for group, m in loio.per_group.items():
        assert m["step_accuracy"] >= MIN_INDIVIDUAL_STEP_ACCURACY, group


def _only(rec: ImuRecording, labels: list[str]) -> ImuRecording:
    """The steps with these labels, end to end on one continuous 10 Hz clock."""
    assert rec.exercise is not None
    keep = np.isin(rec.exercise, labels)
    t = rec.timestamp_ms[0] + 100 * np.arange(int(keep.sum()), dtype=np.int64)
    return ImuRecording(rec.path, rec.samples[keep], t, rec.valid[keep], 10.0)


def _fold_model(path: Path) -> StepModel:
    return StepModel.load(fold_model_path(FOLDS, individual_of(path)))


def test_standing_before_the_first_set_gives_no_reps() -> None:
    """The 15-20 s of standing at the start of every recording, seen by a model that never saw
    this person: no rep, and a SessionEnded with 0."""
    for f in exermote_files():
        rec = load_csv(f)
        first = int(np.flatnonzero(rec.exercise != "set_break")[0])
        part = ImuRecording(rec.path, rec.samples[:first], rec.timestamp_ms[:first], rec.valid[:first], 10.0)
        assert len(part) >= 100
        events = run_recording(part, _fold_model(f))
        assert [e for e in events if isinstance(e, RepCompleted)] == [], f.name
        assert isinstance(events[-1], SessionEnded) and events[-1].total_reps == 0


def test_breaks_only_files_give_almost_no_reps() -> None:
    """Every set break of every recording (56 min of resting, walking about, lying down for
    sit-ups) as one file per recording: measured 3 false reps in 3 of 30 files."""
    false_reps = files_with_reps = 0
    minutes = 0.0
    for f in exermote_files():
        rec = _only(load_csv(f), ["set_break"])
        minutes += len(rec) / 600
        n = sum(isinstance(e, RepCompleted) for e in run_recording(rec, _fold_model(f)))
        false_reps += n
        files_with_reps += n > 0
    assert minutes > 50
    assert false_reps <= 5 and files_with_reps <= 4


def test_streaming_one_sample_at_a_time_equals_the_replay() -> None:
    rec = load_csv(exermote_files()[3])
    n = 900
    batch = run_recording(ImuRecording(rec.path, rec.samples[:n], rec.timestamp_ms[:n], rec.valid[:n], 10.0))
    tracker = ImuTracker()
    single = []
    for row, t in zip(rec.samples[:n], rec.timestamp_ms[:n]):
        single += tracker.update(row, int(t))
    single += tracker.finish(int(rec.timestamp_ms[n - 1]))
    assert [e.to_dict() for e in single if not isinstance(e, RepCompleted)] == \
        [e.to_dict() for e in batch if not isinstance(e, RepCompleted)]
    a = [(e.exercise, e.count, e.start_ms, e.end_ms) for e in single if isinstance(e, RepCompleted)]
    b = [(e.exercise, e.count, e.start_ms, e.end_ms) for e in batch if isinstance(e, RepCompleted)]
    assert a == b and len(a) >= 5


def test_stream_with_dropouts_and_jitter_still_counts() -> None:
    """Real samples with +-30 ms jitter, 0.5 s dropouts and a 3 s outage."""
    rec = load_csv(exermote_files()[5])
    rng = np.random.default_rng(0)
    t = rec.timestamp_ms + rng.integers(-30, 31, len(rec))
    keep = np.ones(len(rec), bool)
    for s in rng.choice(len(rec) - 10, 20, replace=False):
        keep[s:s + 5] = False
    t[1500:] += 3000
    clean = [e for e in run_recording(rec) if isinstance(e, RepCompleted)]
    tracker = ImuTracker()
    events = tracker.update_many(rec.samples[keep], t[keep]) + tracker.finish()
    reps = [e for e in events if isinstance(e, RepCompleted)]
    assert any(e.type == "PersonLost" for e in events)
    assert abs(len(reps) - len(clean)) <= 2


def test_analyze_report_shape() -> None:
    f = exermote_files()[0]
    result = analyze_file(f)
    doc = result.to_dict()
    assert doc["path"] == str(f) and doc["fps"] == 10.0 and doc["frames"] == len(result.recording)
    assert doc["person_frames"] <= doc["frames"]
    names = {ex["name"] for ex in doc["exercises"]}
    assert names <= {"burpee", "squat", "sit_up"} and names
    assert doc["total_reps"] == sum(ex["reps"] for ex in doc["exercises"]) == \
        sum(1 for e in result.events if isinstance(e, RepCompleted))
    rep = doc["exercises"][0]["reps_detail"][0]
    assert rep["rom_deg"] is None and 0 <= rep["start_s"] < rep["end_s"] < doc["frames"] / 10
    assert sum(s["reps"] for s in doc["timeline"]) == doc["total_reps"]
    assert len([e for e in result.events if isinstance(e, ExerciseDetected)]) == \
        len([e for e in result.events if isinstance(e, SetCompleted)])
    json.dumps(doc, allow_nan=False)


def test_cli_analyze_json_to_stdout_is_json_only(tmp_path: Path) -> None:
    f = exermote_files()[1]
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    proc = subprocess.run([sys.executable, "-m", "repsense.imu", "analyze", str(f), str(bad), "--json", "-"],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    good, failed = doc["inputs"]
    assert good["total_reps"] > 0 and good["error"] is None
    assert "missing sensor column" in failed["error"]
    assert "missing sensor column" in proc.stderr and "Traceback" not in proc.stderr
    assert f"{f}" in proc.stderr  # the readable report goes to stderr with --json -


def test_nan_rom_is_documented_as_nan() -> None:
    rec = load_csv(exermote_files()[2])
    reps = [e for e in run_recording(rec) if isinstance(e, RepCompleted)]
    assert reps and all(math.isnan(e.rom_deg) for e in reps)
