"""Workout plans: the TOML format and every error of a bad plan, the built-ins, the guide's state
machine (tables of engine events -> states and prompts), a guided session over a real recording,
and the plans' store and progression rules on stored sessions."""

from __future__ import annotations

import pytest

from repsense.engine.events import HoldUpdated, RepCompleted
from repsense.errors import InputError
from repsense.plans import Guide, builtin_plans, load_plan_file, parse_plan, parse_plan_text
from repsense.pose import PoseRecording
from repsense.session import analyze_recording
from tests.conftest import ROOT

SAMPLE = ROOT / "repsense" / "samples" / "squats.npz"   # 5 squats (MIT-derived, samples/NOTICE)

GOOD = """
name = "Legs and core"
description = "squats then a plank"

[[steps]]
exercise = "squat"
sets = 3
reps = 10
rest_s = 45
rest_after_s = 90

[[steps]]
exercise = "plank"
sets = 2
hold_s = 30
rest_s = 30
"""


def test_a_plan_file_is_read_with_its_steps_and_written_back_the_same():
    plan = parse_plan_text(GOOD, "legs.toml")
    assert plan.name == "Legs and core" and len(plan.steps) == 2
    squat, plank = plan.steps
    assert (squat.exercise, squat.sets, squat.reps, squat.rest_s, squat.rest_after) == \
        ("squat", 3, 10, 45.0, 90.0)
    assert (plank.is_hold, plank.hold_s, plank.rest_after, plank.target) == (True, 30.0, 30.0, 30.0)
    assert squat.describe() == "3 x 10 Squat, rest 45 s"
    assert parse_plan_text(plan.to_toml()) == plan


def test_exercise_names_are_forgiving_about_case_dashes_and_spaces():
    plan = parse_plan({"name": "x", "steps": [{"exercise": "Push-Up", "sets": 1, "reps": 5}]})
    assert plan.steps[0].exercise == "push_up" and plan.steps[0].rest_s == 60.0


def step(**kw):
    return {"name": "p", "steps": [{"exercise": "squat", "sets": 3, "reps": 10, **kw}]}


BAD = [
    # (the document, what the error must say)
    ({"steps": [{"exercise": "squat", "sets": 1, "reps": 1}]}, "give the plan a name"),
    ({"name": "  ", "steps": []}, "give the plan a name"),
    ({"name": "x" * 81, "steps": [{"exercise": "squat", "sets": 1, "reps": 1}]}, "at most 80"),
    ({"name": "p"}, "at least one step"),
    ({"name": "p", "steps": []}, "at least one step"),
    ({"name": "p", "steps": "squat"}, "at least one step"),
    ({"name": "p", "steps": [], "colour": "red"}, "unknown keys ['colour']"),
    ({"name": "p", "steps": ["squat"]}, "a step is a table"),
    ({"name": "p", "steps": [{"exercise": "burpees2", "sets": 1, "reps": 5}]},
     "unknown exercise 'burpees2'; known: bench_press"),
    ({"name": "p", "steps": [{"sets": 1, "reps": 5}]}, "give the step's exercise"),
    (step(sets=0), "sets must be at least 1, got 0"),
    (step(sets=-2), "sets must be at least 1, got -2"),
    (step(sets=2.5), "sets must be a whole number, got 2.5"),
    (step(sets=True), "sets must be a whole number, got True"),
    (step(sets=21), "sets must be at most 20"),
    ({"name": "p", "steps": [{"exercise": "squat", "reps": 5}]}, "give the number of sets"),
    (step(reps=0), "reps must be at least 1, got 0"),
    (step(reps="ten"), "reps must be a whole number, got 'ten'"),
    ({"name": "p", "steps": [{"exercise": "squat", "sets": 1}]}, "give the reps of each set"),
    (step(rest_s=-5), "rest_s cannot be negative, got -5"),
    (step(rest_after_s=-1), "rest_after_s cannot be negative"),
    (step(rest_s=4000), "rest_s must be at most 1800 s"),
    (step(rest_s="long"), "rest_s must be a number of seconds"),
    (step(hold_s=30), "squat is counted in reps: give reps, not hold_s"),
    (step(weight=20), "unknown keys ['weight']"),
    ({"name": "p", "steps": [{"exercise": "plank", "sets": 1, "reps": 10}]},
     "plank is a timed hold: give hold_s (seconds per set), not reps"),
    ({"name": "p", "steps": [{"exercise": "plank", "sets": 1}]},
     "plank is a timed hold: give hold_s"),
    ({"name": "p", "steps": [{"exercise": "plank", "sets": 1, "hold_s": 0}]},
     "hold_s must be more than 0 s"),
    ({"name": "p", "steps": [{"exercise": "plank", "sets": 1, "hold_s": -10}]},
     "hold_s cannot be negative"),
]


