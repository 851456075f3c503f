"""The annotated video: browsers play it, its overlay is readable and stays inside the frame."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from repsense.sinks.encode import VideoWriter

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _frames(n: int, size: tuple[int, int]):  # type: ignore[no-untyped-def]
    w, h = size
    for i in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[:, (i * 7) % w] = 255
        yield f


@pytest.mark.parametrize("suffix, codec", [(".mp4", "h264"), (".webm", "vp9")])
def test_encoder_writes_browser_codecs(tmp_path, suffix, codec):
    import av

    out = tmp_path / f"clip{suffix}"
    with VideoWriter(out, 15.0) as w:
        for i, f in enumerate(_frames(30, (321, 181))):     # odd sizes lose a row and a column
            w.write(f, 1000 + i * 67)
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == codec and s.codec_context.pix_fmt == "yuv420p"
        assert (s.codec_context.width, s.codec_context.height) == (320, 180)
        decoded = list(c.decode(video=0))
    assert len(decoded) == 30
    assert decoded[0].time == pytest.approx(0.0, abs=0.002)   # starts at 0
    assert decoded[-1].time == pytest.approx(29 * 0.067, abs=0.002)  # keeps the frames' timing
    if suffix == ".mp4":   # +faststart: the index comes before the media data
        head = out.read_bytes()
        assert head.find(b"moov") < head.find(b"mdat")


def test_encoder_rejects_an_unknown_suffix(tmp_path):
    from repsense.errors import InputError

    with pytest.raises(InputError, match=r"\.mp4"):
        VideoWriter(tmp_path / "clip.avi", 15.0)


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_video_plays_in_headless_chromium(tmp_path, suffix):
    from browser import chromium_path, play_in_chromium

    if chromium_path() is None:
        import os

        if os.environ.get("CI"):
            pytest.fail("CI needs chromium (bash setup.sh --test installs it)")
        pytest.skip("chromium is not installed (bash setup.sh --test installs it)")
    out = tmp_path / f"clip{suffix}"
    with VideoWriter(out, 15.0) as w:
        for i, f in enumerate(_frames(45, (640, 360))):
            w.write(f, i * 67)
    got = play_in_chromium(out)
    assert "error" not in got, got
    assert got["duration"] == pytest.approx(44 * 0.067, abs=0.1)
    assert got["currentTime"] > 0.2 and got["decoded"] > 0       # it played
    assert (got["width"], got["height"]) == (640, 360)


# --- the overlay -------------------------------------------------------------------------------
from repsense.sinks.annotate import (Overlay, draw_overlay, fault_joint_indices,  # noqa: E402
                                     overlays, phase_words)

SIZES = [(360, 640), (640, 360), (1920, 1080)]   # portrait phone, small landscape, full HD
LONG_CUE = "Turn side-on to the camera for lunges, and step back so your feet are in view."


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("overlay", [
    Overlay(exercise="Handstand push-up", count=128, phase="coming down", last_score=35,
            last_good=False, cue=LONG_CUE, cue_alpha=1.0),
    Overlay(exercise="Plank", held_s=73.4, phase="holding", last_score=None, cue="Hips up.",
            cue_severity="info", cue_alpha=0.4),
    Overlay(exercise="Squat", count=3, person=False),
])
def test_every_text_box_lies_inside_the_frame(size, overlay):
    w, h = size
    frame = np.zeros((h, w, 3), np.uint8)
    boxes = draw_overlay(frame, overlay)
    assert boxes
    for x0, y0, x1, y1 in boxes:
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, (size, (x0, y0, x1, y1))
    heights = [y1 - y0 for x0, y0, x1, y1 in boxes]
    assert min(heights) >= 0.03 * min(w, h)           # readable at 360 px ...
    assert max(heights) <= 0.25 * min(w, h)           # ... and not huge at 1080


def test_text_scales_with_the_frame():
    small, large = (draw_overlay(np.zeros((h, w, 3), np.uint8), Overlay(exercise="Squat", count=4))
                    for w, h in [(640, 360), (1920, 1080)])
    assert (small[0][3] - small[0][1]) * 2.5 < large[0][3] - large[0][1]


def test_nobody_in_view_shows_no_phase_no_score_and_no_skeleton():
    frame = np.zeros((360, 640, 3), np.uint8)
    assert draw_overlay(frame, Overlay(exercise="Squat", count=0, phase="", person=False,
                                       last_score=None)) == []
    assert not frame.any()     # a title card before the set stays clean
    boxes = draw_overlay(frame, Overlay(exercise="Squat", count=5, phase="", person=False))
    assert len(boxes) == 2     # the set's count stays: name and number


def test_phases_read_as_plain_words():
    assert phase_words("squat", "away") == "going down"
    assert phase_words("squat", "return") == "coming up"
    assert phase_words("squat", "rest") == "ready"
    assert phase_words("pull_up", "away") == "going up"
    assert phase_words("plank", "holding") == "holding"
    assert "away" not in phase_words("generic", "away")


def test_fault_joints_are_the_joints_the_rule_measures():
    from repsense.pose import Landmark

    joints = fault_joint_indices("push_up", ["hips_sag"])
    assert {Landmark.LEFT_HIP, Landmark.RIGHT_HIP} <= joints
    assert Landmark.NOSE not in joints
    assert fault_joint_indices("squat", ["no_such_rule"]) == frozenset()


def test_overlays_of_the_sample_count_fade_and_blank_out():
    from repsense.pose import PoseRecording
    from repsense.session import analyze_recording

    rec = PoseRecording.load(_sample())
    landmarks = rec.landmarks.copy()
    landmarks[-30:] = np.nan                       # the person walks out for the last 2 s
    rec = PoseRecording(landmarks, rec.timestamp_ms, rec.image_size, rec.source, rec.source_fps)
    states = overlays(analyze_recording(rec, "squat"))
    assert len(states) == len(rec)
    counts = [s.count for s in states]
    assert counts == sorted(counts) and counts[-1] == 5
    assert {s.phase for s in states[:-30]} >= {"ready", "going down", "coming up"}
    assert all(s.phase == "" and not s.person and not s.fault_joints for s in states[-30:])


def _sample() -> pathlib.Path:
    return ROOT / "repsense" / "samples" / "squats.npz"


# --- end to end on dev clips, frames saved to look at -------------------------------------------
ARTEFACTS = ROOT / "out" / "test-artefacts"


def _upscaled(src: pathlib.Path, out: pathlib.Path, size: tuple[int, int], seconds: float) -> None:
    """The first ``seconds`` of ``src`` resized to ``size`` (a full-HD clip from a 720p one)."""
    import cv2

    from repsense.sources.video import iter_frames

    with VideoWriter(out, 30.0) as w:
        for _, ts, frame in iter_frames(src, end_s=seconds):
            w.write(cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR), ts)


@pytest.mark.parametrize("clip, exercise, size", [
    ("aiTrainer_lunges.mp4", "lunge", (360, 640)),
    ("situp_situp.mp4", "auto", (640, 360)),
    ("exercises_deadlift.mp4", "deadlift", (1920, 1080)),
])
def test_annotated_dev_clip_frames_are_saved_to_look_at(tmp_path, capsys, clip, exercise, size):
    """Runs the pose model over 3 s of a dev clip, writes the annotated video and saves three of
    its frames as PNGs under out/test-artefacts/ (git-ignored) for a person to look at."""
    import av
    import cv2
    from conftest import require_data

    from repsense.cli import main

    src = require_data("videos", "clips", clip)
    from repsense.sources.video import probe

    if (probe(src).width, probe(src).height) != size:
        scaled = tmp_path / f"{src.stem}-{size[0]}x{size[1]}.mp4"
        _upscaled(src, scaled, size, 3.2)
        src = scaled
    out = tmp_path / "annotated.mp4"
    assert main(["analyze", str(src), "--exercise", exercise, "--end", "3", "--annotate",
                 str(out), "--json", "-"]) == 0
    capsys.readouterr()
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]
    assert frames[0].shape[:2] == (size[1], size[0])
    for k in (0, len(frames) // 2, len(frames) - 1):
        cv2.imwrite(str(ARTEFACTS / f"{pathlib.Path(clip).stem}-{size[0]}x{size[1]}-{k:03d}.png"),
                    frames[k])


def test_annotated_real_clip_plays_in_chromium_at_the_source_rate(tmp_path, capsys):
    """The whole path (pose model, overlay, encoder) on 2 s of a dev clip, every source frame
    written (--annotate-fps source), then played in the Debian chromium."""
    import av
    from browser import chromium_path, play_in_chromium
    from conftest import require_data

    from repsense.cli import main
    from repsense.sources.video import iter_frames

    src = require_data("videos", "clips", "exercises_lunges.mp4")     # 1280x720, 30 fps
    out = tmp_path / "annotated.mp4"
    assert main(["analyze", str(src), "--exercise", "lunge", "--end", "2", "--annotate", str(out),
                 "--annotate-fps", "source", "--json", "-"]) == 0
    capsys.readouterr()
    source_frames = sum(1 for _ in iter_frames(src, end_s=2.0))
    with av.open(str(out)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = list(c.decode(video=0))
    assert len(frames) == source_frames                      # every frame, not every other
    assert frames[-1].time == pytest.approx((source_frames - 1) / 29.97, abs=0.05)
    if chromium_path() is None:
        import os

        if os.environ.get("CI"):
            pytest.fail("CI needs chromium (bash setup.sh --test installs it)")
        pytest.skip("chromium is not installed")
    got = play_in_chromium(out)
    assert "error" not in got, got
    assert got["duration"] == pytest.approx(2.0, abs=0.1) and got["currentTime"] > 0.2
    assert (got["width"], got["height"]) == (1280, 720)


def test_annotate_refuses_an_unplayable_suffix_before_the_work(capsys):
    from repsense.cli import main

    assert main(["analyze", str(_sample()), "--annotate", "out.avi"]) == 2
    err = capsys.readouterr().err
    assert ".mp4" in err and ".webm" in err


def test_auto_mode_overlay_names_no_engine_words():
    from repsense.pose import PoseRecording
    from repsense.session import analyze_recording

    states = overlays(analyze_recording(PoseRecording.load(_sample()), "auto"))
    names = {s.exercise for s in states}
    phases = {s.phase for s in states}
    assert not names & {"generic", "Generic", "idle", "unknown"}
    assert not phases & {"away", "return", "rest", "idle"}
