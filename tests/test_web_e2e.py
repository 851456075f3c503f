"""End to end: the live page of ``repsense serve`` in a real headless Chromium (Debian's chromium,
driven by Playwright; no browser download) with a fake camera fed from a real labelled clip.

Chromium loops the fake camera's file and starts it from its first frame whenever the camera is
opened, so a test that needs one clean pass re-opens the camera (as a user re-picking it in the
Camera list does) right after starting the session and ends the session when one pass is over.
Screenshots of every state go to out/screenshots/ (``web-<test>-<state>.png``).
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.browser import (SHOTS, browser, camera_browser, fake_camera_y4m, launch,  # noqa: F401
                           pw_driver, repsense_serve, screenshot, watched_page)
from tests.conftest import ROOT, need, require_data

pytestmark = pytest.mark.browser

VENDOR = ROOT / "repsense" / "app" / "web" / "node_modules" / "@mediapipe" / "tasks-vision"
# A side view, 3 clear squats in 10.7 s; `repsense analyze` counts 3 on it (auto and squat).
CLIP = "test_video_squat.mp4"
CLIP_COUNT = 3
CLIP_S = 10.733
TOLERANCE = 1          # what `analyze` meets on the labelled clips (tests/test_dev_clips.py)
DEMO_SQUATS = 5        # repsense/samples/squats.npz
# Shipped with the tests (CC0, tests/fixtures/NOTICE): 4 lunges in 13 s, side view, so a browser
# test runs without ../shared.
SHIPPED = ROOT / "tests" / "fixtures" / "lunge.mp4"
SHIPPED_REPS = 4
SHIPPED_S = 13.0
PHASE_WORDS = {"going down", "coming up", "ready"}




@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`repsense serve` on a free port of 127.0.0.1; yields its base URL."""
    with repsense_serve(tmp_path_factory.mktemp("serve")) as base:
        yield base


