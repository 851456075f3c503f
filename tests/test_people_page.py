"""The live page with several people: headless Chromium (Debian's chromium via Playwright) with a
fake camera playing the two-person video of bench/people_videos.py (a squat beside a push-up, each
a labelled dev clip). Two person cards appear, each counting its own person within one of their
clip's label, skeletons in the cards' colours, and a card clicked to name the person stores that
person's session under the name. Screenshot: out/screenshots/web-people-*.png."""

from __future__ import annotations

import json
import os
import shutil
import urllib.request

import pytest

from tests.browser import fake_camera_y4m, launch, pw_driver  # noqa: F401
from tests.conftest import need, require_data
from tests.test_web_e2e import need_vendor, open_page, server, shot  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def two_people_camera(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The two-person video as the .y4m Chromium's fake camera plays (800 px wide, 15 fps)."""
    require_data("videos", "clips", "labels.csv")
    need(shutil.which("ffmpeg") is not None, "ffmpeg")   # before building the video
    if "REPSENSE_PEOPLE_CACHE" not in os.environ:
        os.environ["REPSENSE_PEOPLE_CACHE"] = str(tmp_path_factory.getbasetemp() / "people")
    from bench import people_videos as pv

    spec = pv.SPECS["two"]
    video = pv.build(spec)
    out = fake_camera_y4m(video, tmp_path_factory.mktemp("camera") / "two.y4m",
                          vf="scale=800:-2,fps=15")
    truth = [pv.truth_count(p, spec.duration_s) for p in spec.parts]   # left, right
    return out, truth, spec.duration_s, pv.bounds(spec)


def test_two_people_get_a_card_each_counted_on_their_own(pw_driver, server, two_people_camera):  # type: ignore[no-untyped-def]
    need_vendor()
    camera, truth, seconds, cuts = two_people_camera
    browser = launch(pw_driver, camera)
    try:
        page = browser.new_page(viewport={"width": 1360, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.set_default_timeout(30_000)
        open_page(page, server, "?people=2")
        assert page.input_value("[data-testid=people-select]") == "2"
        page.wait_for_selector("[data-testid=start-session]:enabled")
        page.click("[data-testid=start-session]")
        page.wait_for_function("window.repsenseStats.session !== null")
        before = page.evaluate("window.repsenseStats.cameraStartedAt")
        page.dispatch_event("[data-testid=camera]", "change")     # the clip from its first frame
        page.wait_for_function(f"window.repsenseStats.cameraStartedAt > {before}")
        page.wait_for_function("document.querySelectorAll('[data-testid=person-card]').length >= 2",
                               timeout=30_000)
        t0 = page.evaluate("window.repsenseStats.poseFrames")
        ms = int((seconds + 0.5) * 1000)
        page.wait_for_function(
            f"performance.now() - window.repsenseStats.cameraStartedAt > {ms}", timeout=ms + 30_000)
        frames = page.evaluate("window.repsenseStats.poseFrames") - t0
        shot(page, "people", "two")
        people = page.evaluate("window.repsenseStats.people")
        cards = page.locator("[data-testid=person-card]")
        assert cards.count() == 2, people
        # each card's own count, against the label of the clip on its side
        by_side = sorted(people, key=lambda p: p["x"])
        for p, label, side in zip(by_side, truth, ("left", "right")):
            shown = int(page.get_attribute(
                f"[data-testid=person-card][data-person='{p['person']}'] [data-testid=rep-count]",
                "data-total"))
            assert shown == p["total"] and abs(shown - label) <= 1, (side, shown, label, people)
        assert by_side[0]["x"] < cuts[0] < by_side[1]["x"]
        print(f"page: {frames} pose frames in {seconds + 0.5:.1f} s with two people "
              f"({frames / (seconds + 0.5):.1f}/s); counts {[p['total'] for p in by_side]}, "
              f"truth {truth}")
        # naming the left person: a click on their card
        page.once("dialog", lambda d: d.accept("Ana"))
        page.click(f"[data-testid=person-card][data-person='{by_side[0]['person']}']")
        page.wait_for_function("window.repsenseStats.people.some((p) => p.profile === 'Ana')")
        page.click("[data-testid=end-session]")
        page.wait_for_selector("[data-testid=summary]:not([hidden])")
        shot(page, "people", "summary")
        with urllib.request.urlopen(f"{server}/api/history/sessions?profile=Ana", timeout=10) as r:
            stored = json.load(r)
        rows = stored["sessions"] if isinstance(stored, dict) else stored
        if len(rows) != 1:
            with urllib.request.urlopen(f"{server}/api/history/sessions", timeout=10) as r:
                print("HISTORY", json.load(r))
            print("PEOPLE", people, page.evaluate("window.repsenseStats.people"))
        assert len(rows) == 1 and rows[0]["total_reps"] == by_side[0]["total"], stored
        assert not errors, errors
    finally:
        browser.close()
