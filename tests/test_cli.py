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


# --- what a user reads (issue 14): the facts must be there, the wording may change --------------
DEV_CLIP = ("videos", "clips", "test_video_squat.mp4")   # 10.7 s, its index (moov) at the start


def _index_at_end(src: pathlib.Path, out: pathlib.Path) -> None:
    """Remux ``src`` without moving the index first (the way most cameras write MP4)."""
    import av

    with av.open(str(src)) as i, av.open(str(out), "w") as o:
        s = i.streams.video[0]
        t = o.add_stream_from_template(s)
        for packet in i.demux(s):
            if packet.dts is not None:
                packet.stream = t
                o.mux(packet)


def test_truncated_video_with_its_index_first_says_how_much_was_decoded(capfd, tmp_path):
    """capfd: what MediaPipe and FFmpeg write to the process's stderr counts too."""
    from conftest import require_data

    whole = require_data(*DEV_CLIP).read_bytes()
    assert whole.find(b"moov") < whole.find(b"mdat")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) // 3])
    code, out, err = run_cli(capfd, "analyze", str(cut), "--exercise", "squat", "--end", "60")
    assert code == 0 and "Traceback" not in err
    (line,) = err.strip().splitlines()          # one line of repsense's, no decoder chatter
    assert "truncated" in line and "10.7 s" in line and str(cut) in line
    decoded = float(line.split("decoded ")[1].split(" s")[0])
    assert 2.0 < decoded < 5.0
    assert "squat" in out                        # and it went on with what was decoded
    code, _, err = run_cli(capfd, "-v", "analyze", str(cut), "--exercise", "squat", "--end", "2")
    assert len(err.strip().splitlines()) > 1     # -v lets the libraries' logs through


def test_truncated_video_with_its_index_last_says_truncated_or_corrupt(capsys, tmp_path):
    from conftest import require_data

    moved = tmp_path / "index_last.mp4"
    _index_at_end(require_data(*DEV_CLIP), moved)
    data = moved.read_bytes()
    assert data.find(b"moov") > data.find(b"mdat")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 3])
    code, _, err = run_cli(capsys, "analyze", str(cut))
    assert code == 1
    (line,) = err.strip().splitlines()
    assert "truncated or corrupt" in line and str(cut) in line


def test_start_beyond_a_videos_end_says_how_long_it_is(capsys, synthetic_video):
    path = synthetic_video(frames=30)              # 2.0 s at 15 fps
    code, _, err = run_cli(capsys, "analyze", str(path), "--start", "50")
    assert code == 1
    assert "50" in err and "2.0 s long" in err and "None" not in err


@pytest.mark.parametrize("span, facts", [
    (["--start", "50"], ["after 50 s", "0.0-17.1 s"]),
    (["--end", "0.01", "--start", "0.001"], ["0.001 s", "0.01 s", "0.0-17.1 s"]),
])
def test_span_outside_a_recording_names_both_and_no_none(capsys, span, facts):
    code, _, err = run_cli(capsys, "analyze", str(SAMPLE), *span)
    assert code == 1 and "None" not in err
    assert all(f in err for f in facts), err


@pytest.mark.parametrize("content, message", [(b"", "empty"), (b"not a zip", "not a pose recording")])
def test_broken_npz_speaks_repsense_not_numpy(capsys, tmp_path, content, message):
    path = tmp_path / "poses.npz"
    path.write_bytes(content)
    code, _, err = run_cli(capsys, "analyze", str(path))
    assert code == 1 and message in err
    assert "No data left" not in err and "pickle" not in err


def test_classify_refuses_under_a_second_of_poses(capsys, tmp_path):
    rec = PoseRecording.load(SAMPLE)
    short = tmp_path / "short.npz"
    PoseRecording(rec.landmarks[100:110], rec.timestamp_ms[100:110], rec.image_size).save(short)
    code, out, err = run_cli(capsys, "classify", str(short), "--json", "-")
    assert code == 1
    assert "too short" in err and "10 frames" in err
    (item,) = json.loads(out)["inputs"]
    assert "too short" in item["error"] and "exercise" not in item