@pytest.mark.parametrize("doc,message", BAD)
def test_every_bad_plan_is_refused_with_a_message_that_says_what_is_wrong(doc, message):
    with pytest.raises(InputError) as err:
        parse_plan(doc, "mine.toml")
    assert message in str(err.value)
    assert str(err.value).startswith("mine.toml")


def test_the_error_names_the_step_it_is_about():
    doc = {"name": "p", "steps": [{"exercise": "squat", "sets": 1, "reps": 5},
                                  {"exercise": "lunge", "sets": 0, "reps": 5}]}
    with pytest.raises(InputError, match=r"step 2 \(lunge\): sets must be at least 1"):
        parse_plan(doc, "p.toml")


def test_files_that_are_not_plans(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(InputError, match="bad.toml: not valid TOML"):
        load_plan_file(bad)
    with pytest.raises(InputError, match="cannot read the plan"):
        load_plan_file(tmp_path / "missing.toml")


def test_the_built_in_plans_use_only_exercises_repsense_counts():
    plans = builtin_plans()
    assert set(plans) == {"beginner_full_body", "upper_body", "legs", "seven_minute"}
    # the exercises with labelled clips in docs/benchmarks.md (counting accuracy measured)
    measured = {"biceps_curl", "deadlift", "jumping_jack", "lunge", "plank", "push_up", "sit_up",
                "squat"}
    for plan in plans.values():
        assert plan.builtin and plan.id and plan.name
        assert {s.exercise for s in plan.steps} <= measured, plan.id


# --- the guide: engine events in, states and prompts out -------------------------------------

def rep(end_s: float, exercise: str = "squat", dur_s: float = 2.0, good: bool = True,
        score: float = 90.0) -> RepCompleted:
    end = int(end_s * 1000)
    return RepCompleted(end, exercise=exercise, count=0, start_ms=end - int(dur_s * 1000),
                        end_ms=end, bottom_ms=end - 1000, concentric_s=1.0, eccentric_s=1.0,
                        rom_deg=90.0, form_score=score, good=good)


def plan_of(*steps):
    return parse_plan({"name": "t", "steps": list(steps)}, plan_id="t")


def test_a_set_is_done_at_its_target_then_the_rest_counts_down_and_the_next_set_starts():
    g = Guide(plan_of({"exercise": "squat", "sets": 2, "reps": 3, "rest_s": 20}))
    assert g.take_prompts() == [{"kind": "go", "text": "Squat: 3 reps, 2 sets"}]
    said = []
    for i in range(3):
        said += g.update([rep(2.0 + 2.1 * i)], int((2.0 + 2.1 * i) * 1000))
    st = g.state()
    assert (st["phase"], st["progress"], st["title"]) == ("rest", "3/3", "Squat · set 1 of 2")
    assert said == [{"kind": "set_done", "text": "Set done. Rest 20 seconds. Next: set 2 of 2"}]
    assert g.state(10_000)["rest_left_s"] == pytest.approx(16.2)
    assert g.update([], 15_000) == []
    assert g.update([], 16_300) == [{"kind": "countdown", "text": "10 seconds. Next: set 2 of 2"}]
    assert g.update([], 26_300) == [{"kind": "go", "text": "Set 2 of 2: 3 reps"}]
    st = g.state()
    assert (st["phase"], st["set"], st["progress"], st["next"]) == ("work", 2, "0/3", None)


def test_reps_past_the_target_still_count_and_a_rep_after_a_break_starts_the_next_set_early():
    g = Guide(plan_of({"exercise": "squat", "sets": 2, "reps": 2, "rest_s": 60}))
    g.update([rep(2), rep(4)], 4000)                 # target reached: rest
    g.update([rep(6), rep(8)], 8000)                 # following on without a break: set 1
    assert g.state()["phase"] == "rest" and g.state()["progress"] == "4/2"
    g.update([rep(20)], 20_000)                      # 12 s later: the next set, rest cut short
    st = g.state()
    assert (st["phase"], st["set"], st["progress"]) == ("work", 2, "1/2")
    g.update([rep(22)], 22_000)
    st = g.state()                                   # the last set's rest, then the summary
    assert (st["phase"], st["next"], st["rest_left_s"]) == ("rest", None, 60.0)
    assert g.update([], 82_000) == [{"kind": "done", "text": "Workout complete!"}]
    assert g.state()["phase"] == "done"
    result = g.result()
    assert [s["done"] for s in result["steps"][0]["sets"]] == [4, 2]
    assert result["adherence"] == 1.0 and result["complete"]


def test_skip_ends_a_set_short_or_a_rest_early_and_more_rest_pushes_the_end():
    g = Guide(plan_of({"exercise": "squat", "sets": 2, "reps": 5, "rest_s": 30},
                      {"exercise": "push_up", "sets": 1, "reps": 8}))
    g.update([rep(2), rep(4)], 4000)
    said = g.skip(5000)                              # tired: the set ends at 2 of 5
    assert said[0]["kind"] == "set_done" and g.state()["phase"] == "rest"
    assert g.state(5000)["rest_left_s"] == 30.0
    g.add_rest(6000)
    assert g.state(6000)["rest_left_s"] == 59.0
    g.skip(7000)                                     # rest over: set 2
    assert g.state()["set"] == 2 and g.state()["phase"] == "work"
    for i in range(5):
        g.update([rep(10 + 2 * i)], 10_000 + 2000 * i)
    st = g.state(18_000)
    assert st["phase"] == "rest" and st["next"]["display"] == "Push-up"
    assert g.exercise == "squat"                     # the last squat may still follow on
    g.update([], 22_000)
    assert g.exercise == "push_up"                   # a break: the engine counts push-ups now
    g.update([], 18_000 + 30_000 + 10)
    assert g.state()["exercise"] == "push_up"
    result = g.result()
    sq = result["steps"][0]
    assert [s["done"] for s in sq["sets"]] == [2, 5] and sq["sets_done"] == 1
    assert not sq["complete"] and result["adherence"] == pytest.approx(7 / 18, abs=1e-3)


def test_a_countdown_prompt_names_the_next_exercise():
    g = Guide(plan_of({"exercise": "squat", "sets": 1, "reps": 1, "rest_s": 30},
                      {"exercise": "push_up", "sets": 1, "reps": 8}))
    g.update([rep(2)], 2000)
    assert g.update([], 22_500) == [{"kind": "countdown", "text": "10 seconds. Next: push-ups"}]
    assert g.update([], 32_000) == [{"kind": "go", "text": "Push-up: 8 reps"}]


def test_a_hold_step_times_good_form_seconds_against_its_target():
    g = Guide(plan_of({"exercise": "plank", "sets": 2, "hold_s": 10, "rest_s": 15}))

    def hold(t, held, good, holding=True):
        return HoldUpdated(int(t * 1000), exercise="plank", held_s=held, holding=holding,
                           good_s=good)

    g.update([hold(5, 4, 4)], 5000)
    assert g.state()["progress"] == "4/10 s"
    g.update([hold(12, 11, 8)], 12_000)              # 11 s held, 3 of them with the hips low
    assert g.state()["phase"] == "work"
    said = g.update([hold(14, 13, 10)], 14_000)
    assert said[0]["kind"] == "set_done" and g.state()["phase"] == "rest"
    g.update([hold(16, 15, 12, holding=False)], 16_000)   # held on past the target: counts
    g.update([], 29_000)
    st = g.state()
    assert (st["phase"], st["set"], st["progress"]) == ("work", 2, "0/10 s")
    g.update([hold(35, 25, 22)], 35_000)             # the second hold: from the new baseline
    assert g.state()["progress"] == "10/10 s" and g.state()["phase"] == "rest"
    s = g.result()["steps"][0]
    assert [x["done"] for x in s["sets"]] == [12, 10]
    assert s["good_share"] == pytest.approx(22 / 25, abs=1e-3)


def test_a_guided_session_over_a_real_recording_counts_its_set_and_switches_exercise():
    rec = PoseRecording.load(SAMPLE)
    g = Guide(plan_of({"exercise": "squat", "sets": 1, "reps": 5, "rest_s": 20}))
    analyze_recording(rec, guide=g)
    result = g.result()
    assert result["steps"][0]["sets"][0]["done"] == 5 and result["complete"]
    assert g.state()["progress"] == "5/5"

    two = Guide(plan_of({"exercise": "squat", "sets": 1, "reps": 3, "rest_s": 1},
                        {"exercise": "push_up", "sets": 1, "reps": 3}))
    a = analyze_recording(rec, guide=two)
    switched = [e.exercise for e in a.events if e.type == "ExerciseDetected"]
    assert switched == ["squat", "push_up"]          # the engine counts the next step's exercise
    res = two.result()
    assert res["steps"][0]["done_total"] == 3 and res["steps"][1]["done_total"] == 0
    assert res["adherence"] == 0.5
