"""Teaching an exercise from one recorded set: what is learned, the refusals, the user's library
(catalog, restart, export / import) and the recogniser's add-on. Real-data accuracy is in
tests/test_teach_accuracy.py."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from repsense.engine.exercises import (builtin_catalog, catalog, get_spec, is_taught,
                                       load_spec_file, user_catalog)
from repsense.errors import InputError
from repsense.pose import PoseRecording
from repsense.session import analyze_recording
from repsense.sources import select_span
from repsense.teaching import (export, import_file, remove, save_lesson, teach_file,
                               teach_recording)

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def library(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    folder = tmp_path / "exercises"
    monkeypatch.setenv("REPSENSE_EXERCISES", str(folder))
    return folder


@pytest.fixture(scope="module")
def squats(measured_squats) -> PoseRecording:  # type: ignore[no-untyped-def]
    return PoseRecording.load(measured_squats)


def test_learns_the_knee_from_squats_and_counts_them(squats, library):
    lesson = teach_recording(squats, "my_squat", source="squats.npz")
    spec = lesson.taught.spec
    assert spec.signal.type == "angle" and spec.signal.joints == ("hip", "knee", "ankle")
    assert spec.count.rest == "high" and spec.count.away_phase == "eccentric"
    assert len(lesson.taught.chosen.reps) == 5
    assert 0 < spec.count.min_rom < spec.count.full_rom
    assert spec.count.min_rep_s < 1.0 < spec.count.max_rep_s
    # no posture gate; what stays still (the torso here) is a tip, not a fault
    assert spec.posture == ()
    assert "torso_vertical_deg" in {r.measure for r in spec.form}
    assert all(r.severity == "info" for r in spec.form)
    # the text is the built-ins' format and loads back to the same description
    path = save_lesson(lesson)
    assert load_spec_file(path) == spec
    assert analyze_recording(squats, "my_squat").report.total_reps == 5


def test_the_taught_exercise_is_in_the_catalog_and_survives_a_restart(squats, library):
    save_lesson(teach_recording(squats, "my_squat"))
    assert "my_squat" in catalog() and is_taught("my_squat") and not is_taught("squat")
    assert get_spec("my_squat").name == "my_squat"
    assert set(builtin_catalog()) <= set(catalog())
    code = ("from repsense.engine.exercises import catalog; import json; "
            "print(json.dumps(sorted(catalog())))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "REPSENSE_EXERCISES": str(library)})
    assert "my_squat" in json.loads(out.stdout)
    listing = subprocess.run([sys.executable, "-m", "repsense", "exercises"], capture_output=True,
                             text=True, check=True,
                             env={**os.environ, "REPSENSE_EXERCISES": str(library)}).stdout
    assert "my_squat  (taught, My squat" in listing and "squat  (Squat" in listing
    remove("my_squat")
    assert "my_squat" not in catalog()


def test_shipped_names_and_mode_words_are_refused(squats, library):
    with pytest.raises(InputError, match="shipped exercise"):
        teach_recording(squats, "squat")
    for word in ("auto", "generic", "idle", "1st"):
        with pytest.raises(InputError, match="cannot name an exercise"):
            teach_recording(squats, word)
    with pytest.raises(InputError, match="shipped exercise"):
        remove("squat")


def test_refuses_one_rep(squats, library):
    one = select_span(squats, 0.0, 4.2)     # the first squat ends at 3.5 s
    with pytest.raises(InputError, match="only one clear rep"):
        teach_recording(one, "one_squat")


def test_refuses_nothing_repeating(squats, library):
    still = np.repeat(squats.landmarks[:1], 300, axis=0).copy()
    rng = np.random.default_rng(0)
    still[..., :2] += rng.normal(0, 0.002, still[..., :2].shape).astype(np.float32)
    rec = PoseRecording(still, np.arange(300, dtype=np.int64) * 33, squats.image_size)
    with pytest.raises(InputError, match="nothing repeats"):
        teach_recording(rec, "standing")


def test_refuses_an_unreadable_file(tmp_path, library):
    bad = tmp_path / "set.npz"
    bad.write_bytes(b"not a pose recording")
    with pytest.raises(InputError):
        teach_file(bad, "my_set")
    video = tmp_path / "set.mp4"
    video.write_bytes(b"\x00" * 100)
    with pytest.raises(InputError):
        teach_file(video, "my_set")
    with pytest.raises(InputError, match="no such file"):
        teach_file(tmp_path / "missing.npz", "my_set")


def test_export_and_import_carry_the_description_and_the_prototypes(squats, library, tmp_path):
    save_lesson(teach_recording(squats, "my_squat"))
    out = export("my_squat", tmp_path / "my_squat.toml")
    assert "recognizer_prototypes" in out.read_text()
    other = tmp_path / "client"
    name = import_file(out, folder=other, name="coach_squat")
    assert name == "coach_squat"
    assert (other / "coach_squat.npz").is_file()
    spec = load_spec_file(other / "coach_squat.toml")
    assert spec.signal == get_spec("my_squat").signal
    with pytest.raises(InputError, match="not a taught exercise"):
        export("squat", tmp_path / "x.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("name = \"x\"\n[count]\nrest = \"high\"\n")
    with pytest.raises(InputError):
        import_file(broken)


def test_a_broken_library_file_is_skipped_not_fatal(squats, library, caplog):
    save_lesson(teach_recording(squats, "my_squat"))
    (library / "broken.toml").write_text("this is not toml [")
    (library / "squat.toml").write_text((library / "my_squat.toml").read_text()
                                        .replace('name = "my_squat"', 'name = "squat"'))
    specs = catalog()
    assert "my_squat" in specs and "broken" not in specs
    assert specs["squat"] == builtin_catalog()["squat"]     # a shipped one is never shadowed
    assert sorted(user_catalog()) == ["my_squat"]


def test_auto_recognises_the_taught_exercise(squats, library):
    save_lesson(teach_recording(squats, "my_squat"))
    report = analyze_recording(squats, "auto").report
    assert [e.name for e in report.exercises] == ["my_squat"]
    assert report.total_reps >= 4