@pytest.fixture(scope="module")
def fake_camera(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The labelled clip as the .y4m file Chromium's fake camera plays (640x360, 15 fps)."""
    clip = require_data("videos", "clips", CLIP)
    return fake_camera_y4m(clip, tmp_path_factory.mktemp("camera") / "camera.y4m")


@pytest.fixture(scope="module")
def shipped_camera(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """The shipped lunge clip as the fake camera's .y4m (640x360, 15 fps)."""
    return fake_camera_y4m(SHIPPED, tmp_path_factory.mktemp("shipped") / "camera.y4m")


@pytest.fixture(scope="module")
def shipped_browser(pw_driver, shipped_camera: pathlib.Path) -> Iterator[object]:  # type: ignore[no-untyped-def]
    yield from camera_browser(pw_driver, shipped_camera)


def _page(browser):  # type: ignore[no-untyped-def]
    # MediaPipe's own INFO lines ("Created TensorFlow Lite XNNPACK delegate") must not reach the
    # console at error level (they are not errors); other console errors are not judged here
    yield from watched_page(browser, viewport={"width": 1360, "height": 900}, accept_downloads=True,
                            console=lambda m: m.type == "error" and "INFO:" in m.text)


@pytest.fixture
def page(browser, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    yield from _page(browser)


@pytest.fixture
def shipped_page(shipped_browser):  # type: ignore[no-untyped-def]
    """A page whose camera plays the shipped clip: these tests run everywhere."""
    yield from _page(shipped_browser)


def shot(page, test: str, state: str) -> None:  # type: ignore[no-untyped-def]
    screenshot(page, f"web-{test}-{state}")


def open_page(page, server: str, query: str = "") -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server}/{query}")
    page.wait_for_selector("body[data-ready=true]")


def need_vendor() -> None:
    need((VENDOR / "vision_bundle.mjs").exists(),
          "the page's npm packages (cd repsense/app/web && npm install)")


def count(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.get_attribute("[data-testid=rep-count]", "data-count"))


def total(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.get_attribute("[data-testid=rep-count]", "data-total"))


SKELETON_PIXELS = """() => {
    const c = document.querySelector('[data-testid=skeleton]');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n; }"""


def see_skeleton(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until the overlay canvas shows a skeleton (> 500 drawn pixels over the video); a
    single frame may have nobody in it, so this polls."""
    page.wait_for_function(f"({SKELETON_PIXELS})() > 500", timeout=20_000)


def start_one_pass(page) -> None:  # type: ignore[no-untyped-def]
    """Start a session, then re-open the camera so the clip plays from its first frame."""
    page.wait_for_selector("[data-testid=start-session]:enabled")
    page.click("[data-testid=start-session]")
    page.wait_for_function("window.repsenseStats.session !== null")
    before = page.evaluate("window.repsenseStats.cameraStartedAt")
    page.dispatch_event("[data-testid=camera]", "change")
    page.wait_for_function(f"window.repsenseStats.cameraStartedAt > {before}")


def wait_pass_over(page, margin_s: float = 0.3, clip_s: float = CLIP_S) -> None:  # type: ignore[no-untyped-def]
    ms = int((clip_s + margin_s) * 1000)
    page.wait_for_function(
        f"performance.now() - window.repsenseStats.cameraStartedAt > {ms}", timeout=ms + 30_000)


def end_and_summary(page) -> dict:  # type: ignore[no-untyped-def]
    page.click("[data-testid=end-session]")
    page.wait_for_selector("[data-testid=summary]:not([hidden])")
    return {"total": int(page.get_attribute("[data-testid=summary]", "data-total")),
            "session": page.get_attribute("[data-testid=summary]", "data-session")}


def api(server: str, path: str) -> dict:
    with urllib.request.urlopen(f"{server}{path}", timeout=10) as r:
        return json.load(r)


def test_live_session_counts_the_clip(page, server: str) -> None:  # type: ignore[no-untyped-def]
    need_vendor()
    open_page(page, server)
    shot(page, "live", "ready")
    assert "pose in the browser" in page.inner_text("[data-testid=status]")
    assert page.evaluate("window.repsenseStats.modelWhere") == "worker"
    start_one_pass(page)
    page.wait_for_function("Number(document.querySelector('[data-testid=skeleton]')"
                           ".dataset.drawn) > 5")
    see_skeleton(page)
    page.wait_for_function("document.querySelector('[data-testid=rep-count]').dataset.count >= 1",
                           timeout=40_000)
    shot(page, "live", "counting")
    wait_pass_over(page)
    shown = total(page)
    assert page.get_attribute("[data-testid=exercise]", "data-exercise") == "squat"
    assert "Squat" in page.inner_text("[data-testid=exercise]")
    status = page.inner_text("[data-testid=status]")
    assert "frames processed" in status and "pose in the browser" in status
    assert int(page.get_attribute("[data-testid=status]", "data-frames")) > 50
    assert page.get_attribute("[data-testid=form-panel]", "data-state") in ("good", "warn",
                                                                           "neutral")
    shot(page, "live", "one-pass")
    assert abs(shown - CLIP_COUNT) <= TOLERANCE, f"the page counted {shown}, label {CLIP_COUNT}"
    summary = end_and_summary(page)
    shot(page, "live", "summary")
    # ending closes a rep in progress: the page then shows the summary's count
    assert summary["total"] == total(page)
    assert abs(summary["total"] - CLIP_COUNT) <= TOLERANCE
    assert "Squat" in page.inner_text("[data-testid=summary]")
    detail = api(server, f"/api/sessions/{summary['session']}")
    assert detail["total_reps"] == summary["total"] and not detail["live"]


def test_demo_replays_the_sample_through_the_live_path(shipped_page, server: str) -> None:  # type: ignore[no-untyped-def]
    """The bundled squats through the live path: a whole skeleton (arms too), counted, summed up,
    and kept out of the history."""
    page = shipped_page
    open_page(page, server)
    before = {s["id"] for s in api(server, "/api/history/sessions")["sessions"]}
    page.click("[data-testid=demo]")
    page.wait_for_function("Number(document.querySelector('[data-testid=skeleton]')"
                           ".dataset.drawn) > 10")
    see_skeleton(page)
    page.wait_for_function("document.querySelector('[data-testid=rep-count]').dataset.count >= 2")
    shot(page, "demo", "running")
    assert "demo" in page.inner_text("[data-testid=status]")
    # the whole skeleton: the demo's poses have arms (elbows, wrists) and feet
    frame = page.evaluate("fetch('/api/demo').then((r) => r.json()).then((d) => d.frames[0].landmarks)")
    assert all(frame[i] is not None and frame[i][0] == frame[i][0] for i in (13, 14, 15, 16, 31, 32))
    assert page.inner_text("[data-testid=phase]") in PHASE_WORDS
    assert page.get_attribute("[data-testid=last-rep]", "data-rep") != "0"
    page.wait_for_selector("[data-testid=summary]:not([hidden])", timeout=60_000)
    shot(page, "demo", "summary")
    assert int(page.get_attribute("[data-testid=summary]", "data-total")) == DEMO_SQUATS
    assert page.get_attribute("[data-testid=exercise]", "data-exercise") == "squat"
    # five good reps: "0 faulty" is not shown as a warning
    faulty = page.locator("[data-testid=summary-faulty]")
    assert faulty.inner_text().startswith("0") and "warn" not in (faulty.get_attribute("class") or "")
    # no one trained: the demo is not in the history
    session = page.get_attribute("[data-testid=summary]", "data-session")
    assert api(server, f"/api/sessions/{session}")["total_reps"] == DEMO_SQUATS
    after = {s["id"] for s in api(server, "/api/history/sessions")["sessions"]}
    assert session not in after and after == before
    stats = page.evaluate("window.repsenseStats")
    assert stats["tones"] >= 1, "no tone for a good rep"
    page.click("[data-testid=summary-close]")
    page.click("[data-testid=mute]")
    assert page.get_attribute("[data-testid=mute]", "aria-pressed") == "true"
    assert page.evaluate("localStorage.getItem('repsense.muted')") == "1"
    assert not [e for e in stats["errors"] if e.get("code") != "bad_time"], stats["errors"]


def test_upload_shows_counts_reps_plot_and_playable_video(page, server: str) -> None:  # type: ignore[no-untyped-def]
    clip = require_data("videos", "clips", CLIP)
    open_page(page, server)
    page.set_input_files("[data-testid=upload-input]", str(clip))
    page.click("[data-testid=upload-start]")
    page.wait_for_selector("[data-testid=upload-progress]:not([hidden])")
    page.wait_for_function("['running', 'queued', 'done']"
                           ".includes(document.querySelector('[data-testid=upload-progress]')"
                           ".dataset.status)")
    page.locator("[data-testid=upload]").scroll_into_view_if_needed()
    shot(page, "upload", "progress")
    page.wait_for_function("['done', 'failed'].includes(document.querySelector("
                           "'[data-testid=upload-progress]').dataset.status)", timeout=180_000)
    assert page.get_attribute("[data-testid=upload-progress]", "data-status") == "done", \
        page.inner_text("[data-testid=upload-progress]")
    got = int(page.get_attribute("[data-testid=upload-result]", "data-total"))
    assert abs(got - CLIP_COUNT) <= TOLERANCE
    assert page.locator("[data-testid=upload-reps] tbody tr").count() == got
    page.wait_for_function("document.querySelector('[data-testid=upload-plot]').naturalWidth > 0")
    duration = page.evaluate("""() => new Promise((resolve) => {
        const v = document.querySelector('[data-testid=upload-video]');
        const done = () => resolve(v.error ? -1 : v.duration);
        if (v.readyState >= 1) done(); else { v.addEventListener('loadedmetadata', done);
            v.addEventListener('error', done); v.load(); } })""")
    assert duration == pytest.approx(CLIP_S, abs=1.0), f"the annotated video reports {duration}"
    played = page.evaluate("""async () => {
        const v = document.querySelector('[data-testid=upload-video]');
        await v.play();
        await new Promise((r) => setTimeout(r, 800));
        v.pause();
        return [v.currentTime, v.getVideoPlaybackQuality().totalVideoFrames]; }""")
    assert played[0] > 0.2 and played[1] > 3, f"the annotated video does not play: {played}"
    page.locator("[data-testid=upload-result]").scroll_into_view_if_needed()
    shot(page, "upload", "result")


def test_record_play_back_download_and_analyze_agree(page, server: str,  # type: ignore[no-untyped-def]
                                                     tmp_path: pathlib.Path) -> None:
    need_vendor()
    open_page(page, server)
    page.click("[data-testid=record]")          # armed: recording starts with the session
    start_one_pass(page)
    page.wait_for_function("window.repsenseStats.session !== null")
    assert page.get_attribute("[data-testid=record]", "aria-pressed") == "true"
    wait_pass_over(page)
    shot(page, "record", "recording")
    summary = end_and_summary(page)
    shown = total(page)
    assert summary["total"] == shown
    page.click("[data-testid=summary-close]")
    page.click("[data-testid=playback]")
    page.wait_for_function("Number(document.querySelector('[data-testid=skeleton]')"
                           ".dataset.playbackDrawn) > 10")
    shot(page, "record", "playback")
    with page.expect_download() as dl:
        page.click("[data-testid=download]")
    npz = tmp_path / "recorded.npz"
    dl.value.save_as(npz)
    from repsense.cli import main

    report = tmp_path / "report.json"
    assert main(["analyze", str(npz), "--json", str(report)]) == 0
    doc = json.loads(report.read_text())["inputs"][0]
    assert doc["total_reps"] == shown, f"analyze counts {doc['total_reps']}, the page showed {shown}"
    assert abs(shown - CLIP_COUNT) <= TOLERANCE


def test_frames_mode_runs_pose_on_the_server(page, server: str) -> None:  # type: ignore[no-untyped-def]
    open_page(page, server, "?mode=frames")
    status = page.inner_text("[data-testid=status]")
    assert "pose on the server" in status
    start_one_pass(page)
    page.wait_for_function("Number(document.querySelector('[data-testid=skeleton]')"
                           ".dataset.drawn) > 5")
    see_skeleton(page)
    wait_pass_over(page)
    shot(page, "frames", "one-pass")
    assert page.get_attribute("[data-testid=status]", "data-mode") == "frames"
    summary = end_and_summary(page)
    shot(page, "frames", "summary")
    shown = total(page)
    assert summary["total"] == shown
    assert abs(shown - CLIP_COUNT) <= TOLERANCE, f"frames mode counted {shown}"


def test_a_denied_camera_gets_a_clear_message_and_the_demo_still_works(  # type: ignore[no-untyped-def]
        pw_driver, server: str, fake_camera: pathlib.Path) -> None:
    b = launch(pw_driver, fake_camera, allow_camera=False)
    try:
        page = b.new_page(viewport={"width": 1360, "height": 900})
        open_page(page, server)
        message = page.locator("[data-testid=camera-message]")
        assert message.is_visible()
        assert "denied" in message.inner_text()
        assert page.is_disabled("[data-testid=start-session]")
        shot(page, "denied", "message")
        page.click("[data-testid=demo]")
        page.wait_for_function(
            "document.querySelector('[data-testid=rep-count]').dataset.count >= 1")
        shot(page, "denied", "demo")
    finally:
        b.close()


def test_an_unplugged_camera_keeps_the_session_and_its_count(page, server: str) -> None:  # type: ignore[no-untyped-def]
    need_vendor()
    open_page(page, server)
    start_one_pass(page)
    page.wait_for_function("document.querySelector('[data-testid=rep-count]').dataset.count >= 1",
                           timeout=40_000)
    # What Chromium fires when the device goes away (track.stop() from the page fires nothing).
    page.evaluate("document.querySelector('video').srcObject.getVideoTracks()[0]"
                  ".dispatchEvent(new Event('ended'))")
    message = page.locator("[data-testid=camera-message]")
    message.wait_for(state="visible")
    kept = total(page)
    assert "camera stopped" in message.inner_text().lower()
    assert f"keeps its {kept} rep" in message.inner_text()
    shot(page, "unplugged", "message")
    time.sleep(1.0)
    assert total(page) == kept and page.is_enabled("[data-testid=end-session]")
    summary = end_and_summary(page)
    assert summary["total"] >= kept
    shot(page, "unplugged", "summary")


class FlakyProxy:
    """A TCP proxy between the browser and the server that the test can cut (a dropped network)."""

    def __init__(self, upstream: int) -> None:
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.down = False
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            up = socket.create_connection(("127.0.0.1", self.upstream))
            with self.lock:
                self.conns += [client, up]
            for a, b in ((client, up), (up, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def cut(self) -> None:
        self.down = True
        with self.lock:
            for s in self.conns:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()
            self.conns.clear()

    def restore(self) -> None:
        self.down = False

    def close(self) -> None:
        self.cut()
        self.listener.close()


def test_a_dropped_connection_loses_nothing(page, server: str) -> None:  # type: ignore[no-untyped-def]
    """The demo through a proxy that drops every connection for 3 s: the page buffers, reconnects
    with back-off, resumes the same session and sends what it measured; all 514 poses and all 5
    squats arrive."""
    proxy = FlakyProxy(int(server.rsplit(":", 1)[1]))
    try:
        via = f"http://127.0.0.1:{proxy.port}"
        open_page(page, via)
        page.click("[data-testid=demo]")
        page.wait_for_function("document.querySelector('[data-testid=rep-count]')"
                               ".dataset.count >= 1")
        session = page.evaluate("window.repsenseStats.session")
        proxy.cut()
        page.wait_for_function("!window.repsenseStats.connected")
        page.wait_for_function("window.repsenseStats.buffered > 20")
        shot(page, "reconnect", "buffering")
        assert "reconnecting" in page.inner_text("[data-testid=status]")
        time.sleep(2.0)
        proxy.restore()
        page.wait_for_function("window.repsenseStats.connected", timeout=30_000)
        page.wait_for_selector("[data-testid=summary]:not([hidden])", timeout=60_000)
        shot(page, "reconnect", "summary")
        assert page.get_attribute("[data-testid=summary]", "data-session") == session
        assert int(page.get_attribute("[data-testid=summary]", "data-total")) == DEMO_SQUATS
        detail = api(server, f"/api/sessions/{session}")
        measured = page.evaluate("window.repsenseStats.posesMeasured")
        assert detail["summary"]["frames"] == measured == 514
        assert page.evaluate("window.repsenseStats.reconnects") >= 1
    finally:
        proxy.close()


def test_a_reload_resumes_the_session(page, server: str) -> None:  # type: ignore[no-untyped-def]
    need_vendor()
    open_page(page, server)
    start_one_pass(page)
    page.wait_for_function("document.querySelector('[data-testid=rep-count]').dataset.count >= 1",
                           timeout=40_000)
    session = page.evaluate("window.repsenseStats.session")
    before = total(page)
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_function(f"window.repsenseStats.session === {json.dumps(session)} && "
                           "window.repsenseStats.connected")
    page.wait_for_function(f"Number(document.querySelector('[data-testid=rep-count]')"
                           f".dataset.total) >= {before}")
    shot(page, "reload", "resumed")
    summary = end_and_summary(page)
    assert summary["session"] == session and summary["total"] >= before


def test_the_page_fits_a_phone(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        open_page(page, server)
        page.tap("[data-testid=demo]")
        page.wait_for_function("document.querySelector('[data-testid=rep-count]')"
                               ".dataset.count >= 1")
        width = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], f"the page scrolls sideways on a phone: {width}"
        # the coaching panels come right after the video on a phone
        stage = page.locator("#stage").bounding_box()
        form = page.locator("[data-testid=form-panel]").bounding_box()
        assert stage is not None and form is not None and form["y"] < stage["y"] + 600
        page.screenshot(path=str(SHOTS / "web-phone-demo.png"), full_page=True)
    finally:
        context.close()


ORANGE_PIXELS = """() => {
    const c = document.querySelector('[data-testid=skeleton]');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3] > 200 && d[i] > 230 && d[i + 1] > 100 && d[i + 1] < 145 && d[i + 2] < 60) n++;
    }
    return n; }"""


def test_a_form_fault_is_shown_on_the_joints_and_spoken(  # type: ignore[no-untyped-def]
        pw_driver, server: str, tmp_path: pathlib.Path) -> None:
    """The push-ups of a labelled clip done with sagging hips (28.5-42 s): the hips turn orange on
    the skeleton, the form panel shows the cue, the cue is spoken and kept in the history."""
    need_vendor()
    clip = require_data("videos", "clips", "PushUp-Counter_pushup.mp4")
    cam = fake_camera_y4m(clip, tmp_path / "sagging.y4m", start_s=28.3, seconds=14)
    b = launch(pw_driver, cam)
    try:
        page = b.new_page(viewport={"width": 1360, "height": 900})
        open_page(page, server, "?exercise=push_up")
        start_one_pass(page)
        page.wait_for_function(f"document.querySelector('[data-testid=form-panel]').dataset.state"
                               f" === 'warn' && ({ORANGE_PIXELS})() > 30", timeout=40_000)
        shot(page, "fault", "hips-sag")
        assert "hips" in page.inner_text("[data-testid=form-panel]").lower()
        assert any("hips" in s.lower() for s in page.evaluate("window.repsenseStats.spoken"))
        history = page.locator("[data-testid=warning-history] li[data-severity=warning]")
        assert history.count() >= 1 and "hips" in history.first.inner_text().lower()
        page.wait_for_function("document.querySelector('[data-testid=rep-count]')"
                               ".dataset.count >= 2", timeout=40_000)
        shot(page, "fault", "reps")
        end_and_summary(page)
        shot(page, "fault", "summary")
        assert "hips" in page.inner_text("[data-testid=summary]").lower()
    finally:
        b.close()


def test_the_page_falls_back_to_frames_mode_when_the_model_cannot_load(page, server: str) -> None:  # type: ignore[no-untyped-def]
    """The tasks-vision files blocked (as a strict network or an old browser would): the page says
    so and lets the server run the pose model."""
    page.route("**/vendor/tasks-vision/**", lambda route: route.abort())
    open_page(page, server)
    status = page.locator("[data-testid=status]")
    assert "pose on the server" in status.inner_text()
    assert "did not load" in status.inner_text()
    assert page.evaluate("window.repsenseStats.modelError")
    start_one_pass(page)
    page.wait_for_function("Number(document.querySelector('[data-testid=skeleton]')"
                           ".dataset.drawn) > 5")
    assert status.get_attribute("data-mode") == "frames"
    shot(page, "fallback", "frames")
    end_and_summary(page)


def test_a_plank_hold_is_timed(pw_driver, server: str, tmp_path: pathlib.Path) -> None:  # type: ignore[no-untyped-def]
    """12 s of the labelled forearm plank (side view, 30.5-47.4 s of the clip): the hold timer runs."""
    need_vendor()
    clip = require_data("videos", "clips", "MrPose_plank.mp4")
    cam = fake_camera_y4m(clip, tmp_path / "plank.y4m", start_s=32, seconds=12)
    b = launch(pw_driver, cam)
    try:
        page = b.new_page(viewport={"width": 1360, "height": 900})
        open_page(page, server, "?exercise=plank")
        start_one_pass(page)
        timer = page.locator("[data-testid=hold-timer]")
        page.wait_for_function("Number(document.querySelector('[data-testid=hold-timer]')"
                               ".dataset.held) >= 4", timeout=40_000)
        assert timer.get_attribute("data-holding") == "true"
        shot(page, "plank", "holding")
        summary = end_and_summary(page)
        shot(page, "plank", "summary")
        held = api(server, f"/api/sessions/{summary['session']}")["exercises"][0]["hold_s"]
        assert held >= 4 and "Plank" in page.inner_text("[data-testid=summary]")
    finally:
        b.close()


def test_pose_can_run_on_the_main_thread(page, server: str) -> None:  # type: ignore[no-untyped-def]
    """The page runs the model in a worker (every other test); ?worker=0 on its main thread."""
    need_vendor()
    open_page(page, server, "?worker=0")
    assert page.evaluate("window.repsenseStats.modelWhere") == "main thread"
    page.wait_for_selector("[data-testid=start-session]:enabled")
    page.click("[data-testid=start-session]")
    page.wait_for_function("Number(document.querySelector('[data-testid=status]').dataset.frames)"
                           " > 20")
    see_skeleton(page)
    assert "worker" not in page.inner_text("[data-testid=status]")
    shot(page, "main-thread", "live")
    end_and_summary(page)


def test_live_session_counts_the_shipped_lunges(shipped_page, server: str) -> None:  # type: ignore[no-untyped-def]
    """Runs everywhere (the clip ships with the tests): the camera, the model in the browser, the
    skeleton, the count, the phase in the annotated video's plain words, the summary."""
    need_vendor()
    page = shipped_page
    open_page(page, server, "?exercise=lunge")
    # Start waits for the connection: enabled only once the status pill says the server is there
    page.wait_for_selector("[data-testid=start-session]:enabled")
    assert page.get_attribute("[data-testid=connection]", "data-state") == "ready"
    assert "Side-on to the camera" in page.inner_text("[data-testid=form-panel]")
    assert page.is_hidden("[data-testid=hold-timer]")         # a lunge is not a hold
    page.evaluate("""() => { window.phaseSeen = new Set();
        const ph = document.querySelector('[data-testid=phase]');
        new MutationObserver(() => window.phaseSeen.add(ph.textContent)).observe(ph, {childList: true, characterData: true, subtree: true}); }""")
    start_one_pass(page)
    see_skeleton(page)
    page.wait_for_function("document.querySelector('[data-testid=rep-count]').dataset.count >= 1",
                           timeout=40_000)
    shot(page, "shipped", "counting")
    wait_pass_over(page, clip_s=SHIPPED_S)
    shown = total(page)
    seen = set(page.evaluate("[...window.phaseSeen]")) - {""}
    assert "going down" in seen and seen <= PHASE_WORDS, seen
    summary = end_and_summary(page)
    shot(page, "shipped", "summary")
    assert abs(shown - SHIPPED_REPS) <= TOLERANCE, f"the page counted {shown}, label {SHIPPED_REPS}"
    assert summary["total"] == total(page) and "Lunge" in page.inner_text("[data-testid=summary]")


def test_the_page_says_where_to_stand_for_the_exercise_picked(shipped_page, server: str) -> None:  # type: ignore[no-untyped-def]
    """No view is guessed before an exercise is picked; each exercise's hint is its own (jumping
    jacks: facing the camera); the hold card shows for holds only."""
    page = shipped_page
    open_page(page, server)
    form = page.locator("[data-testid=form-panel]")
    assert "side-on" not in form.inner_text().lower() and "facing" not in form.inner_text().lower()
    assert page.is_hidden("[data-testid=hold-timer]")
    page.select_option("[data-testid=exercise-select]", "jumping_jack")
    assert "Facing the camera" in form.inner_text()
    assert "Jumping jack" in page.inner_text("[data-testid=exercise-select]")
    page.select_option("[data-testid=exercise-select]", "squat")
    assert "whole body" in form.inner_text() and "Facing" not in form.inner_text()
    page.select_option("[data-testid=exercise-select]", "plank")
    assert page.is_visible("[data-testid=hold-timer]") and page.text_content("#hold-label") == "Plank hold"
    assert "Side-on to the camera" in form.inner_text()
    shot(page, "hints", "plank-picked")
