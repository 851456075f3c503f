"""Exercise recognition: the shipped model's held-out figures, its runtime, and the smoothing.

The real-data tests read ``../shared/data`` (relative to the repository root). They skip when it is
absent, except under CI (env ``CI`` set), where a missing data folder is a failure.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from repsense.engine.events import ExerciseDetected
from repsense.pose import PoseRecording
from repsense.recognition import (
    IDLE, NAMES, DecisionSmoother, ExerciseRecognizer, SmootherConfig, classify_recording, load_model,
)
from repsense.recognition.data import Samples, idle_motion, load_all, load_ucf_clips, standing_frames
from repsense.recognition.features import (
    fill_missing, frame_features, resample, window_features,
)

REPO = pathlib.Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"

# Held-out thresholds of the shipped model (measured values in docs/recognition.md); a model that
# scores below them cannot land.
THRESHOLDS = {
    "gym_windows": 0.965,  # measured 0.975 (target 0.95)
    "ucf_clips": 0.95,     # measured 0.952: the target itself, one clip above it
    "ucf_windows": 0.90,   # measured 0.911
    "form_windows": 0.95,  # measured 1.000
}
IDLE_RECALL = 0.95


def need_data() -> pathlib.Path:
    if not DATA.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{DATA} is missing; CI must have the shared data")
        pytest.skip(f"{DATA} not present")
    return DATA


@pytest.fixture(scope="module")
def split() -> tuple[Samples, Samples]:
    return load_all(need_data())


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return load_model()


@pytest.fixture(scope="module")
def figures(model, split):  # type: ignore[no-untyped-def]
    from repsense.recognition.evaluate import evaluate
    return evaluate(model, need_data(), test=split[1])


# --- held-out figures ---------------------------------------------------------------------------

@pytest.mark.parametrize("benchmark", sorted(THRESHOLDS))
def test_heldout_macro_f1_stays_above_threshold(figures, benchmark: str) -> None:
    assert figures[benchmark]["macro_f1"] >= THRESHOLDS[benchmark], figures[benchmark]["per_class_accuracy"]


def test_splits_never_share_a_source_video(split) -> None:  # type: ignore[no-untyped-def]
    train, test = split
    assert not set(train.group) & set(test.group)
    assert {"gym", "ucf", "form", "synthetic"} <= set(test.source)


def test_ucf_split_is_by_group(split) -> None:  # type: ignore[no-untyped-def]
    train, test = split
    ucf_train = {g.split("_")[2] for g, s in zip(train.group, train.source) if s == "ucf"}
    ucf_test = {g.split("_")[2] for g, s in zip(test.group, test.source) if s == "ucf"}
    assert ucf_train == {f"g{i:02d}" for i in range(1, 9)}
    assert ucf_test == {"g09", "g10", "g11", "g12"}


def test_synthetic_idle_windows_are_idle(figures) -> None:  # type: ignore[no-untyped-def]
    assert figures["idle_windows"]["per_class_accuracy"]["idle"] >= IDLE_RECALL


def test_exercise_clips_are_never_idle(figures) -> None:  # type: ignore[no-untyped-def]
    predictions = figures["ucf_clip_predictions"]
    assert len(predictions) >= 100
    # Measured: 0 of 137; one (v_PushUps_g11_c03, the person found in a third of the frames) was
    # idle before the whole-clip answer stopped counting windows without a person as idle.
    assert len([t for t, g in predictions if g == IDLE]) == 0


# --- runtime ------------------------------------------------------------------------------------

def test_shipped_model_runs_without_torch_or_sklearn() -> None:
    code = (
        "import sys\n"
        "for m in ('torch', 'sklearn', 'lightgbm', 'onnxruntime'): sys.modules[m] = None\n"
        "import numpy as np\n"
        "from repsense.recognition import load_model, ExerciseRecognizer\n"
        "m = load_model()\n"
        "w = np.random.default_rng(0).random((2, 30, 33, 4)).astype(np.float32)\n"
        "p = m.predict_proba(w)\n"
        "assert p.shape == (2, len(m.classes)) and np.allclose(p.sum(1), 1), p\n"
        "print('ok', m.kind)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok")


# --- features -----------------------------------------------------------------------------------

def _some_windows(n: int = 8) -> np.ndarray:
    with np.load(need_data() / "gym_tracking_dev.npz") as d:
        return d["X"][::400][:n].astype(np.float32)


def test_features_do_not_change_under_mirroring_scale_and_shift() -> None:
    w = _some_windows()
    base = window_features(frame_features(w))
    mirrored = w.copy()
    mirrored[..., 0] = 1.0 - mirrored[..., 0]
    moved = w.copy()
    moved[..., :2] = moved[..., :2] * 0.6 + 0.15
    np.testing.assert_allclose(window_features(frame_features(mirrored)), base, atol=1e-4)
    np.testing.assert_allclose(window_features(frame_features(moved)), base, atol=1e-3)


def test_turning_the_camera_half_way_round_is_a_mirror() -> None:
    from repsense.recognition.data import turn_view
    w = _some_windows()
    np.testing.assert_allclose(turn_view(w, np.zeros(len(w))), w, atol=1e-6)
    back = turn_view(w, np.full(len(w), 180.0))        # seen from behind: x mirrored about the hips
    np.testing.assert_allclose(window_features(frame_features(back)), window_features(frame_features(w)),
                               atol=1e-3)
    side = turn_view(w, np.full(len(w), 90.0))          # side view: x is the former depth, y is kept
    np.testing.assert_allclose(side[..., 1], w[..., 1])
    hip_x = np.nanmean(w[:, :, [23, 24], 0], axis=(1, 2))[:, None, None]
    np.testing.assert_allclose(side[..., 0] - hip_x, w[..., 2], atol=1e-5)


def test_every_recognised_exercise_has_a_counting_description(model) -> None:  # type: ignore[no-untyped-def]
    from repsense.engine.exercises import catalog
    from repsense.recognition.labels import exercise_name
    named = {exercise_name(c) for c in model.classes} - {IDLE}
    assert "handstand_push_up" in named                # counted by its own description, not generic
    assert named <= set(catalog())


def test_missing_frames_are_interpolated() -> None:
    w = _some_windows(2)
    holed = w.copy()
    holed[:, 10:14] = np.nan
    filled = fill_missing(holed)
    assert not np.isnan(filled).any()
    np.testing.assert_allclose(filled[:, 9], w[:, 9], atol=1e-6)
    between = (w[:, 9] * 3 + w[:, 14] * 2) / 5       # frame 11 on the line from 9 to 14
    np.testing.assert_allclose(filled[:, 11], between, atol=1e-5)


def test_resample_puts_a_25_fps_clip_on_a_30_fps_grid() -> None:
    lm = np.zeros((26, 33, 4), np.float32)
    lm[..., 0] = np.linspace(0, 1, 26)[:, None]
    ts = np.arange(26) * 40
    grid, grid_ms = resample(lm, ts)
    assert grid_ms[0] == 0 and grid.shape[0] == 31
    np.testing.assert_allclose(grid[15, 0, 0], 0.5, atol=1e-3)   # 500 ms of 1000 ms


# --- batch classification -----------------------------------------------------------------------

def test_classify_recording_of_30_frames(model) -> None:  # type: ignore[no-untyped-def]
    for name, cls, group, lm, ts in load_ucf_clips(need_data()):
        if group in ("g09", "g10", "g11", "g12") and cls == "jumping_jack" and len(lm) >= 75:
            rec = PoseRecording(lm[30:60], ts[30:60])
            break
    res = classify_recording(rec, model=model)
    assert res["exercise"] == "jumping_jack"
    assert set(res["probabilities"]) == set(NAMES)
    assert abs(sum(res["probabilities"].values()) - 1.0) < 1e-3
    assert len(rec) == 30
    assert res["segments"][0]["start_s"] == pytest.approx(rec.timestamp_ms[0] / 1000.0)
    assert res["segments"][-1]["end_s"] == pytest.approx(rec.timestamp_ms[-1] / 1000.0)


@pytest.mark.parametrize("source", ["gym_30fps", "ucf_25fps"])
def test_classify_takes_exactly_one_second_of_poses(tmp_path: pathlib.Path, source: str) -> None:
    """`repsense classify` on exactly 1 s of real poses: 30 frames at 30 fps (a gym_tracking
    window, timestamps rounded to whole ms as a camera gives them) and 25 frames at 25 fps (a
    UCF101 clip); one frame less is refused with a message that names the frames it needs."""
    import argparse
    import contextlib
    import io
    import json

    from repsense.cli.recognition import add_parsers

    data = need_data()
    if source == "gym_30fps":
        with np.load(data / "gym_tracking_dev.npz", allow_pickle=False) as d:
            classes = [str(c) for c in d["classes"]]
            i = int(np.flatnonzero(d["y"] == classes.index("squat"))[0])
            lm, fps, expected = d["X"][i].astype(np.float32), 30.0, "squat"
    else:
        clip = next(c for c in load_ucf_clips(data) if c[1] == "jumping_jack" and c[2] == "g10")
        lm, fps, expected = clip[3][:25].copy(), 25.0, "jumping_jack"
        lm[..., 0] /= 320 / 240   # back to normalised image x; the file says its size
    n = int(fps)
    assert len(lm) == n
    ts = np.floor(np.arange(n) * 1000.0 / fps).astype(np.int64)   # last stamp 966 ms / 960 ms
    size = (320, 240) if source == "ucf_25fps" else None
    whole, short = tmp_path / "one_second.npz", tmp_path / "short.npz"
    PoseRecording(lm, ts, image_size=size).save(whole)
    PoseRecording(lm[:-1], ts[:-1], image_size=size).save(short)
    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers())
    args = parser.parse_args(["classify", str(whole), str(short), "--json", "-"])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        code = args.func(args)
    first, second = json.loads(buf.getvalue())["inputs"]
    assert code == 1                                   # the short one
    assert "error" not in first, first
    assert first["exercise"] == expected
    assert f"({n} frames)" in second["error"] and f"{n - 1} frames" in second["error"]


def _idle_recording(rng: np.random.Generator, seconds: float, fps: float = 30.0) -> PoseRecording:
    """A real standing pose from the test side: held still, then walking, then still again."""
    _, test = load_all(need_data())
    base = standing_frames(test)[int(rng.integers(100))]
    n = int(seconds * fps / 3)
    parts = [idle_motion(rng, base, n, kind) for kind in ("still", "walk", "still")]
    parts[2][..., 0] += parts[1][-1, :, 0].mean() - parts[2][0, :, 0].mean()   # stop where the walk ended
    lm = np.concatenate(parts).astype(np.float32)
    return PoseRecording(lm, np.round(np.arange(len(lm)) * 1000.0 / fps).astype(np.int64))


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_idle_recording_is_idle_and_never_switches(model, seed: int) -> None:  # type: ignore[no-untyped-def]
    rec = _idle_recording(np.random.default_rng(seed), 12.0)
    res = classify_recording(rec, model=model)
    assert res["exercise"] == IDLE
    assert [s["exercise"] for s in res["segments"]] == [IDLE]
    rz = ExerciseRecognizer(model=model)
    events = [e for p, t in zip(rec.landmarks, rec.timestamp_ms) if (e := rz.update(p, int(t)))]
    assert events == []
    assert rz.current[0] == IDLE


def test_nobody_in_view_is_idle(model) -> None:  # type: ignore[no-untyped-def]
    lm = np.full((60, 33, 4), np.nan, np.float32)
    res = classify_recording(PoseRecording(lm, np.arange(60) * 33), model=model)
    assert res["exercise"] == IDLE


def test_whole_input_answer_ignores_stretches_without_a_person(model) -> None:  # type: ignore[no-untyped-def]
    """A held-out squat clip followed by twice its length with nobody in view is a squat, and its
    timeline ends idle."""
    name, cls, group, lm, ts = next(c for c in load_ucf_clips(need_data()) if c[1] == "squat" and c[2] == "g10")
    empty = np.full((2 * len(lm), 33, 4), np.nan, np.float32)
    step = int(ts[1] - ts[0])
    rec = PoseRecording(np.concatenate([lm, empty]),
                        np.concatenate([ts, ts[-1] + step * np.arange(1, len(empty) + 1)]))
    res = classify_recording(rec, model=model)
    assert res["exercise"] == "squat", res["probabilities"]
    assert res["segments"][-1]["exercise"] == IDLE


def test_blend_is_the_weighted_mean_of_its_members_and_survives_a_round_trip(tmp_path: pathlib.Path) -> None:
    from repsense.recognition.model import Blend, ConvNet
    shipped = load_model()
    assert isinstance(shipped, Blend) and shipped.kind == "blend"
    w = _some_windows(4)
    w[1, 5:12] = np.nan                              # missing frames go through both members
    blend = Blend(shipped.trees, shipped.cnn, weight=0.3)
    expected = 0.3 * shipped.trees.predict_proba(w) + 0.7 * shipped.cnn.predict_proba(w)
    np.testing.assert_allclose(blend.predict_proba(w), expected, atol=1e-9)
    blend.save(tmp_path / "b.npz")
    again = load_model(tmp_path / "b.npz")
    assert again.kind == "blend" and again.weight == pytest.approx(0.3)
    np.testing.assert_allclose(again.predict_proba(w), expected, atol=1e-6)
    c = shipped.cnn
    reordered = ConvNet(c.classes[::-1], c.mean, c.std, c.conv1_w, c.conv1_b, c.conv2_w, c.conv2_b, c.fc_w, c.fc_b)
    with pytest.raises(ValueError, match="disagree"):
        Blend(shipped.trees, reordered)


# --- streaming: smoothing tables ----------------------------------------------------------------

def _p(name: str, p: float = 0.9) -> np.ndarray:
    v = np.full(len(NAMES), (1.0 - p) / (len(NAMES) - 1))
    v[NAMES.index(name)] = p
    return v


CFG = SmootherConfig(smooth=3, confirm=2, idle_confirm=4, enter=0.45)


@pytest.mark.parametrize("sequence, expected_changes", [
    # (decisions, [(index of the decision that changes, new name)])
    (["squat"] * 6, [(1, "squat")]),
    (["squat"] * 5 + ["push_up"] + ["squat"] * 5, [(1, "squat")]),                    # one odd decision
    (["squat"] * 5 + ["lunge", "push_up"] + ["squat"] * 4, [(1, "squat")]),            # two odd, different
    (["squat"] * 5 + ["push_up"] * 6, [(1, "squat"), (7, "push_up")]),                # a real switch
    (["squat"] * 5 + ["idle"] * 3 + ["squat"] * 5, [(1, "squat")]),                   # a pause between reps
    (["squat"] * 5 + ["idle"] * 8, [(1, "squat"), (9, "idle")]),                      # the set ends
    (["idle"] * 10, []),
])
def test_smoother_table(sequence: list[str], expected_changes: list[tuple[int, str]]) -> None:
    sm = DecisionSmoother(CFG)
    changes = [(i, sm.current) for i, name in enumerate(sequence) if sm.push(_p(name))]
    assert changes == expected_changes


def _mix(**probs: float) -> np.ndarray:
    rest = (1.0 - sum(probs.values())) / (len(NAMES) - len(probs))
    v = np.full(len(NAMES), rest)
    for name, p in probs.items():
        v[NAMES.index(name)] = p
    return v


def test_smoother_needs_enough_probability_to_switch() -> None:
    sm = DecisionSmoother(CFG)
    # squat leads but never reaches `enter`, and idle is likely: a person resting or setting up
    weak = [sm.push(_mix(squat=0.35, idle=0.3)) for _ in range(10)]
    assert not any(weak) and sm.current == IDLE


def test_smoother_calls_an_exercise_it_does_not_know_unknown() -> None:
    # Moving (idle unlikely) but like no known exercise: unknown, counted by the generic counter.
    sm = DecisionSmoother(CFG)
    changes = [(i, sm.current) for i in range(6)
               if sm.push(_mix(squat=0.3, lunge=0.25, idle=0.05))]
    assert changes == [(CFG.idle_confirm - 1, "unknown")]
    # and a known exercise, once recognised, takes over from unknown
    changes = [(i, sm.current) for i in range(6) if sm.push(_p("squat"))]
    assert changes and changes[-1][1] == "squat"


def test_recognizer_emits_once_per_change_on_real_clips(model) -> None:  # type: ignore[no-untyped-def]
    clips = {cls: (lm, ts) for _, cls, group, lm, ts in load_ucf_clips(need_data())
             if group == "g12" and cls in ("squat", "jumping_jack")}
    rz = ExerciseRecognizer(model=model)
    t0 = 0
    events: list[ExerciseDetected] = []
    for cls in ("squat", "jumping_jack"):
        lm, ts = clips[cls]
        for pose, t in zip(lm, ts):
            if (e := rz.update(pose, int(t0 + t))) is not None:
                events.append(e)
        t0 += int(ts[-1]) + 40
    assert [e.exercise for e in events] == ["squat", "jumping_jack"]
    assert all(0.0 < e.confidence <= 1.0 for e in events)
    assert events[1].timestamp_ms > int(clips["squat"][1][-1])


def test_recognizer_rejects_bad_input(model) -> None:  # type: ignore[no-untyped-def]
    rz = ExerciseRecognizer(model=model)
    with pytest.raises(ValueError, match=r"\(33, 4\)"):
        rz.update(np.zeros((17, 3)), 0)
    rz.update(np.zeros((33, 4), np.float32), 10)
    with pytest.raises(ValueError, match="increase"):
        rz.update(np.zeros((33, 4), np.float32), 10)


# --- CLI ----------------------------------------------------------------------------------------

def test_classify_cli_json_to_stdout(tmp_path: pathlib.Path) -> None:
    import argparse
    import contextlib
    import io
    import json

    from repsense.cli.recognition import add_parsers

    need_data()
    paths = []
    for name, cls, group, lm, ts in load_ucf_clips(DATA):
        if group == "g12" and cls in ("squat", "pull_up") and len(paths) < 3:
            rec = PoseRecording(lm, ts)
            rec.landmarks[..., 0] /= 320 / 240      # back to normalised image x; the file says its size
            p = tmp_path / f"{name}.npz"
            PoseRecording(rec.landmarks, ts, image_size=(320, 240)).save(p)
            paths.append((str(p), cls))
    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers())
    args = parser.parse_args(["classify", *[p for p, _ in paths], str(tmp_path / "missing.npz"), "--json", "-"])
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = args.func(args)
    doc = json.loads(buf.getvalue())
    assert code == 1                                  # the missing file
    assert [i["path"] for i in doc["inputs"]][:len(paths)] == [p for p, _ in paths]
    assert "error" in doc["inputs"][-1]
    for item, (_, cls) in zip(doc["inputs"], paths):
        assert item["exercise"] == cls
        assert {"confidence", "probabilities", "segments"} <= set(item)


# --- dev videos (slow: the pose recordings come from the shared `dev_runs` fixture, which runs
# `repsense analyze` over every dev clip once per test session) --------------------------------

def _dev_clips() -> list[dict[str, str]]:
    import csv
    labels = DATA / "videos" / "clips" / "labels.csv"
    if not labels.exists():
        return [{"file": "(no data)", "exercise": ""}]
    with open(labels, newline="") as f:
        return list(csv.DictReader(f))


def _dev_recording(dev_runs, row: dict[str, str]) -> PoseRecording:  # type: ignore[no-untyped-def]
    need_data()
    return PoseRecording.load(dev_runs[row["file"]][2])


@pytest.mark.slow
@pytest.mark.parametrize("row", _dev_clips(), ids=lambda r: r["file"])
def test_dev_clip_is_recognised(model, dev_runs, row: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """A clip of an exercise the model knows is named right (a split squat is a lunge held in
    place: either name); a clip of an exercise with no description (front raise, lateral raise,
    row, dip, glute bridge) is never claimed as a described one with confidence: its answer's
    probability stays under NOT_CLAIMED (measured at most 0.51, a row read as a push-up, where the
    reliability table of docs/recognition.md has answers right about 6 times in 10). Known misses
    (MISSED) are listed with their reason and checked to still be misses, so a fix shows."""
    from repsense.recognition import EXERCISES
    from repsense.sources import select_span

    rec = _dev_recording(dev_runs, row)
    span = select_span(rec, float(row["t_start_s"] or 0), float(row["t_end_s"] or 1e9))
    for res in (classify_recording(span, model=model), classify_recording(rec, model=model)):
        if row["exercise"] not in EXERCISES:
            assert res["exercise"] not in EXERCISES or \
                res["probabilities"][res["exercise"]] < NOT_CLAIMED, res
        elif row["file"] in MISSED:
            assert res["exercise"] not in ALIASES.get(row["exercise"], {row["exercise"]}), \
                f"{row['file']} is recognised now: remove it from MISSED"
        else:
            assert res["exercise"] in ALIASES.get(row["exercise"], {row["exercise"]}), res


@pytest.mark.slow
def test_the_confidence_shown_is_calibrated_on_the_dev_clips(model, dev_runs) -> None:  # type: ignore[no-untyped-def]
    """The reliability table of docs/recognition.md: over the streaming decisions in the dev
    clips' labelled spans the confidence shown is the share right to within an expected
    calibration error of 0.076 (temperature scaling chosen by cross-validation grouped by source
    video did not improve it), and answers shown at 80% or more are right at least 9 times in 10."""
    from bench.recognition import dev_reliability

    poses = next(iter(dev_runs.values()))[2].parent
    rows, ece, n, _ = dev_reliability(model, poses)
    assert n > 3000
    assert ece < 0.085
    sure = [r for r in rows if r["lo"] >= 0.8]
    assert sum(r["right"] * r["n"] for r in sure) / sum(r["n"] for r in sure) >= 0.9


NOT_CLAIMED = 0.55
ALIASES = {"lunge": {"lunge", "split_squat"}}
# Clips of described exercises the shipped model gets wrong, and why (docs/recognition.md).
MISSED = {
    "prime-fitness_situps.mp4": "sit-ups with arms reaching up, read as lat pulldown (0.33)",
    "Nowva_side_lunge.mp4": "a side lunge is a sideways squat to the model (no side-lunge data)",
    "BE-Project-Exercise-Pose-Detection-and-Correction_shoulder_press.mp4":
        "no shoulder-press class: no pose data of it to train on",
}


STREAMED_CLIPS = ("aiTrainer_squats.mp4", "aiTrainer_lunges.mp4", "PushUp-Counter_pushup2.mp4",
                  "exercises_lunges.mp4", "MrPose_squat2.mp4", "test_video_squat.mp4")


@pytest.mark.slow
@pytest.mark.parametrize("row", [r for r in _dev_clips() if r["file"] in STREAMED_CLIPS] or _dev_clips()[:1],
                         ids=lambda r: r["file"])
def test_streaming_a_dev_clip_emits_its_exercise_once(model, dev_runs, row: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """Lead-in (standing, title card) stays idle; pauses between reps never end the exercise."""
    rec = _dev_recording(dev_runs, row)
    rz = ExerciseRecognizer(model=model, aspect=rec.aspect)
    events = [e for p, t in zip(rec.landmarks, rec.timestamp_ms) if (e := rz.update(p, int(t)))]
    assert [e.exercise for e in events] == [row["exercise"]]
    assert events[0].timestamp_ms >= (float(row["t_start_s"]) - 0.5) * 1000
