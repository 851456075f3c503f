"""The IMU path on the real Exermote recordings: leave-one-individual-out figures, breaks, the CLI.

The issue's targets are asserted as they are; the other thresholds are the measured figures less a
small margin (docs/imu.md), so they fail when accuracy drops. Each individual is scored by the
shipped fold model trained without them.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from repsense.engine.events import ExerciseDetected, PersonLost, RepCompleted, SessionEnded, SetCompleted
from repsense.imu.analysis import analyze_file, run_recording
from repsense.imu.counter import count_labels
from repsense.imu.features import step_inputs
from repsense.imu.model import StepModel
from repsense.imu.recording import ImuRecording, load_csv
from repsense.imu.scoring import evaluate
from repsense.imu.tracker import ImuTracker
from repsense.imu.training import fold_model_path, individual_of

EXERMOTE = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "exermote"
FOLDS = Path(__file__).resolve().parents[1] / "repsense" / "imu" / "folds"
REPO = Path(__file__).resolve().parents[1]

# The targets (#15), leave-one-individual-out: measured with the shipped TCN, the step
# decoder and the counter of decoded labels (docs/imu.md): 100% of 161 sets named right, 99.4%
# within one rep, 95.7% exact, nMAE 0.008; steps 0.9765 with a one-step tolerance.
MIN_EXERCISE_RIGHT = 0.98
MIN_WITHIN_ONE = 0.97
MIN_STEP_ACCURACY_1 = 0.97
# The other figures, measured less a small margin, so they fail when accuracy drops: 95.7% exact,
# steps 0.9563 exact (0.9504 undecoded), macro-F1 0.9501, worst individual 0.9388 (individual 3),
# 5 reps counted outside every set in the 30 recordings.
MIN_EXACT_SETS = 0.93
MAX_NMAE = 0.015
MIN_STEP_ACCURACY = 0.952
MIN_MACRO_F1 = 0.945
MIN_UNDECODED_STEP_ACCURACY = 0.945
MIN_INDIVIDUAL_STEP_ACCURACY = 0.93
MAX_REPS_OUTSIDE_SETS = 7


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
    # the target: a rep edge may be a step (100 ms) early or late, as people follow the script's
    # metronome with their own lag
    assert loio.tolerant_step_accuracy[1] >= MIN_STEP_ACCURACY_1
    assert loio.step_accuracy < loio.tolerant_step_accuracy[1] < loio.tolerant_step_accuracy[2]
    assert loio.step_accuracy >= MIN_STEP_ACCURACY
    assert loio.step_macro_f1 >= MIN_MACRO_F1
    # the networks alone (most probable class per step), and what the decoder adds
    assert loio.undecoded_step_accuracy >= MIN_UNDECODED_STEP_ACCURACY
    assert loio.step_accuracy > loio.undecoded_step_accuracy + 0.004


def test_fold_models_are_tcns_with_a_decoder_that_never_saw_their_individual() -> None:
    for k in (1, 2, 3, 4):
        model = StepModel.load(fold_model_path(FOLDS, k))
        assert model.is_tcn and model.decoder() is not None
        assert k not in model.info["individuals"] and model.info["individuals"] == [i for i in (1, 2, 3, 4) if i != k]


def test_leave_one_individual_out_sets(loio) -> None:
    assert loio.counts["sets"] >= 150
    assert loio.counts["exercise_right"] >= MIN_EXERCISE_RIGHT
    assert loio.counts["within_one"] >= MIN_WITHIN_ONE
    assert loio.counts["exact"] >= MIN_EXACT_SETS
    assert loio.counts["nmae"] <= MAX_NMAE
    assert loio.counts["reps_outside_sets"] <= MAX_REPS_OUTSIDE_SETS


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


def test_set_breaks_joined_end_to_end_give_few_reps() -> None:
    """Every set break of every recording (56 min of resting, walking about, lying down for
    sit-ups) cut out and joined end to end, one file per recording: measured 24 false reps in 17 of
    30 files (the window CNN counted by probabilities: 2 in 1); 20 of the 24 lie within 3 s of a
    join, a motion no one makes. In the whole recordings the same models count 5 reps outside every set
    (test_leave_one_individual_out_sets), as the earlier counter did (4)."""
    false_reps = files_with_reps = 0
    minutes = 0.0
    for f in exermote_files():
        rec = _only(load_csv(f), ["set_break"])
        minutes += len(rec) / 600
        n = sum(isinstance(e, RepCompleted) for e in run_recording(rec, _fold_model(f)))
        false_reps += n
        files_with_reps += n > 0
    assert minutes > 50
    assert false_reps <= 26 and files_with_reps <= 18


def _rep_key(e: RepCompleted) -> tuple:
    return (e.timestamp_ms, e.exercise, e.count, e.start_ms, e.bottom_ms, e.end_ms, e.concentric_s, e.eccentric_s)


def test_the_live_stream_labels_and_counts_every_recording_as_the_batch_path() -> None:
    """Every dev recording, sample by sample through ImuTracker (what `imu listen` runs), against
    the batch path (StepModel.predict_steps + count_labels): the same label on every step and the
    same events, including the last 4 s, which the stream labels when it ends."""
    model = StepModel.load()
    for f in exermote_files():
        rec = load_csv(f)
        labels: list[tuple[int, int]] = []
        tracker = ImuTracker(model, on_label=lambda t, c: labels.append((t, c)))
        live = []
        for row, t in zip(rec.samples, rec.timestamp_ms):
            live += tracker.update(row, int(t))
        live += tracker.finish(int(rec.timestamp_ms[-1]))
        probs = model.predict_sequence(step_inputs(rec.samples))
        batch_labels = model.labels(probs)
        np.testing.assert_array_equal(batch_labels, model.predict_steps(step_inputs(rec.samples)))
        assert [t for t, _ in labels] == rec.timestamp_ms.tolist(), f.name
        assert np.array_equal([c for _, c in labels], batch_labels), f.name
        batch = count_labels(batch_labels, probs, rec.timestamp_ms)
        assert [_rep_key(e) for e in live if isinstance(e, RepCompleted)] == \
            [_rep_key(e) for e in batch if isinstance(e, RepCompleted)], f.name
        assert [e.to_dict() for e in live if isinstance(e, (ExerciseDetected, SetCompleted))] == \
            [e.to_dict() for e in batch if isinstance(e, (ExerciseDetected, SetCompleted))], f.name
        assert sum(isinstance(e, RepCompleted) for e in live) >= 20, f.name


def test_a_misbehaving_sensor_is_logged_and_counting_resumes(caplog: pytest.LogCaptureFixture) -> None:
    """Real samples with +-30 ms jitter, NaN samples, repeated and swapped samples, 0.5 s dropouts,
    a 3 s outage and, two thirds in, a sensor restart (its clock back at 0)."""
    rec = load_csv(exermote_files()[5])
    n = len(rec)
    rng = np.random.default_rng(0)
    t = rec.timestamp_ms + rng.integers(-30, 31, n)
    samples = rec.samples.astype(np.float64).copy()
    samples[rng.choice(n, 30, replace=False), rng.integers(0, 12, 30)] = np.nan
    keep = np.ones(n, bool)
    for s in rng.choice(n - 10, 20, replace=False):
        keep[s:s + 5] = False
    t[n // 3:] += 3000
    restart = 2 * n // 3
    t[restart:] -= t[restart]
    order = np.flatnonzero(keep)
    again = np.sort(rng.choice(np.arange(1, len(order)), 20, replace=False))
    order = np.insert(order, again, order[again - 1])               # 20 samples sent twice
    for i in rng.choice(len(order) - 1, 20, replace=False):
        order[i], order[i + 1] = order[i + 1], order[i]
    clean = run_recording(rec)
    tracker = ImuTracker()
    with caplog.at_level(logging.WARNING, logger="repsense.imu.tracker"):
        events = tracker.update_many(samples[order], t[order]) + tracker.finish()
    lines = [r.getMessage() for r in caplog.records]
    for what in ("has no value for", "repeats the timestamp", "too late for its 100 ms step",
                 "no valid sample for 3.", "the sensor clock went back"):
        assert any(what in line for line in lines), what
    assert len(lines) < 100
    assert sum(isinstance(e, PersonLost) for e in events) == 2
    reps = [e for e in events if isinstance(e, RepCompleted)]
    assert abs(len(reps) - sum(isinstance(e, RepCompleted) for e in clean)) <= 3
    after = [e for e in reps if e.start_ms < 10**9]        # on the restarted clock, which starts at 0
    clean_after = [e for e in clean if isinstance(e, RepCompleted) and e.start_ms >= rec.timestamp_ms[restart]]
    assert len(clean_after) >= 10 and abs(len(after) - len(clean_after)) <= 2


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
