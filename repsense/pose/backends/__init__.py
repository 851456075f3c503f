"""Pose backends: ``estimate(rgb, timestamp_ms) -> pose (33, 4) or None`` and ``close()``.

Heavy dependencies are imported only inside their adapter module.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class PoseBackend(Protocol):
    def estimate(self, rgb: np.ndarray, timestamp_ms: int) -> np.ndarray | None:
        """Pose of the person in an RGB frame ``(H, W, 3)`` uint8, or None when nobody is found."""

    def close(self) -> None: ...


def create_backend(name: str = "full") -> PoseBackend:
    """A backend by name: ``lite`` / ``full`` (MediaPipe pose landmarker models shipped in the package)."""
    if name in ("lite", "full"):
        from repsense.pose.backends.mediapipe import MediaPipePoseBackend

        return MediaPipePoseBackend(model=name)
    raise ValueError(f"unknown pose backend {name!r}: expected 'lite' or 'full'")
