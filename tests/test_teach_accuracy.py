"""Teaching on the real labelled dev clips (bench/teach_accuracy.py): thresholds just under what
it measures (docs/teach.md), so teaching that gets worse fails here.

The poses are those of the ``dev_runs`` fixture (the real pose model over every dev clip), or of
a folder of ``<clip stem>.npz`` recordings named by ``REPSENSE_DEV_POSES`` (a pose cache).
"""

from __future__ import annotations

import os
import pathlib

import pytest

from bench import teach_accuracy as bench
from conftest import require_data

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def poses(request) -> pathlib.Path:  # type: ignore[no-untyped-def]
    require_data("videos", "clips", "labels.csv")
    if os.environ.get("REPSENSE_DEV_POSES"):
        return pathlib.Path(os.environ["REPSENSE_DEV_POSES"])
    runs = request.getfixturevalue("dev_runs")
    return pathlib.Path(next(iter(runs.values()))[2]).parent


def test_undescribed_exercises_taught_from_two_reps_count_their_clip(poses):
    rows = bench.undescribed(poses)
    assert sorted(r["exercise"] for r in rows) == sorted(bench.UNDESCRIBED)
    for r in rows:
        assert abs(r["taught"] - r["true"]) <= 1, r
    ok, nmae = bench.summary(rows, "taught")
    assert ok == 1.0 and nmae <= 0.05, rows


def test_described_exercises_taught_from_one_clip_count_the_others(poses):
    base = bench.baselines(poses)
    rows = [r for r in bench.described(poses) if "error" not in r]
    for r in rows:
        r.update(base[r["clip"]])
    # measured: squat 0.83 (generic 0.83), push-up 0.92 (0.67), curl 0.75 (0.56)
    floors = {"squat": 0.8, "push_up": 0.9, "biceps_curl": 0.7}
    for ex, floor in floors.items():
        got = [r for r in rows if r["exercise"] == ex]
        taught, generic = bench.summary(got, "taught"), bench.summary(got, "generic")
        assert taught[0] >= floor, (ex, taught)
        assert taught[0] >= generic[0], (ex, taught, generic)


# Dev clips auto takes for a taught exercise; the test fails when one of them is put right, so the
# list stays true. aiTrainer_squats stands between its squats with the hands clasped overhead, which
# the taught front raise matches: the recogniser goes back and forth between squat and the front
# raise, neither holds the 3.5 s auto waits for (tracker.AUTO_EVIDENCE_MS), and the one pending at
# the end of the clip is taken. Found when teaching and the evidence rule met on main.
KNOWN_CLAIMED = {"aiTrainer_squats"}


def test_auto_finds_each_taught_exercise_and_takes_no_other_clip_for_one(poses):
    rows = bench.auto_check(poses)
    own = [r for r in rows if r["taught"] != "-"]
    other = [r for r in rows if r["taught"] == "-"]
    assert len(own) == 14 and all(r["ok"] for r in own), [r for r in own if not r["ok"]]
    assert len(other) >= 30, len(other)
    assert {r["clip"] for r in other if not r["ok"]} == KNOWN_CLAIMED, \
        [r for r in other if not r["ok"] or r["clip"] in KNOWN_CLAIMED]
