"""What reaches a user's terminal: repsense's own one-line messages, not its libraries' logs.

repsense's modules log to ``logging.getLogger("repsense...")``; the command line shows warnings as
``repsense: <message>`` lines (``-v`` adds info). MediaPipe (TFLite's "INFO: ... DestroyAccelerator")
and FFmpeg inside OpenCV ("moov atom not found", "Invalid NAL unit size") write straight to the
process's stderr from C++; they are silenced unless ``repsense`` logs at INFO or below (``-v``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

LOGGER = "repsense"


class _Stderr(logging.Handler):
    """``repsense: message`` on whatever sys.stderr is at the time (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(f"repsense: {record.getMessage()}", file=sys.stderr)
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


def setup_cli(verbose: bool = False) -> None:
    """Route repsense's log records to stderr as one line each (idempotent)."""
    log = logging.getLogger(LOGGER)
    for h in [h for h in log.handlers if isinstance(h, _Stderr)]:
        log.removeHandler(h)
    log.addHandler(_Stderr())
    log.setLevel(logging.INFO if verbose else logging.WARNING)
    log.propagate = False
    quiet_ffmpeg()


def libraries_may_log() -> bool:
    """True when the libraries' own logs should reach stderr (``-v``)."""
    return logging.getLogger(LOGGER).isEnabledFor(logging.INFO)


def quiet_ffmpeg() -> None:
    """Silence FFmpeg's decoder messages inside OpenCV, unless verbose. OpenCV reads this variable
    when it opens its first video, so it is set before any capture."""
    if not libraries_may_log():
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")   # AV_LOG_QUIET


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Send what native code writes to file descriptor 2 to /dev/null for the block (unless
    verbose). Python's own stderr is flushed first and works again afterwards."""
    if libraries_may_log():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
        finally:
            os.close(devnull)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


__all__ = ["LOGGER", "libraries_may_log", "quiet_ffmpeg", "quiet_native_stderr", "setup_cli"]
