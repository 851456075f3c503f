"""The analyze command end to end: report shape, replay, and bad input handled with one clear line."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from repsense.cli import main
from repsense.pose import PoseRecording

ROOT = pathlib.Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "repsense" / "samples" / "squats.npz"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_sample_recording_counts_five_squats(capsys):
    code, out, err = run_cli(capsys, "analyze", str(SAMPLE), "--exercise", "squat", "--json", "-")
    assert code == 0, err
    doc = json.loads(out)  # stdout carries the JSON alone
    (inp,) = doc["inputs"]
    assert inp["total_reps"] == 5
    assert set(inp) >= {"path", "fps", "frames", "person_frames", "total_reps", "exercises"}
    (ex,) = inp["exercises"]
    assert ex["name"] == "squat" and ex["reps"] == 5
    assert set(ex) >= {"name", "reps", "start_s", "end_s", "reps_detail"}
    for rep in ex["reps_detail"]:
        assert set(rep) >= {"start_s", "end_s", "duration_s", "rom_deg"}
        assert 0.8 < rep["duration_s"] < 4.0 and 60 < rep["rom_deg"] < 120
    assert "squat: 5 reps" in err  # the human summary goes to stderr with --json -


def test_generic_counter_counts_the_sample_without_a_description(capsys):
    code, out, _ = run_cli(capsys, "analyze", str(SAMPLE), "--exercise", "generic", "--json", "-")
    assert code == 0
    assert json.loads(out)["inputs"][0]["total_reps"] == 5


def test_start_and_end_restrict_the_analysis(capsys):
    # the sample's reps end at about 3.5, 6.3, 9.9, 12.5 and 15.2 s
    code, out, _ = run_cli(capsys, "analyze", str(SAMPLE), "--exercise", "squat",
                           "--start", "4.0", "--end", "10.5", "--json", "-")
    assert code == 0
    assert json.loads(out)["inputs"][0]["total_reps"] == 2


def test_plot_is_written(capsys, tmp_path):
    out_png = tmp_path / "signal.png"
    code, _, _ = run_cli(capsys, "analyze", str(SAMPLE), "--exercise", "squat", "--plot", str(out_png))
    assert code == 0
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    (b"", "empty"),
    (b"this is not a video at all" * 100, "cannot open as a video"),
])
def test_bad_video_gives_one_clear_line(capsys, tmp_path, content, message):
    path = tmp_path / "clip.mp4"
    if content is not None:
        path.write_bytes(content)
    code, out, err = run_cli(capsys, "analyze", str(path))
    assert code != 0
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_truncated_video_is_reported_not_crashed(capsys, tmp_path, synthetic_video):
    whole = synthetic_video(frames=60).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) // 3])
    code, _, err = run_cli(capsys, "analyze", str(cut))
    assert code != 0 and "Traceback" not in err
    assert str(cut) in err


def test_video_without_a_person(capsys, synthetic_video):
    path = synthetic_video()
    code, _, err = run_cli(capsys, "analyze", str(path))
    assert code == 1
    assert "nobody was found" in err and "dark" not in err


def test_dark_video_says_it_is_too_dark(capsys, synthetic_video):
    path = synthetic_video("dark_room.mp4", brightness=30)
    code, _, err = run_cli(capsys, "analyze", str(path))
    assert code == 1
    assert "nobody was found" in err and "very dark" in err


@pytest.mark.parametrize("arrays, message", [
    ({"landmarks": np.zeros((10, 17, 3), np.float32), "timestamp_ms": np.arange(10)}, "(T, 33, 4)"),
    ({"landmarks": np.zeros((10, 33, 4), np.float32)}, "timestamp_ms"),
    ({"landmarks": np.zeros((3, 33, 4), np.float32), "timestamp_ms": np.array([0, 5, 5])},
     "strictly increasing"),
])
def test_bad_recording_gives_one_clear_line(capsys, tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    code, _, err = run_cli(capsys, "analyze", str(path))
    assert code == 1
    assert message in err and "Traceback" not in err


def test_several_inputs_good_ones_still_processed(capsys, tmp_path):
    missing = tmp_path / "nope.mp4"
    code, out, err = run_cli(capsys, "analyze", str(missing), str(SAMPLE), "--exercise", "squat",
                             "--json", "-")
    assert code == 1
    doc = json.loads(out)
    assert [i["total_reps"] for i in doc["inputs"]] == [0, 5]
    assert "no such file" in doc["inputs"][0]["error"]


def test_unknown_exercise_is_rejected_with_the_known_names(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["analyze", str(SAMPLE), "--exercise", "yoga"])
    assert exc.value.code == 2
    assert "squat" in capsys.readouterr().err


def test_save_pose_then_replay_gives_the_same_counts(capsys, tmp_path):
    saved = tmp_path / "again.npz"
    code, out1, _ = run_cli(capsys, "analyze", str(SAMPLE), "--exercise", "squat",
                            "--save-pose", str(saved), "--json", "-")
    assert code == 0
    rec = PoseRecording.load(saved)
    assert rec.landmarks.shape[1:] == (33, 4) and rec.timestamp_ms.dtype == np.int64
    code, out2, _ = run_cli(capsys, "analyze", str(saved), "--exercise", "squat", "--json", "-")
    first, second = json.loads(out1)["inputs"][0], json.loads(out2)["inputs"][0]
    assert first["exercises"] == second["exercises"]
