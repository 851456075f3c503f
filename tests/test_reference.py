"""The reference animation of every exercise: generated, never a picture; the engine's own
description of the exercise counts one good rep per loop of it (a hold: held nearly throughout)."""

from __future__ import annotations

import numpy as np
import pytest

from repsense.engine.events import FormWarning, HoldUpdated, RepCompleted
from repsense.engine.exercises import catalog
from repsense.engine.tracker import Tracker
from repsense.plans.reference import FPS, IMAGE, REFERENCES, frames, reference


def test_every_exercise_has_a_reference_with_a_cue():
    assert set(REFERENCES) == set(catalog())
    for name, ref in REFERENCES.items():
        assert ref.cue.endswith(".") and len(ref.cue) < 90, name


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_the_engine_counts_each_loop_of_the_reference_as_one_good_rep(name):
    poses = frames(REFERENCES[name], reps=3)
    assert poses.dtype == np.float32 and poses.shape[1:] == (33, 4)
    xy = poses[:, :, :2]
    assert 0.0 <= xy.min() and xy.max() <= 1.0, "the figure stays in the frame"
    tracker = Tracker(name, aspect=IMAGE[0] / IMAGE[1])
    events = []
    for i, pose in enumerate(poses):
        events += tracker.update(pose, int(i * 1000 / FPS))
    events += tracker.finish()
    reps = [e for e in events if isinstance(e, RepCompleted)]
    cues = [e.code for e in events if isinstance(e, FormWarning)]
    if catalog()[name].is_hold:
        held = max(e.held_s for e in events if isinstance(e, HoldUpdated))
        assert held >= 0.8 * len(poses) / FPS
    else:
        assert len(reps) == 3
        assert all(r.good and not r.faults for r in reps), [r.faults for r in reps]
    assert cues == []


def test_the_api_form_of_a_reference():
    doc = reference("push_up")
    assert doc["cue"] == "Chest to the floor, body straight from shoulders to heels."
    assert doc["fps"] == FPS and len(doc["frames"]) == len(frames(REFERENCES["push_up"]))
    assert len(doc["frames"][0]) == 33 and len(doc["frames"][0][0]) == 3


def test_the_reference_over_http():
    from starlette.testclient import TestClient

    from repsense.app.server import Settings, create_app

    with TestClient(create_app(Settings())) as c:
        r = c.get("/api/exercises/squat/reference")
        assert r.status_code == 200 and r.json()["display"] == "Squat"
        assert c.get("/api/exercises/nope/reference").status_code == 404
