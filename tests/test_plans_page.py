"""A guided workout on the live page in headless Chromium, with a fake camera playing a real
labelled clip: a one-step plan (squat, 1 set of 5, rest 20 s) shows the reference animation, the
progress to 5/5, "set done" (shown and spoken), the rest timer counting down, and the summary with
the step done; the plan editor adds and removes a plan. Screenshots: out/screenshots/plans-*.png.
"""

from __future__ import annotations

import json
import pathlib
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.browser import (browser, fake_camera_y4m, pw_driver, repsense_serve,  # noqa: F401
                           screenshot, watched_page)
from tests.conftest import ROOT, require_data
from tests.test_web_e2e import need_vendor

pytestmark = pytest.mark.browser

# Air squats side-on, hands at the chest: 6 reps between 6.6 and 19.3 s (labels.csv);
# the page counts at least 5 in a pass.
CLIP = "MrPose_squat2.mp4"
TARGET = 5
REST_S = 20
DB: dict[str, str] = {}          # the server's database URL (the progression test writes to it)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`repsense serve` with its own history database; yields its base URL."""
    folder = tmp_path_factory.mktemp("serve")
    DB["url"] = f"sqlite:///{folder / 'h.db'}"
    with repsense_serve(folder, "--db", DB["url"]) as base:
        yield base


