"""What the commands share: one-line errors, argument types, -v after the command, Ctrl-C."""

from __future__ import annotations

import argparse
import math
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def err(msg: str) -> None:
    print(f"repsense: {msg}", file=sys.stderr, flush=True)


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a time >= 0 in seconds, got {text!r}")
    return value


def exercise_help() -> str:
    from repsense.engine.exercises import catalog

    return ("the exercise: 'auto' (default: recognise it, and follow switches), 'generic' (count "
            "any repeated movement) or one of: " + ", ".join(sorted(catalog())) +
            " (see 'repsense exercises')")


def exercise_name(text: str) -> str:
    from repsense.engine.exercises import GENERIC, catalog

    if text in ("auto", GENERIC) or text in catalog():
        return text
    raise argparse.ArgumentTypeError(
        f"unknown exercise {text!r}; choose auto, generic or one of: {', '.join(sorted(catalog()))}")


def verbose_option(p: argparse.ArgumentParser) -> None:
    """-v after the command too (``repsense analyze clip.mp4 -v``)."""
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="also show info messages and the libraries' own logs (MediaPipe, FFmpeg)")



@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by Ctrl-C or SIGTERM while the block runs (the handlers are put back after)."""
    stop = threading.Event()

    def _stop(signum: int, frame: Any) -> None:
        stop.set()

    old = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def people_count(text: str) -> int:
    """``--people N``: how many people to follow, 1 to the pose backend's most."""
    from repsense.pose.backends.mediapipe import MAX_POSES

    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of people, got {text!r}") from None
    if not 1 <= n <= MAX_POSES:
        raise argparse.ArgumentTypeError(f"--people must be 1 to {MAX_POSES}, got {n}")
    return n
