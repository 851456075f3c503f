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


class MultiPoseBackend(PoseBackend, Protocol):
    def estimate_all(self, rgb: np.ndarray, timestamp_ms: int) -> list[np.ndarray]:
        """The poses of everyone found in the frame (no identity, any order; empty: nobody)."""


def create_backend(name: str = "full", num_poses: int = 1) -> MultiPoseBackend:
    """A backend by name: ``lite`` / ``full`` (MediaPipe pose landmarker models shipped in the
    package), following up to ``num_poses`` people."""
    if name in ("lite", "full"):
        from repsense.pose.backends.mediapipe import MediaPipePoseBackend

        return MediaPipePoseBackend(model=name, num_poses=num_poses)
    raise ValueError(f"unknown pose backend {name!r}: expected 'lite' or 'full'")
