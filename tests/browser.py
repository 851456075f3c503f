"""Does a video play in headless Chromium? (The Debian ``chromium`` package, driven by Playwright.)"""

from __future__ import annotations

import pathlib
import shutil

CHROMIUM = "/usr/bin/chromium"

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
