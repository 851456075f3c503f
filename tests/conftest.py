"""Shared fixtures. Real data lives in ../shared/data beside the repository."""

from __future__ import annotations

import contextlib
import os
import pathlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
FIXTURES = ROOT / "tests" / "fixtures"   # shipped: what the tests need without ../shared (NOTICE)
NO_DATA = "real data not available at"


@pytest.fixture(scope="session", autouse=True)
def _history_in_a_temp_dir(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Commands the tests run (``repsense serve`` keeps a history by default) write their history
    database in a temporary folder, never in the user's data directory."""
    if "REPSENSE_DB" not in os.environ:
        path = tmp_path_factory.mktemp("history") / "history.db"
        os.environ["REPSENSE_DB"] = f"sqlite:///{path}"
        yield
        os.environ.pop("REPSENSE_DB", None)
    else:
        yield


@pytest.fixture(scope="session", autouse=True)
def _exercise_library_in_a_temp_dir(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Taught exercises (``repsense teach``) go to a temporary library, never the user's, and the
    user's library never changes what the tests see."""
    if "REPSENSE_EXERCISES" not in os.environ:
        os.environ["REPSENSE_EXERCISES"] = str(tmp_path_factory.mktemp("exercises"))
        yield
        os.environ.pop("REPSENSE_EXERCISES", None)
    else:
        yield


def require_data(*parts: str) -> pathlib.Path:
    """The path under ../shared/data; skip when it is absent, unless under CI, where it fails."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the real data at {path}")
        pytest.skip(f"{NO_DATA} {path}")
    return path


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line at the end: how many tests skipped for want of ../shared/data."""
    skipped = terminalreporter.stats.get("skipped", [])
    n = sum(NO_DATA in str(getattr(r, "longrepr", "")) for r in skipped)
    if n:
        terminalreporter.write_line(f"{n} test{'s' if n != 1 else ''} skipped for want of the real "
                                    f"data in {DATA} (they run where it is)")


def free_port() -> int:
    """A TCP port nothing listens on at 127.0.0.1 now (for servers the tests start)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free 127.0.0.1 port, in a thread; yields its URL once
    it listens, and stops it after."""
    import threading
    import time

    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


SAMPLE = ROOT / "repsense" / "samples" / "squats.npz"   # five squats, 17 s (tools/make_sample.py)
# The landmarks the sample's source data measured; the rest of its body is generated from them.
MEASURED = (0, 11, 12, 23, 24, 25, 26, 27, 28)   # nose, shoulders, hips, knees, ankles


@pytest.fixture(scope="session")
def measured_squats(tmp_path_factory) -> pathlib.Path:  # type: ignore[no-untyped-def]
    """The shipped squat sample with only the 9 landmarks its source measured. Its arms, face and
    feet are generated (tools/make_sample.py): the arms are interpolated between two key poses
    with the very weight the knees are, so they repeat more cleanly than anything a camera sees.
    Teaching, which picks the signal that repeats most cleanly, is tested on what was measured."""
    from repsense.pose import PoseRecording

    rec = PoseRecording.load(SAMPLE)
    landmarks = np.full_like(rec.landmarks, np.nan)
    landmarks[:, MEASURED] = rec.landmarks[:, MEASURED]
    path = tmp_path_factory.mktemp("sample") / "squats.npz"
    PoseRecording(landmarks, rec.timestamp_ms, rec.image_size, source="squats.npz").save(path)
    return path


def need(ok: bool, why: str) -> None:
    """Skip when a tool the test needs is missing, unless under CI, where it fails."""
    if not ok:
        if os.environ.get("CI"):
            pytest.fail(f"CI needs {why}")
        pytest.skip(f"{why} is not available")


@pytest.fixture
def synthetic_video(tmp_path: pathlib.Path):  # type: ignore[no-untyped-def]
    """Write a small video with no person in it (moving gradient), return its path."""
    import cv2

    def make(name: str = "empty_room.mp4", frames: int = 30, size: tuple[int, int] = (160, 120),
             brightness: int = 255):
        path = tmp_path / name
        w, h = size
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (w, h))
        for i in range(frames):
            x = np.linspace(0, brightness, w).astype(np.uint8)
            frame = np.dstack([np.tile(np.roll(x, i * 3), (h, 1))] * 3)
            writer.write(frame)
        writer.release()
        return path

    return make


@pytest.fixture(scope="session")
def dev_runs(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Run `repsense analyze` (the real pose model) once over every labelled dev clip.

    Returns {clip file name: (Clip, report dict, saved pose recording path)}. UCFRep clips are
    cut to their labelled span with --start/--end; the other clips are analysed whole.
    """
    import json

    require_data("videos", "clips", "labels.csv")
    require_data("videos", "ucfrep", "labels.csv")
    from bench.count_accuracy import labelled_clips
    from repsense.cli import main

    out = tmp_path_factory.mktemp("dev_runs")
    runs = {}
    for clip in labelled_clips(DATA / "videos"):
        saved = out / f"{clip.path.stem}.npz"
        report = out / f"{clip.path.stem}.json"
        argv = ["analyze", str(clip.path), "--exercise", clip.counted_as, "--json", str(report),
                "--save-pose", str(saved)]
        if clip.span_only:
            argv += ["--start", f"{max(clip.start_s, 0.0):.3f}", "--end", f"{clip.end_s:.3f}"]
        assert main(argv) == 0, f"analyze failed on {clip.path.name}"
        runs[clip.path.name] = (clip, json.loads(report.read_text())["inputs"][0], saved)
    return runs
