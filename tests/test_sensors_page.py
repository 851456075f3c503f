"""The phone sensors page (/sensors) in a real headless Chromium (Debian's chromium via Playwright):
a real Exermote recording replayed as DeviceMotion / DeviceOrientation events at a phone's rate, in
real time, through the page and the server, counts what `repsense imu analyze` counts on the same
span; misbehaving sensors get their message. Screenshots go to out/screenshots/
(``sensors-<state>.png``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from repsense.app.server import Settings, create_app
from repsense.engine.events import RepCompleted
from repsense.imu.analysis import run_recording
from repsense.imu.recording import ImuRecording, load_csv
from repsense.store import Store
from tests.browser import chromium, screenshot, watched_page
from tests.conftest import require_data, serve_app
from tests.test_imu_browser import _recording_rows

pytestmark = pytest.mark.browser

RECORDING = "2017-04-22_15-22-00_Individual_1.csv"
SPAN = slice(900, 1500)        # 60 s: burpees and sit-ups (9 reps by `imu analyze`)
RATE_HZ = 60.0

REPLAY = """() => {
window.replay = (rows) => new Promise((resolve) => {
  const t0 = performance.now();
  let i = 0;
  const n = (v) => (v === null ? null : v);
  function tick() {
    const now = performance.now() - t0;
    while (i < rows.length && rows[i][0] <= now) {
      const r = rows[i++];
      window.dispatchEvent(new DeviceOrientationEvent('deviceorientation',
        { alpha: r[10], beta: r[11], gamma: r[12], absolute: false }));
      window.dispatchEvent(new DeviceMotionEvent('devicemotion', {
        acceleration: { x: n(r[1]), y: n(r[2]), z: n(r[3]) },
        accelerationIncludingGravity: { x: r[4], y: r[5], z: r[6] },
        rotationRate: { alpha: r[7], beta: r[8], gamma: r[9] }, interval: 16 }));
    }
    if (i < rows.length) setTimeout(tick, 4); else resolve(i);
  }
  tick();
});
}"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path_factory.mktemp('sensors') / 'history.db'}")
    yield s
    s.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    db = tmp_path_factory.mktemp("sensors-db") / "history.db"
    application = create_app(Settings(db_url=f"sqlite:///{db}", profile="phone-test"))
    application.state.db = db
    return application


