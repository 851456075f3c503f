"""The page's "Teach a new exercise" in a real headless Chromium: record a set with the (fake)
camera, find the reps, save it, and find it in the exercise list. The camera plays a labelled
clip of three squats (tests/test_web_e2e.py); screenshots go to out/screenshots/."""

from __future__ import annotations

import pytest

from tests.browser import browser, pw_driver  # noqa: F401
from tests.test_web_e2e import (api, fake_camera, need_vendor, open_page, page, server,  # noqa: F401
                                shot, wait_pass_over)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def own_library(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """This module's server keeps what the page teaches in a library of its own: a taught squat
    left in the session's library would be what auto finds in the other page tests' squats."""
    mp = pytest.MonkeyPatch()
    mp.setenv("REPSENSE_EXERCISES", str(tmp_path_factory.mktemp("taught")))
    yield
    mp.undo()


def test_teach_a_set_recorded_with_the_camera(page, server: str) -> None:  # noqa: F811
    need_vendor()
    open_page(page, server)
    page.wait_for_selector("[data-testid=start-session]:enabled")
    page.fill("[data-testid=teach-name]", "camera squat")
    page.click("[data-testid=teach-record]")          # starts a session, recording armed
    page.wait_for_function("window.repsenseStats.session !== null")
    before = page.evaluate("window.repsenseStats.cameraStartedAt")
    page.dispatch_event("[data-testid=camera]", "change")   # the clip from its first frame
    page.wait_for_function(f"window.repsenseStats.cameraStartedAt > {before}")
    shot(page, "teach", "recording")
    wait_pass_over(page)
    page.click("[data-testid=teach-record]")          # the set is done
    page.wait_for_selector("[data-testid=teach-find]:enabled")
    page.click("[data-testid=teach-find]")
    page.wait_for_selector("[data-testid=teach-result]:not([hidden])", timeout=60_000)
    page.wait_for_function("document.querySelector('[data-testid=teach-plot]').naturalWidth > 0")
    summary = page.inner_text("#teach-summary")
    reps = int(summary.split(" reps")[0])
    assert 2 <= reps <= 4, summary                   # three squats; the clip loops
    assert 'name = "camera_squat"' in page.text_content("[data-testid=teach-text]")
    page.locator("[data-testid=teach-result]").scroll_into_view_if_needed()
    shot(page, "teach", "reps-found")
    page.click("[data-testid=teach-save]")
    page.wait_for_function("document.querySelector('[data-testid=teach-status]').dataset.kind === 'done'")
    shot(page, "teach", "saved")
    listed = {e["name"]: e for e in api(server, "/api/exercises")}
    assert listed["camera_squat"]["taught"] is True
    options = page.eval_on_selector_all("#exercise-select option", "os => os.map(o => o.value)")
    assert "camera_squat" in options
