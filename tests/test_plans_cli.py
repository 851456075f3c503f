"""`repsense plans` (list, show, add, remove) and `repsense analyze VIDEO --plan` on real labelled
clips through the real pose model: done/planned per step matches the clips' labels."""

from __future__ import annotations

import json

import pytest

from repsense.cli import main
from tests.conftest import DATA, require_data

PLAN = """
name = "Squats then push-ups"

[[steps]]
exercise = "squat"
sets = 1
reps = 3
rest_s = 20

[[steps]]
exercise = "push_up"
sets = 1
reps = 5
"""


@pytest.fixture
def db(tmp_path):
    return ["--db", f"sqlite:///{tmp_path / 'h.db'}", "--profile", "ann"]


def test_plans_list_add_show_remove(tmp_path, db, capsys):
    assert main(["plans", *db]) == 0
    out = capsys.readouterr().out
    assert "beginner_full_body   Beginner full body (built-in): 2 x 10 Squat, rest 60 s" in out
    f = tmp_path / "mine.toml"
    f.write_text(PLAN)
    assert main(["plans", "add", str(f), *db]) == 0
    added = capsys.readouterr().out
    assert added.startswith("added plan 'Squats then push-ups' as p")
    assert main(["plans", "list", "--json", *db]) == 0
    plans = json.loads(capsys.readouterr().out)["plans"]
    assert [p["name"] for p in plans][-1] == "Squats then push-ups"
    assert main(["plans", "show", "squats then push-ups", *db]) == 0
    shown = capsys.readouterr().out
    assert 'name = "Squats then push-ups"' in shown and 'exercise = "push_up"' in shown
    assert main(["plans", "remove", "Squats then push-ups", *db]) == 0
    assert "its sessions stay in the history" in capsys.readouterr().out
    assert main(["plans", "show", "Squats then push-ups", *db]) == 1
    assert "no plan 'Squats then push-ups'" in capsys.readouterr().err


@pytest.mark.parametrize("text,message", [
    ("name = \"x\"\n[[steps]]\nexercise = \"squat\"\nsets = 0\nreps = 5\n",
     "bad.toml: step 1 (squat): sets must be at least 1, got 0"),
    ("name = \"x\"\n[[steps]]\nexercise = \"plank\"\nsets = 1\nreps = 5\n",
     "plank is a timed hold: give hold_s"),
    ("name = \"x\"\n[[steps]]\nexercise = \"squatz\"\nsets = 1\nreps = 5\n",
     "unknown exercise 'squatz'"),
    ("name = \"x\"\n[[steps]]\nexercise = \"squat\"\nsets = 1\nreps = 5\nrest_s = -1\n",
     "rest_s cannot be negative"),
    ("name = ", "bad.toml: not valid TOML"),
])
def test_a_bad_plan_file_is_one_clear_line_and_exit_1(tmp_path, db, capsys, text, message):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    assert main(["plans", "add", str(f), *db]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert main(["analyze", str(f), "--plan", str(f), *db]) == 1   # before any video work
    assert message in capsys.readouterr().err


def test_analyze_with_an_unknown_plan(tmp_path, db, capsys):
    assert main(["analyze", str(tmp_path / "x.mp4"), "--plan", "no such plan", *db]) == 1
    assert "--plan no such plan: no such plan" in capsys.readouterr().err


@pytest.mark.slow
def test_analyze_a_real_clip_against_a_plan_file(tmp_path, db, capsys):
    clip = require_data("videos", "clips", "test_video_squat.mp4")   # 3 squats (labels.csv)
    f = tmp_path / "plan.toml"
    f.write_text(PLAN)
    out = tmp_path / "r.json"
    assert main(["analyze", str(clip), "--plan", str(f), "--json", str(out), "--store", *db]) == 0
    text = capsys.readouterr().out
    assert "plan Squats then push-ups: 38% of the planned work done" in text
    assert "1. Squat: 1/1 sets done, 3/3 reps (sets: 3/3)" in text
    assert "2. Push-up: 0/1 sets done, 0/5 reps (sets: none)" in text
    plan = json.loads(out.read_text())["inputs"][0]["plan"]
    assert [(s["done_total"], s["planned_total"]) for s in plan["steps"]] == [(3, 3), (0, 5)]
    assert main(["plans", "show", str(f), *db]) == 1          # a file is not a stored plan...
    capsys.readouterr()
    from repsense.store import Store
    from repsense.store.plans import plan_history

    with Store(db[1]) as store:                                 # ...but its session is kept
        (h,) = plan_history(store, None, "ann")
    assert (h["plan_id"], h["adherence"]) == ("plan", plan["adherence"])


@pytest.mark.slow
def test_analyze_a_real_clip_against_a_built_in_shaped_plan_splits_the_sets(tmp_path, db, capsys):
    require_data("videos", "clips", "MrPose_squat2.mp4")       # 6 squats in one run
    f = tmp_path / "two_sets.toml"
    f.write_text("name = \"Two sets\"\n[[steps]]\nexercise = \"squat\"\nsets = 2\nreps = 3\n")
    assert main(["analyze", str(DATA / "videos" / "clips" / "MrPose_squat2.mp4"),
                 "--plan", str(f), *db]) == 0
    text = capsys.readouterr().out
    assert "plan Two sets: 100% of the planned work done (complete)" in text
    assert "1. Squat: 2/2 sets done, 6/6 reps (sets: 3/3, 3/3)" in text
