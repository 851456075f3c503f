"""The live page's in-browser pose on this machine: pose frames per second and frame -> event latency.

    .venv/bin/python bench/browser_pose.py [--seconds 30] [--configs lite lite:main full] [--camera-fps 30]
    .venv/bin/python bench/browser_pose.py --configs lite --people 1 2 4 6 --clip VIDEO   # several people

Starts `repsense serve` on a free port, opens the page in headless Chromium (Debian's
/usr/bin/chromium through Playwright) with a fake camera playing a real clip of
../shared/data/videos/clips (640x360, converted into a temporary folder), starts a live session
and, for each configuration (``MODEL`` runs the model in the page's worker, the page's default;
``MODEL:main`` on its main thread, ``?worker=0``), reads the page's counters
(window.repsenseStats) over the window:

- pose frames/s: camera frames the in-browser model (MediaPipe tasks-vision, CPU, VIDEO mode)
  turned into poses, each sent to the server;
- model ms: one detectForVideo call, median and p99;
- latency: a pose sent -> its `frame` answer received (WebSocket + engine), median and p99;
- camera -> event: a camera frame handed to the model -> the engine's answer for it (model +
  WebSocket + engine), median and p99: what a person in front of the camera waits.

The camera runs at --camera-fps (30: a usual webcam), so a model faster than that is capped by it.
With --people, each configuration is measured with the page's People setting at each count (the
model asked for that many poses, one session per person on the server); the clip is then scaled to
640 px wide keeping its aspect (e.g. the several-people videos of bench/people_videos.py).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "data" / "videos" / "clips" / "test_video_squat.mp4"
CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, log: pathlib.Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "repsense", "serve", "--no-browser", "--port",
                             str(port)], cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if json.load(r).get("status") == "ok":
                    return proc
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"repsense serve did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.3)


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def measure(browser, base: str, config: str, seconds: float, people: int = 1) -> dict[str, float]:  # type: ignore[no-untyped-def]
    model, _, where = config.partition(":")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    try:
        page.goto(f"{base}/?model={model}" + ("&worker=0" if where == "main" else "")
                  + (f"&people={people}" if people > 1 else ""))
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        stats = page.evaluate("window.repsenseStats")
        if not stats["modelReady"]:
            raise SystemExit(f"the {model} model did not load in the page: {stats['modelError']}")
        if stats.get("modelWhere") != ("main thread" if where == "main" else "worker"):
            raise SystemExit(f"{config}: the model runs in the {stats.get('modelWhere')} "
                             f"({stats.get('workerError')})")
        page.wait_for_selector("[data-testid=start-session]:enabled", timeout=30_000)
        page.click("[data-testid=start-session]")
        page.wait_for_function("window.repsenseStats.session !== null", timeout=30_000)
        time.sleep(3.0)   # warm-up: the first frames of a new graph are slower
        keys = ("inferMs", "latencyMs", "frameToEventMs")
        before = page.evaluate("(() => { const s = window.repsenseStats; return {poseFrames: "
                               "s.poseFrames, t: performance.now(), inferMs: s.inferMs.length, "
                               "latencyMs: s.latencyMs.length, frameToEventMs: "
                               "s.frameToEventMs.length}; })()")
        time.sleep(seconds)
        after = page.evaluate("(() => { const s = window.repsenseStats; return {poseFrames: "
                              "s.poseFrames, t: performance.now(), inferMs: s.inferMs, latencyMs: "
                              "s.latencyMs, frameToEventMs: s.frameToEventMs, sent: s.sent, "
                              "answered: s.answered}; })()")
        page.click("[data-testid=end-session]")
        elapsed = (after["t"] - before["t"]) / 1000.0
        window = {k: after[k][before[k]:] for k in keys}
        # inferMs keeps the last 2000 entries: enough for 30 s at 30 fps; guard anyway
        window["inferMs"] = after["inferMs"][-int(after["poseFrames"] - before["poseFrames"]):]
        return {
            "pose_fps": (after["poseFrames"] - before["poseFrames"]) / elapsed,
            "model_ms_median": statistics.median(window["inferMs"]),
            "model_ms_p99": pct(window["inferMs"], 0.99),
            "latency_ms_median": statistics.median(window["latencyMs"]),
            "latency_ms_p99": pct(window["latencyMs"], 0.99),
            "cam_event_ms_median": statistics.median(window["frameToEventMs"]),
            "cam_event_ms_p99": pct(window["frameToEventMs"], 0.99),
            "poses": len(window["latencyMs"]),
            "seconds": elapsed,
        }
    finally:
        page.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="measuring window per model")
    ap.add_argument("--configs", nargs="+", default=["lite", "lite:main", "full"],
                    choices=["lite", "lite:main", "full", "full:main"],
                    help="model, in the page's worker or (':main') on its main thread")
    ap.add_argument("--camera-fps", type=int, default=30, help="frame rate of the fake camera")
    ap.add_argument("--clip", type=pathlib.Path, default=CLIP)
    ap.add_argument("--people", type=int, nargs="+", default=None,
                    help="the page's People setting(s) to measure (1-6)")
    args = ap.parse_args()
    people = args.people or [1]
    if not args.clip.exists():
        raise SystemExit(f"{args.clip} not found (the real data lives in ../shared/data)")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="repsense-browser-bench-") as tmp:
        cam = pathlib.Path(tmp) / "camera.y4m"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(args.clip), "-vf",
                        ("scale=640:-2" if args.people else "scale=640:360") + f",fps={args.camera_fps}",
                        "-pix_fmt", "yuv420p", str(cam)],
                       check=True)
        port = free_port()
        server = start_server(port, pathlib.Path(tmp) / "serve.log")
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
                    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-video-capture={cam}"])
                try:
                    rows = {(c if not args.people else f"{c} x{n}"):
                            measure(browser, f"http://127.0.0.1:{port}", c, args.seconds, n)
                            for c in args.configs for n in people}
                finally:
                    browser.close()
        finally:
            server.terminate()
            server.wait(timeout=20)
    print(f"load average {__import__('os').getloadavg()[0]:.1f}; "
          f"in-browser pose, headless Chromium, fake camera 640 px wide at {args.camera_fps} fps, "
          f"{args.seconds:.0f} s each ({args.clip.name})")
    print(f"{'config':9} {'pose fps':>9} {'model ms':>15} {'latency ms':>15} {'camera->event ms':>18}"
          f" {'poses':>6}")
    print(f"{'':9} {'':>9} {'median / p99':>15} {'median / p99':>15} {'median / p99':>18}")
    for m, r in rows.items():
        print(f"{m:9} {r['pose_fps']:9.1f} {r['model_ms_median']:7.1f} / {r['model_ms_p99']:5.1f}"
              f" {r['latency_ms_median']:7.1f} / {r['latency_ms_p99']:5.1f}"
              f" {r['cam_event_ms_median']:9.1f} / {r['cam_event_ms_p99']:6.1f} {r['poses']:6d}")
    print("latency: a pose sent -> its answer; camera->event: a camera frame -> the engine's answer "
          "(model + WebSocket + engine). Targets: >= 15 pose frames/s, median < 100 ms.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