@pytest.fixture(scope="module")
def fake_camera(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    clip = require_data("videos", "clips", CLIP)
    return fake_camera_y4m(clip, tmp_path_factory.mktemp("camera") / "camera.y4m")


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    yield from watched_page(browser, viewport={"width": 1360, "height": 1000}, accept_dialogs=True)


def shot(page, state: str) -> None:  # type: ignore[no-untyped-def]
    screenshot(page, f"plans-{state}", full_page=True)


def post(server: str, path: str, doc: dict) -> dict:
    req = urllib.request.Request(f"{server}{path}", data=json.dumps(doc).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def test_a_one_step_plan_is_guided_from_the_reference_to_the_summary(page, server):  # type: ignore[no-untyped-def]
    need_vendor()
    plan_id = post(server, "/api/plans", {"name": "Five squats", "steps": [
        {"exercise": "squat", "sets": 1, "reps": TARGET, "rest_s": REST_S}]})["id"]
    page.goto(server)
    page.wait_for_selector("body[data-ready=true]")
    assert page.input_value("[data-testid=plan]") == ""                 # free training
    page.select_option("[data-testid=plan]", plan_id)
    page.wait_for_function("document.querySelector('[data-testid=plan-steps]').children.length"
                           " === 1")
    assert page.is_disabled("[data-testid=exercise-select]")      # the plan names the exercise
    page.wait_for_selector("[data-testid=start-session]:enabled")
    page.click("[data-testid=start-session]")
    page.wait_for_function("window.repsenseStats.session !== null")
    before = page.evaluate("window.repsenseStats.cameraStartedAt")
    page.dispatch_event("[data-testid=camera]", "change")                 # the clip from its start
    page.wait_for_function(f"window.repsenseStats.cameraStartedAt > {before}")
    # the step's reference animation, before the first rep
    page.wait_for_selector("[data-testid=plan-reference]:not([hidden])")
    page.wait_for_function("Number(document.querySelector('[data-testid=reference-canvas]')"
                           ".dataset.frame) > 0")
    assert page.inner_text("[data-testid=plan-title]") == "Squat · set 1 of 1"
    assert page.inner_text("[data-testid=plan-progress]") == f"0/{TARGET}"
    assert "Hips back and down" in page.inner_text("[data-testid=reference-cue]")
    shot(page, "1-reference")

    progress = "document.querySelector('[data-testid=plan-progress]')"
    page.wait_for_function(f"{progress}.textContent === '{TARGET}/{TARGET}'", timeout=90_000)
    shot(page, "2-target")
    page.wait_for_selector("[data-testid=set-done]:not([hidden])")
    assert page.inner_text("[data-testid=set-done]") == "Set done"
    assert any(t.startswith("Set done") for t in page.evaluate("window.repsenseStats.spoken"))

    rest = "document.querySelector('[data-testid=rest-timer]')"
    page.wait_for_selector("[data-testid=rest-timer]:not([hidden])")
    first = float(page.get_attribute("[data-testid=rest-timer]", "data-left"))
    assert 10 < first <= REST_S
    page.wait_for_function(f"Number({rest}.dataset.left) < {first - 2}")
    second = float(page.get_attribute("[data-testid=rest-timer]", "data-left"))
    assert second < first - 2
    shot(page, "3-rest")
    page.wait_for_function(f"Number({rest}.dataset.left) < 9.5", timeout=30_000)
    page.wait_for_function("window.repsenseStats.spoken.some((t) => t.startsWith('10 seconds'))")

    # the rest over: the plan is done, the session ends, the summary compares done with planned
    page.wait_for_selector("[data-testid=plan-summary]", timeout=60_000)
    page.wait_for_selector("[data-testid=summary]:not([hidden])")
    row = "[data-testid=plan-summary] tr[data-exercise=squat]"
    assert page.get_attribute(row, "data-complete") == "true"
    cells = page.inner_text(row)
    assert "1/1" in cells and f"/{TARGET}" in cells
    assert float(page.get_attribute("[data-testid=plan-summary]", "data-adherence")) == 1.0
    shot(page, "4-summary")

    with urllib.request.urlopen(f"{server}/api/plans/{plan_id}/next", timeout=10) as r:
        nxt = json.load(r)
    assert [s["adherence"] for s in nxt["sessions"]] == [1.0]
    page.goto(f"{server}/history")                       # each plan's sessions, adherence
    page.wait_for_selector(f"#plans-history tr[data-plan={plan_id}]")
    assert "100%" in page.inner_text(f"#plans-history tr[data-plan={plan_id}]")
    shot(page, "5-history")


def test_the_plan_editor_adds_edits_and_removes_a_plan(page, server):  # type: ignore[no-untyped-def]
    page.goto(server)
    page.wait_for_selector("body[data-ready=true]")
    page.click("[data-testid=plan-new]")
    page.fill("[data-testid=plan-editor-name]", "Push day")
    row = "[data-testid=plan-editor-steps] li"
    page.select_option(f"{row} >> nth=0 >> [data-f=exercise]", "push_up")
    page.fill(f"{row} >> nth=0 >> [data-f=target]", "12")
    page.click("[data-testid=plan-editor-add]")
    page.select_option(f"{row} >> nth=1 >> [data-f=exercise]", "plank")
    assert page.inner_text(f"{row} >> nth=1 >> [data-f=unit]") == "hold s"
    page.fill(f"{row} >> nth=1 >> [data-f=rest_s]", "-5")
    page.click("[data-testid=plan-editor-save]")
    page.wait_for_function("document.querySelector('[data-testid=plan-editor-error]')"
                           ".textContent.includes('cannot be negative')")
    shot(page, "6-editor-error")
    page.fill(f"{row} >> nth=1 >> [data-f=rest_s]", "30")
    page.click("[data-testid=plan-editor-save]")
    page.wait_for_selector("[data-testid=plan-editor]", state="hidden")
    picked = page.input_value("[data-testid=plan]")
    assert picked and "Push day" in page.inner_text("[data-testid=plan]")
    page.wait_for_function("document.querySelector('[data-testid=plan-steps]')"
                           ".textContent.includes('3 × 12')")
    page.click("[data-testid=plan-reference-btn]")            # the reference on demand
    page.wait_for_function("Number(document.querySelector('[data-testid=reference-canvas]')"
                           ".dataset.frame) > 0")
    assert "Chest to the floor" in page.inner_text("[data-testid=reference-cue]")
    shot(page, "7-editor-saved")
    page.click("[data-testid=plan-delete]")
    page.wait_for_function(f"![...document.querySelectorAll('[data-testid=plan] option')]"
                           f".some((o) => o.value === '{picked}')")
    assert page.input_value("[data-testid=plan]") == ""


def test_after_two_good_sessions_the_page_suggests_more_and_accepting_raises_the_target(page, server):  # type: ignore[no-untyped-def]
    from repsense.plans import Guide
    from repsense.pose import PoseRecording
    from repsense.session import analyze_recording
    from repsense.store import Store, StoreSink
    from repsense.store.plans import find_plan

    plan_id = post(server, "/api/plans", {"name": "Progressing squats", "steps": [
        {"exercise": "squat", "sets": 1, "reps": 5, "rest_s": 20}]})["id"]
    sample = PoseRecording.load(ROOT / "repsense" / "samples" / "squats.npz")  # 5 good squats
    with Store(DB["url"]) as store:
        plan = find_plan(store, plan_id)
        for day in (1.0, 2.0):                       # two sessions, every rep in good form
            guide = Guide(plan)
            analyze_recording(sample, guide=guide, sinks=[StoreSink(
                store, started_at=time.time() - 86400 * (3 - day), plan_result=guide.result)])
    page.goto(server)
    page.wait_for_selector("body[data-ready=true]")
    page.select_option("[data-testid=plan]", plan_id)
    page.wait_for_selector("[data-testid=plan-suggestions]:not([hidden])")
    text = page.inner_text("[data-testid=plan-suggestions]")
    assert "every set done with good form two sessions running. Try 6 reps (from 5 reps)" in text
    assert "last time 100% done" in page.inner_text("[data-testid=plan-info]")
    shot(page, "8-suggestion")
    page.click("[data-testid=plan-accept]")
    page.wait_for_function("document.querySelector('[data-testid=plan-steps]')"
                           ".textContent.includes('1 × 6')")
    page.wait_for_selector("[data-testid=start-session]:enabled")
    page.click("[data-testid=start-session]")             # the session asks for 6
    page.wait_for_selector("[data-testid=plan-panel]:not([hidden])")
    assert page.inner_text("[data-testid=plan-progress]") == "0/6"
    shot(page, "9-accepted")
    page.click("[data-testid=end-session]")
