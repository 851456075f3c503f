"""What the browser tests share (a test module imports the ``pw_driver`` and ``browser`` fixtures
from here and gives its own ``fake_camera``): Chromium (the Debian ``chromium`` package, driven by Playwright;
no browser download), ``repsense serve`` in a subprocess, a video as Chromium's fake camera, pages
that fail the test when they throw, screenshots in out/screenshots/; and whether a video plays in
headless Chromium."""

from __future__ import annotations

import contextlib
import json
import pathlib
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import ROOT, free_port, need

CHROMIUM = "/usr/bin/chromium"
SHOTS = ROOT / "out" / "screenshots"

PAGE = """<!doctype html><html><body>
<video id="v" src="{src}" muted playsinline preload="auto"></video>
<script>
const v = document.getElementById('v');
window.result = new Promise(resolve => {{
  v.addEventListener('error', () => resolve({{error: v.error ? v.error.code + ' ' + v.error.message : 'error'}}));
  v.addEventListener('loadedmetadata', async () => {{
    try {{ await v.play(); }} catch (e) {{ resolve({{error: 'play: ' + e}}); return; }}
    setTimeout(() => resolve({{duration: v.duration, currentTime: v.currentTime,
                              width: v.videoWidth, height: v.videoHeight,
                              decoded: v.getVideoPlaybackQuality().totalVideoFrames}}), 700);
  }});
}});
</script></body></html>"""


def chromium_path() -> str | None:
    return CHROMIUM if pathlib.Path(CHROMIUM).exists() else shutil.which("chromium")


def need_chromium() -> None:
    need(pathlib.Path(CHROMIUM).exists(), CHROMIUM)


def playwright_driver() -> Iterator[Any]:
    """One Playwright driver (a module fixture yields from this; a second sync_playwright() may not
    run inside it)."""
    need_chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "playwright (pip install 'playwright>=1.48,<2')")
        raise
    with sync_playwright() as pw:
        yield pw


def launch(pw: Any, camera: pathlib.Path | None = None, *, allow_camera: bool = True) -> Any:
    """Headless Chromium; with ``camera``, that video (.y4m) is its camera, and without
    ``allow_camera`` it answers the camera prompt "block", as a person who denies it."""
    if camera is None:
        return pw.chromium.launch(executable_path=CHROMIUM, headless=True)
    args = ["--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={camera}",
            "--autoplay-policy=no-user-gesture-required"]
    if allow_camera:
        args.append("--use-fake-ui-for-media-stream")
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)


def camera_browser(pw: Any, camera: pathlib.Path) -> Iterator[Any]:
    """Chromium with ``camera`` as its camera, for a fixture to yield from; closed after."""
    browser = launch(pw, camera)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture(scope="module")
def pw_driver() -> Iterator[Any]:
    """One Playwright driver for a test module."""
    yield from playwright_driver()


@pytest.fixture(scope="module")
def browser(pw_driver: Any, fake_camera: pathlib.Path) -> Iterator[Any]:
    """Chromium whose camera is the module's ``fake_camera`` fixture."""
    yield from camera_browser(pw_driver, fake_camera)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A Playwright driver and a headless Chromium of its own, closed after."""
    for pw in playwright_driver():
        browser = launch(pw)
        try:
            yield browser
        finally:
            browser.close()


def watched_page(browser: Any, *, console: Callable[[Any], bool] | None = None,
                 accept_dialogs: bool = False, **context: Any) -> Iterator[Any]:
    """A page in a new context (``context``: viewport, ...) for a fixture to yield from; the test
    fails after if the page threw, or logged a console message ``console`` calls an error."""
    ctx = browser.new_context(**context)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    if console is not None:
        pg.on("console", lambda m: errors.append(m.text) if console(m) else None)
    if accept_dialogs:
        pg.on("dialog", lambda d: d.accept())
    pg.set_default_timeout(30_000)
    yield pg
    ctx.close()
    assert not errors, f"the page threw: {errors}"


def screenshot(page: Any, name: str, *, full_page: bool = False) -> None:
    """out/screenshots/<name>.png"""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page)


def fake_camera_y4m(video: pathlib.Path, out: pathlib.Path, *, vf: str = "scale=640:360,fps=15",
                    start_s: float | None = None, seconds: float | None = None) -> pathlib.Path:
    """``video`` (from ``start_s``, ``seconds`` long) as the .y4m file Chromium's fake camera plays
    (640x360, 15 fps unless ``vf`` says otherwise)."""
    need(shutil.which("ffmpeg") is not None, "ffmpeg")
    span = ([] if start_s is None else ["-ss", f"{start_s:g}"]) + \
        ([] if seconds is None else ["-t", f"{seconds:g}"])
    subprocess.run(["ffmpeg", "-v", "error", "-y", *span, "-i", str(video), "-vf", vf,
                    "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


@contextlib.contextmanager
def repsense_serve(folder: pathlib.Path, *args: str) -> Iterator[str]:
    """`repsense serve` (with ``args``) on a free port of 127.0.0.1, its log in ``folder``; yields
    its base URL once /healthz says ok, and stops it after."""
    port = free_port()
    log = folder / "serve.log"
    with log.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "repsense", "serve", "--no-browser",
                                 "--port", str(port), *args],
                                cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as r:
                    if json.load(r).get("status") == "ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"repsense serve did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def play_in_chromium(video: pathlib.Path) -> dict:
    """Load ``video`` into a ``<video>`` element, play it for 0.7 s; return what the element reports
    (duration, currentTime, videoWidth/Height, decoded frames) or ``{"error": ...}``."""
    from playwright.sync_api import sync_playwright

    video = video.resolve()
    html = video.with_suffix(video.suffix + ".html")
    html.write_text(PAGE.format(src=video.name))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), headless=True,
                                     args=["--autoplay-policy=no-user-gesture-required",
                                           "--allow-file-access-from-files"])
        try:
            page = browser.new_page()
            page.goto(html.as_uri())
            return page.evaluate("window.result")
        finally:
            browser.close()
