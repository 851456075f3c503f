"""Shared fixtures. Real data lives in ../shared/data beside the repository."""

from __future__ import annotations

import os
import pathlib

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def require_data(*parts: str) -> pathlib.Path:
    """The path under ../shared/data; skip when it is absent, unless under CI, where it fails."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI needs the real data at {path}")
        pytest.skip(f"real data not available at {path}")
    return path


@pytest.fixture
def synthetic_video(tmp_path: pathlib.Path):  # type: ignore[no-untyped-def]
    """Write a small video with no person in it (moving gradient), return its path."""
    import cv2

    def make(name: str = "empty_room.mp4", frames: int = 30, size: tuple[int, int] = (160, 120)):
        path = tmp_path / name
        w, h = size
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (w, h))
        for i in range(frames):
            x = np.linspace(0, 255, w, dtype=np.uint8)
            frame = np.dstack([np.tile(np.roll(x, i * 3), (h, 1))] * 3)
            writer.write(frame)
        writer.release()
        return path

    return make
