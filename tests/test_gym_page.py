"""The gym page in a real headless Chromium (Debian's chromium via Playwright): nodes publishing on
the broker appear as cards with exercise, count, last cue and online/offline, live. Screenshot:
out/screenshots/gym.png."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

pytest.importorskip("playwright.sync_api")

from repsense.app.gym import install  # noqa: E402
from repsense.app.server import Settings, create_app  # noqa: E402
from repsense.mqtt_broker import EmbeddedBroker  # noqa: E402
from repsense.engine.events import ExerciseDetected, FormWarning, HoldUpdated, RepCompleted  # noqa: E402
from repsense.sinks.mqtt import BrokerAddress, EventPublisher, MqttLink, Outbox, Topics  # noqa: E402
from tests.browser import chromium, need_chromium, screenshot  # noqa: E402
from tests.conftest import serve_app  # noqa: E402


@pytest.fixture
def gym_server(tmp_path: pathlib.Path) -> Iterator[tuple[str, str]]:
    need_chromium()
    with EmbeddedBroker("127.0.0.1", 0) as broker:
        settings = Settings(work_dir=tmp_path)
        install(settings, broker.url)
        with serve_app(create_app(settings)) as url:
            yield url, broker.url


def _node(url: str, node: str) -> EventPublisher:
    link = MqttLink(BrokerAddress.parse(url, env={}), f"page-test-{node}", outbox=Outbox(None),
                    status_topic=Topics().status(node)).start()
    assert link.wait_connected(10)
    return EventPublisher(link, node, f"s{node[-1]}", own_link=True)


def test_gym_page_shows_the_nodes_live(gym_server: tuple[str, str]) -> None:
    from playwright.sync_api import expect

    base, broker_url = gym_server
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1100, "height": 700})
        page.goto(f"{base}/gym")
        expect(page.get_by_test_id("connection")).to_have_text("live", timeout=15000)
        expect(page.get_by_test_id("empty")).to_be_visible()
        rack, plank = _node(broker_url, "rack-1"), _node(broker_url, "mat-2")
        rack.emit([ExerciseDetected(10, exercise="squat")] + [
            RepCompleted(1000 * i, exercise="squat", count=i, start_ms=1000 * i - 900, end_ms=1000 * i,
                         bottom_ms=1000 * i - 400, concentric_s=0.4, eccentric_s=0.5, rom_deg=95.0)
            for i in (1, 2, 3)])
        rack.emit([FormWarning(3100, exercise="squat", code="not_deep",
                               message="Go deeper: hips down to knee height.")])
        plank.emit([ExerciseDetected(10, exercise="plank"),
                    HoldUpdated(20_000, exercise="plank", held_s=20.4, holding=True)])
        card = page.locator('[data-node="rack-1"]')
        expect(card.locator('[data-field="count"]')).to_have_text("3", timeout=15000)
        expect(card.locator('[data-field="exercise"]')).to_have_text("Squat")   # the catalogue's display name, as every page writes it
        expect(card.locator('[data-field="cue"]')).to_have_text("Go deeper: hips down to knee height.")
        expect(card.locator('[data-field="state"]')).to_have_text("online")
        mat = page.locator('[data-node="mat-2"]')
        expect(mat.locator('[data-field="count"]')).to_have_text("20", timeout=15000)
        expect(mat.locator('[data-field="unit"]')).to_have_text("s held")
        plank.close()   # clean exit: retained "offline"
        expect(mat.locator('[data-field="state"]')).to_have_text("offline", timeout=15000)
        expect(page.get_by_test_id("empty")).to_be_hidden()
        screenshot(page, "gym")
        # A page opened now gets the whole gym at once.
        other = browser.new_page()
        other.goto(f"{base}/gym")
        expect(other.locator('[data-node="rack-1"] [data-field="count"]')).to_have_text("3", timeout=15000)
        expect(other.get_by_test_id("node")).to_have_count(2)
        rack.close()


def test_a_node_that_follows_several_people_shows_one_row_per_person(
        gym_server: tuple[str, str]) -> None:
    from playwright.sync_api import expect

    base, broker_url = gym_server
    link = MqttLink(BrokerAddress.parse(broker_url, env={}), "page-test-class", outbox=Outbox(None),
                    status_topic=Topics().status("class-1")).start()
    assert link.wait_connected(10)
    people = {pid: EventPublisher(link, "class-1", f"p{pid}", person=pid) for pid in (1, 2)}
    with chromium() as browser:
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 600})
            page.goto(f"{base}/gym")
            expect(page.get_by_test_id("connection")).to_have_text("live", timeout=15000)
            for pid, exercise, reps in ((1, "squat", 3), (2, "push_up", 2)):
                people[pid].emit([ExerciseDetected(10, exercise=exercise)] + [
                    RepCompleted(1000 * i, exercise=exercise, count=i, start_ms=1000 * i - 900,
                                 end_ms=1000 * i, bottom_ms=1000 * i - 400, concentric_s=0.4,
                                 eccentric_s=0.5, rom_deg=95.0) for i in range(1, reps + 1)])
            card = page.locator('[data-node="class-1"]')
            rows = card.get_by_test_id("person-row")
            expect(rows).to_have_count(2, timeout=15000)
            expect(rows.nth(0)).to_have_text("person 1 squat: 3 reps", timeout=15000)
            expect(rows.nth(1)).to_have_text("person 2 push up: 2 reps", timeout=15000)
            expect(card.locator('[data-field="total"]')).to_have_text(
                "2 people, 5 reps this session")
            screenshot(page, "gym_people")
        finally:
            link.close()