@pytest.fixture(scope="module")
def server(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with serve_app(app) as url:
        yield (url, app.state.db)  # type: ignore[misc]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    yield from watched_page(browser, viewport={"width": 412, "height": 915}, device_scale_factor=1)


def shot(page, state: str) -> None:  # type: ignore[no-untyped-def]
    screenshot(page, f"sensors-{state}", full_page=True)


def status(page) -> str:  # type: ignore[no-untyped-def]
    return page.get_attribute('[data-testid="sensor-status"]', "data-code") or ""


def test_a_recording_replayed_as_phone_events_counts_like_imu_analyze(page, server) -> None:  # type: ignore[no-untyped-def]
    url, db = server
    rec = load_csv(require_data("exermote", RECORDING))
    sub = ImuRecording(rec.path, rec.samples[SPAN], rec.timestamp_ms[SPAN], rec.valid[SPAN], 10.0)
    expected = sum(isinstance(e, RepCompleted) for e in run_recording(sub))   # imu analyze's count
    assert expected >= 6
    rows = _recording_rows(sub, RATE_HZ)
    t0 = rows[0][0]
    rows = [[round(r[0] - t0, 2), *r[1:]] for r in rows]
    assert rows[-1][0] > 59_000

    page.goto(f"{url}/sensors")
    page.wait_for_selector('[data-testid="start-sensors"]:not([disabled])')
    shot(page, "before-permission")
    page.evaluate(REPLAY)
    page.click('[data-testid="start-sensors"]')
    page.wait_for_function("window.repsenseSensors.state.running")
    page.evaluate("rows => { window.replayDone = window.replay(rows); }", rows)
    page.wait_for_function("document.querySelector('[data-testid=rep-count]').dataset.total >= 3",
                           timeout=60_000)
    assert status(page) == "streaming"
    hz = float(page.get_attribute('[data-testid="sensor-rate"]', "data-hz") or 0)
    assert 40 <= hz <= 80
    shot(page, "counting")
    sent = page.evaluate("window.replayDone", )
    assert sent == len(rows)
    page.click('[data-testid="end-sensors"]')
    page.wait_for_selector('[data-testid="summary"]:not([hidden])', timeout=30_000)
    counted = int(page.get_attribute('[data-testid="rep-count"]', "data-total") or -1)
    shot(page, "ended")
    assert abs(counted - expected) <= 1, (counted, expected)
    # the sensor session is in the history as kind imu, with the page's count
    store = Store(f"sqlite:///{db}")
    try:
        [stored] = [s for s in store.list_sessions() if s["kind"] == "imu"]
        assert stored["total_reps"] == counted and stored["status"] == "ended"
    finally:
        store.close()


def test_a_browser_without_motion_events_says_so(page, server) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    import urllib.request

    with urllib.request.urlopen(f"{url}/", timeout=10) as r:   # the live page links here
        assert 'href="/sensors"' in r.read().decode()
    page.goto(f"{url}/sensors")
    page.click('[data-testid="start-sensors"]')
    page.wait_for_function("document.querySelector('[data-testid=sensor-status]').dataset.code === 'no-events'",
                           timeout=10_000)
    assert "phone" in page.inner_text('[data-testid="sensor-status"]')


def test_refused_permission_gets_a_clear_message(page, server) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    # as iOS Safari: motion access only through requestPermission(), here answered "denied"
    page.add_init_script("DeviceMotionEvent.requestPermission = async () => 'denied';")
    page.goto(f"{url}/sensors")
    page.click('[data-testid="start-sensors"]')
    page.wait_for_function("document.querySelector('[data-testid=sensor-status]').dataset.code === 'denied'")
    assert "Allow" in page.inner_text('[data-testid="sensor-status"]')
    assert not page.evaluate("window.repsenseSensors.state.running")
    shot(page, "denied")


def test_a_phone_that_stops_sending_is_told_and_keeps_its_session(page, server) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    page.goto(f"{url}/sensors")
    page.evaluate(REPLAY)
    page.click('[data-testid="start-sensors"]')
    flat = [[float(t), 0, 0, 0, 0, 0, 9.81, 0, 0, 0, 0, 0, 0] for t in range(0, 2000, 16)]
    page.evaluate("rows => window.replay(rows)", flat)
    page.wait_for_function("document.querySelector('[data-testid=sensor-status]').dataset.code === 'stalled'",
                           timeout=10_000)
    assert page.evaluate("window.repsenseSensors.state.session") is not None
    assert "What was counted is kept" in page.inner_text('[data-testid="sensor-status"]')
    shot(page, "stalled")


def test_a_slow_sensor_is_told(page, server) -> None:  # type: ignore[no-untyped-def]
    url, _ = server
    page.goto(f"{url}/sensors")
    page.evaluate(REPLAY)
    page.click('[data-testid="start-sensors"]')
    slow = [[float(t), 0, 0, 0, 0, 0, 9.81, 0, 0, 0, 0, 0, 0] for t in range(0, 6000, 83)]   # 12 Hz
    page.evaluate("rows => { window.slowDone = window.replay(rows); }", slow)
    page.wait_for_function("document.querySelector('[data-testid=sensor-status]').dataset.code === 'slow'",
                           timeout=10_000)
    assert "samples a second" in page.inner_text('[data-testid="sensor-status"]')


def test_the_phone_joins_a_camera_session(page, server, app) -> None:  # type: ignore[no-untyped-def]
    """A camera session runs on the server (started here in-process, as the live page would); the
    phone page lists it, joins it, and its samples go into the same session, now camera + phone."""
    url, _ = server
    manager = app.state.manager
    cam, _ = manager.start({"type": "start", "exercise": "squat", "source": "laptop camera"})
    try:
        page.goto(f"{url}/sensors")
        page.wait_for_selector('[data-testid="join-session"]')
        assert "laptop camera" in page.inner_text('[data-testid="join-list"]')
        page.click('[data-testid="join-session"]')
        page.wait_for_selector('[data-testid="join-list"] li[aria-selected="true"]')
        shot(page, "join")
        page.evaluate(REPLAY)
        page.click('[data-testid="start-sensors"]')
        flat = [[float(t), 0, 0, 0, 0, 0, 9.81, 0, 0, 0, 0, 0, 0] for t in range(0, 1500, 16)]
        page.evaluate("rows => window.replay(rows)", flat)
        page.wait_for_function("window.repsenseSensors.state.paired")
        page.wait_for_function("window.repsenseSensors.stats.frames > 0")
        assert cam.session.kind == "pair" and cam.motion is not None and cam.motion.events > 0
        # leaving does not end the camera's session
        page.click('[data-testid="end-sensors"]')
        page.wait_for_function("document.querySelector('[data-testid=sensor-status]').dataset.code === 'left'")
        assert not cam.session.ended
    finally:
        cam.handle({"type": "end"})
