"""Spoken cues: what is said for each event, the speaking policy, and real espeak-ng audio."""

from __future__ import annotations

import os
import pathlib
import shutil
import wave

import numpy as np
import pytest

from repsense.engine.events import ExerciseDetected, FormWarning, HoldUpdated, RepCompleted
from repsense.sinks.speech import SAMPLE_RATE, Utterance, pick, render_track, utterance

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _rep(t: int, count: int, good: bool = True, judged: bool = True) -> RepCompleted:
    return RepCompleted(t, exercise="squat", count=count, start_ms=t - 1500, end_ms=t,
                        bottom_ms=t - 700, concentric_s=0.7, eccentric_s=0.8, rom_deg=90.0,
                        form_score=100.0 if judged else None, good=good)


def test_what_is_said():
    assert utterance(_rep(1000, 3)) == Utterance(1000, "3", tone=True, priority=1)
    assert utterance(_rep(1000, 4, good=False)).tone is False
    assert utterance(_rep(1000, 4, judged=False)).tone is False
    cue = FormWarning(2000, exercise="squat", code="knees_cave", message="Push your knees out.")
    assert utterance(cue) == Utterance(2000, "Push your knees out.", priority=2)
    assert utterance(ExerciseDetected(0, exercise="squat")).text == "Squats"
    assert utterance(ExerciseDetected(0, exercise="plank")).text == "Plank"
    assert utterance(ExerciseDetected(0, exercise="idle")) is None
    assert utterance(HoldUpdated(0, exercise="plank", held_s=10.2, holding=True)).text == "10 seconds"
    assert utterance(HoldUpdated(0, exercise="plank", held_s=11.2, holding=True)) is None
    assert utterance(HoldUpdated(0, exercise="plank", held_s=31.5, holding=False)).text == \
        "Held 31 seconds."


def test_speaking_policy_cues_first_and_stale_counts_dropped():
    counts = [Utterance(t, str(n), priority=1) for n, t in ((5, 1000), (6, 2000), (7, 3000))]
    cue = Utterance(1500, "Chest up.", priority=2)
    best, keep = pick(counts + [cue])
    assert best == cue and keep == counts[-1:]  # the cue first; only the newest count waits
    best, keep = pick(keep)
    assert best.text == "7" and keep == []      # then the newest count only
    assert pick([]) == (None, [])


def _need_espeak() -> None:
    if shutil.which("espeak-ng") is None:
        if os.environ.get("CI"):
            pytest.fail("espeak-ng is missing: setup.sh installs it")
        pytest.skip("espeak-ng not installed")


def _read(path: pathlib.Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        assert w.getframerate() == SAMPLE_RATE and w.getnchannels() == 1
        return np.frombuffer(w.readframes(w.getnframes()), np.int16).astype(np.float32) / 32768


def test_speech_track_is_real_speech_at_the_event_times(tmp_path):
    _need_espeak()
    events = [_rep(1000, 1), FormWarning(3000, exercise="squat", code="chest_down",
                                         message="Chest up: keep your back more upright.")]
    out = tmp_path / "track.wav"
    assert render_track(events, out, duration_s=6.0) == 2
    audio = _read(out)
    assert len(audio) >= 6 * SAMPLE_RATE
    rms = lambda a, b: float(np.sqrt(np.mean(audio[int(a * SAMPLE_RATE):int(b * SAMPLE_RATE)] ** 2)))  # noqa: E731
    assert rms(0.0, 0.95) == 0.0                 # silent before the first rep
    assert rms(1.0, 1.6) > 0.01                  # tone + "one"
    assert rms(3.0, 4.5) > 0.01                  # the cue, spoken
    assert rms(1.9, 2.9) < rms(3.0, 4.5) / 10    # nothing between


def test_analyze_writes_a_speech_track(tmp_path, capsys):
    _need_espeak()
    from repsense.cli import main

    out = tmp_path / "squats.wav"
    assert main(["analyze", str(ROOT / "repsense" / "samples" / "squats.npz"), "--exercise", "squat",
                 "--speak-wav", str(out)]) == 0
    audio = _read(out)
    assert len(audio) > SAMPLE_RATE and float(np.abs(audio).max()) > 0.05
    assert "speech track" in capsys.readouterr().err
