"""The history page in a real headless Chromium (Debian's chromium via Playwright), served by the
web app over 1,000 generated sessions / 100,000 reps. Screenshots go to out/screenshots/
(``history-<state>.png``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from bench.history_scale import generate
from repsense.app.history import routes
from repsense.app.server import Settings, create_app
from repsense.store import Store
from tests.browser import SHOTS, chromium, need_chromium, screenshot, watched_page
from tests.conftest import ROOT, need, serve_app

CHART_JS = ROOT / "repsense" / "app" / "web" / "node_modules" / "chart.js" / "dist"




def serve(store: Store) -> Iterator[str]:
    """The web app with the history routes over ``store``, on a free port, in a thread."""
    with serve_app(create_app(Settings(extra_routes=routes(store)))) as url:
        yield url


@pytest.fixture(scope="module")
def big_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('history') / 'history.db'}")
    end = datetime.now(timezone.utc).timestamp()
    store.import_doc(generate(sessions=1000, reps_per_session=100, seed=11, end=end))
    yield from serve(store)
    store.close()


@pytest.fixture(scope="module")
def empty_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('empty') / 'history.db'}")
    yield from serve(store)
    store.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    need_chromium()
    need((CHART_JS / "chart.umd.min.js").exists(), "Chart.js from npm (setup.sh runs npm install)")
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    yield from watched_page(browser, viewport={"width": 1360, "height": 900},
                            console=lambda m: m.type == "error")


def shot(page, state: str, full: bool = True) -> None:  # type: ignore[no-untyped-def]
    screenshot(page, f"history-{state}", full_page=full)


def drawn(page, canvas: str) -> bool:  # type: ignore[no-untyped-def]
    """Chart.js made a chart on the canvas, with data."""
    return page.evaluate(f"""() => {{
        const c = Chart.getChart(document.getElementById('{canvas}'));
        return !!c && c.data.datasets.length > 0 && c.data.datasets.some(d => d.data.some(v => v));
    }}""")


def test_the_history_page_draws_every_chart_over_100k_reps(page, big_server):
    t0 = time.perf_counter()
    page.goto(f"{big_server}/history")
    page.wait_for_selector("body[data-ready='1']")
    took = time.perf_counter() - t0
    for canvas in ("chart-reps", "chart-volume", "chart-form", "chart-rom", "chart-faults"):
        assert drawn(page, canvas), canvas
    assert page.locator("#insights li").count() >= 2
    assert page.locator("#sessions tbody tr").count() == 50
    assert page.locator("#bests tbody tr").count() >= 4
    assert int(page.inner_text("#days-30")) > 0
    assert page.inner_text("#status") == ""
    shot(page, "everyone")
    assert took < 10, f"the page took {took:.1f} s"

    page.select_option("#profile", "ann")
    page.wait_for_function("() => new URL(location.href).searchParams.get('profile') === 'ann'")
    page.wait_for_function("() => [...document.querySelectorAll('#sessions tbody td:nth-child(2)')]"
                           ".every(td => td.textContent === 'ann')")
    page.click("#by-week")
    page.wait_for_function("() => Chart.getChart(document.getElementById('chart-reps'))"
                           ".data.labels.length < 40")
    page.select_option("#trend-exercise", "push_up")
    page.locator("#sessions tbody tr").first.click()
    page.wait_for_selector("#detail:not([hidden]) table")
    assert "Set" in page.inner_text("#detail")
    page.evaluate("window.scrollTo(0, 0)")
    shot(page, "ann-weeks-detail")
    page.click("#detail summary")
    assert page.locator("#detail details tbody tr").count() == 100
    page.locator("#detail").screenshot(path=str(SHOTS / "history-session-reps.png"))


def test_an_empty_history_says_so(page, empty_server):
    page.goto(f"{empty_server}/history")
    page.wait_for_selector("body[data-ready='1']")
    assert "Not enough sessions" in page.inner_text("#insights")
    assert page.inner_text("#last-session") == "none yet"
    assert "No sessions stored yet" in page.inner_text("#status")
    shot(page, "empty", full=False)


@pytest.fixture(scope="module")
def one_day_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Two clean sessions today: what a new user has after the first day."""
    store = Store(f"sqlite:///{tmp_path_factory.mktemp('one-day') / 'history.db'}")
    doc = generate(sessions=2, reps_per_session=12, seed=5, end=datetime.now(timezone.utc).timestamp())
    for s in doc["sessions"]:
        s["started_at"] = s["ended_at"] = datetime.now(timezone.utc).timestamp() - 600
        s["cues"] = []
        for r in s["reps"]:
            r["faults"], r["good"], r["form_score"] = [], True, 95.0
        for st in s["sets"]:
            st["good_reps"] = st["reps"]
    store.import_doc(doc)
    yield from serve(store)
    store.close()


def test_one_day_of_history_reads(page, one_day_server):
    """One day of data: the trend charts show their points (centred, not a dot at the edge), the
    bars stay slim, no faults says so, and one day / one week are singular."""
    page.goto(f"{one_day_server}/history")
    page.wait_for_selector("body[data-ready='1']")
    assert page.inner_text("#streak-now") == "1 day"
    assert page.inner_text("#streak-best") == "longest 1 day · 1 week in a row"
    assert page.inner_text("#weeks") == "1 active day in all"
    form = page.evaluate("""() => { const c = Chart.getChart(document.getElementById('chart-form'));
        const p = c.getDatasetMeta(0).data[0];
        return {radius: c.data.datasets[0].pointRadius, x: p.x, left: c.chartArea.left, right: c.chartArea.right,
                labels: c.data.labels.length}; }""")
    shot(page, "one-day")
    assert form["labels"] == 2 and form["radius"] >= 4, form    # a point per session, centred in its slot
    assert form["x"] > form["left"] + 0.15 * (form["right"] - form["left"]), form
    bar = page.evaluate("""() => { const c = Chart.getChart(document.getElementById('chart-reps'));
        return Math.max(...c.getDatasetMeta(0).data.map((b) => b.width)); }""")
    assert bar <= 56
    assert page.is_visible("[data-testid=faults-none]") and "No faults" in page.inner_text("[data-testid=faults-none]")
    assert not page.is_visible("#chart-faults")
    # nothing tall and empty between the header and the cards
    gap = page.evaluate("() => document.getElementById('cards').getBoundingClientRect().top"
                        " - document.querySelector('.topbar').getBoundingClientRect().bottom")
    assert gap < 60, gap
    shot(page, "one-day")