def test_classify_confidence_is_the_answers_probability(capsys):
    code, out, _ = run_cli(capsys, "classify", str(SAMPLE), "--json", "-")
    assert code == 0
    (item,) = json.loads(out)["inputs"]
    assert item["confidence"] == item["probabilities"][item["exercise"]]


def test_exercises_catalogue_text_and_json(capsys):
    from repsense.engine.exercises import catalog

    code, out, _ = run_cli(capsys, "exercises")
    assert code == 0
    for name, spec in catalog().items():
        assert name in out
        for rule in spec.form:
            assert rule.cue in out
    assert "knee angle" in out and "tip" in out
    code, out, _ = run_cli(capsys, "exercises", "--json", "-")
    doc = json.loads(out)
    squat = next(e for e in doc["exercises"] if e["name"] == "squat")
    assert squat["signal"] == {"label": "knee angle", "unit": "deg"}
    assert {r["code"] for r in squat["form"]} == {r.code for r in catalog()["squat"].form}
    assert all(r["cue"] for r in squat["form"])


def test_help_names_the_exercises_and_every_command_has_a_description(capsys):
    from repsense.cli import build_parser

    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    out = capsys.readouterr().out
    assert "push_up" in out and "generic" in out and "repsense exercises" in out
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    for name in ("analyze", "classify", "train", "evaluate", "exercises"):
        assert sub.choices[name].description, name


@pytest.mark.parametrize("span, length_s", [([], 17.13), (["--end", "6.3"], 6.33)])
def test_speech_track_is_as_long_as_the_analysed_span(capsys, tmp_path, span, length_s):
    import shutil
    import wave

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (setup.sh installs it)")
    out = tmp_path / "voice.wav"
    code, _, err = run_cli(capsys, "analyze", str(SAMPLE), "--exercise", "squat", *span,
                           "--speak-wav", str(out))
    assert code == 0, err
    with wave.open(str(out)) as w:
        seconds = w.getnframes() / w.getframerate()
        audio = np.frombuffer(w.readframes(w.getnframes()), np.int16)
    assert seconds == pytest.approx(length_s, abs=0.05)
    assert np.abs(audio[-int(0.5 * w.getframerate()):]).max() > 0   # "Well done" fits, at the end


def test_speak_without_an_audio_device_says_so(capsys, monkeypatch):
    import shutil

    from repsense.sinks import speech

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed (setup.sh installs it)")
    monkeypatch.setattr(speech, "audio_device", lambda: None)
    code, _, err = run_cli(capsys, "analyze", str(SAMPLE), "--exercise", "squat", "--speak")
    assert code == 1
    assert "no audio device" in err and "--speak-wav" in err


def test_every_option_of_every_command_says_what_it_does():
    """`repsense X --help` describes each option (listen --connect-timeout had no words)."""
    import argparse

    from repsense.cli import build_parser

    def parsers(p: argparse.ArgumentParser, name: str = "repsense"):  # type: ignore[no-untyped-def]
        yield name, p
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, child in action.choices.items():
                    yield from parsers(child, f"{name} {sub}")

    bare = [f"{name} {'/'.join(a.option_strings)}" for name, p in parsers(build_parser())
            for a in p._actions if a.option_strings and a.help is None]
    assert not bare, bare


def test_serve_without_a_display_says_where_to_open_the_page(tmp_path):
    """No display (a server, an SSH session): no browser opens, and serve says what to open."""
    import os
    import subprocess
    import sys
    import time

    from tests.conftest import free_port

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "BROWSER")}
    port = free_port()
    err_path = tmp_path / "serve.err"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "repsense", "serve", "--port", str(port), "--no-mqtt",
                                 "--no-history"], stderr=err, stdout=subprocess.DEVNULL, env=env, cwd=ROOT)
    try:
        end = time.monotonic() + 60
        while "Ctrl-C stops it" not in err_path.read_text() and time.monotonic() < end and proc.poll() is None:
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(20)
    text = err_path.read_text()
    assert f"open http://127.0.0.1:{port}/ in your browser" in text, text
