"""The annotated video: browsers play it, its overlay is readable and stays inside the frame."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from repsense.sinks.encode import VideoWriter

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _frames(n: int, size: tuple[int, int]):  # type: ignore[no-untyped-def]
    w, h = size
    for i in range(n):
        f = np.zeros((h, w, 3), np.uint8)
        f[:, (i * 7) % w] = 255
        yield f


@pytest.mark.parametrize("suffix, codec", [(".mp4", "h264"), (".webm", "vp9")])
def test_encoder_writes_browser_codecs(tmp_path, suffix, codec):
    import av

    out = tmp_path / f"clip{suffix}"
    with VideoWriter(out, 15.0) as w:
        for i, f in enumerate(_frames(30, (321, 181))):     # odd sizes lose a row and a column
            w.write(f, 1000 + i * 67)
    with av.open(str(out)) as c:
        s = c.streams.video[0]
        assert s.codec_context.name == codec and s.codec_context.pix_fmt == "yuv420p"
        assert (s.codec_context.width, s.codec_context.height) == (320, 180)
        decoded = list(c.decode(video=0))
    assert len(decoded) == 30
    assert decoded[0].time == pytest.approx(0.0, abs=0.002)   # starts at 0
    assert decoded[-1].time == pytest.approx(29 * 0.067, abs=0.002)  # keeps the frames' timing
    if suffix == ".mp4":   # +faststart: the index comes before the media data
        head = out.read_bytes()
        assert head.find(b"moov") < head.find(b"mdat")


def test_encoder_rejects_an_unknown_suffix(tmp_path):
    from repsense.errors import InputError

    with pytest.raises(InputError, match=r"\.mp4"):
        VideoWriter(tmp_path / "clip.avi", 15.0)


@pytest.mark.parametrize("suffix", [".mp4", ".webm"])
def test_video_plays_in_headless_chromium(tmp_path, suffix):
    from browser import chromium_path, play_in_chromium

    if chromium_path() is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    pytest.importorskip("playwright")
    out = tmp_path / f"clip{suffix}"
    with VideoWriter(out, 15.0) as w:
        for i, f in enumerate(_frames(45, (640, 360))):
            w.write(f, i * 67)
    got = play_in_chromium(out)
    assert "error" not in got, got
    assert got["duration"] == pytest.approx(44 * 0.067, abs=0.1)
    assert got["currentTime"] > 0.2 and got["decoded"] > 0       # it played
    assert (got["width"], got["height"]) == (640, 360)
