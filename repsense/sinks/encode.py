"""Writing video that browsers play: H.264 in MP4 (yuv420p, moov atom first) or VP9 in WebM.

OpenCV's wheel has no H.264 encoder (its ``mp4v`` is MPEG-4 Part 2, which Chromium and Firefox
do not play), so frames go through PyAV, whose wheels carry FFmpeg with libx264 and libvpx-vp9.
Frames carry their own timestamps (ms), so a video keeps the timing of the frames it was made from.
"""

from __future__ import annotations

import pathlib
from fractions import Fraction

import numpy as np

from repsense.errors import InputError

# suffix -> (container format, codec, codec options)
FORMATS: dict[str, tuple[str, str, dict[str, str]]] = {
    ".mp4": ("mp4", "libx264", {"crf": "23", "preset": "veryfast"}),
    ".m4v": ("mp4", "libx264", {"crf": "23", "preset": "veryfast"}),
    ".mov": ("mov", "libx264", {"crf": "23", "preset": "veryfast"}),
    ".webm": ("webm", "libvpx-vp9", {"crf": "33", "b": "0", "deadline": "good", "cpu-used": "5",
                                     "row-mt": "1"}),
}
TIME_BASE = Fraction(1, 1000)   # frame times in ms


class VideoWriter:
    """``write(bgr, timestamp_ms)`` frames of one size, then ``close()``; the first frame is at 0.

    Odd widths and heights lose their last pixel row/column (4:2:0 needs even sizes).
    """

    def __init__(self, out: str | pathlib.Path, fps: float) -> None:
        import av

        self.out = pathlib.Path(out)
        suffix = self.out.suffix.lower()
        if suffix not in FORMATS:
            raise InputError(f"{self.out}: a video needs one of the suffixes "
                             f"{', '.join(FORMATS)} (.mp4: H.264, .webm: VP9)")
        self._format, self._codec, self._options = FORMATS[suffix]
        self.fps = fps if fps and fps > 0 else 15.0
        self._av = av
        try:
            options = {"movflags": "+faststart"} if self._format in ("mp4", "mov") else {}
            self._container = av.open(str(self.out), "w", format=self._format, options=options)
        except (OSError, av.FFmpegError) as exc:
            raise InputError(f"{self.out}: cannot write a video there ({exc})") from None
        self._stream = None
        self._size: tuple[int, int] | None = None
        self._t0: int | None = None
        self._last_pts = -1
        self.frames = 0

    def _open_stream(self, width: int, height: int) -> None:
        stream = self._container.add_stream(self._codec, rate=Fraction(self.fps).limit_denominator(1001))
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.codec_context.time_base = TIME_BASE
        stream.options = dict(self._options)
        self._stream = stream
        self._size = (width, height)

    def write(self, bgr: np.ndarray, timestamp_ms: int) -> None:
        h, w = bgr.shape[:2]
        w2, h2 = w - w % 2, h - h % 2
        if self._size is None:
            if w2 < 2 or h2 < 2:
                raise InputError(f"{self.out}: frames of {w}x{h} are too small to encode")
            self._open_stream(w2, h2)
            self._t0 = int(timestamp_ms)
        elif (w2, h2) != self._size:
            raise InputError(f"{self.out}: frame size changed from {self._size} to {(w2, h2)}")
        assert self._t0 is not None and self._stream is not None
        pts = max(int(timestamp_ms) - self._t0, self._last_pts + 1)
        self._last_pts = pts
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr[:h2, :w2]), format="bgr24")
        frame.pts = pts
        frame.time_base = TIME_BASE
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        """Flush the encoder and finish the file (idempotent)."""
        if self._container is None:
            return
        try:
            if self._stream is not None:
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
        finally:
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["FORMATS", "VideoWriter"]
