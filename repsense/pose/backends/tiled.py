"""Several people in a wide frame: the pose landmarker run on overlapping square tiles.

MediaPipe's pose detector sees the whole frame shrunk to 224 px and suppresses boxes that overlap,
so in a wide frame people standing side by side are found late or not at all (docs/people.md).
Run on square column tiles (overlapping by half), each with its own landmarker, it sees every
person large enough; the poses of all tiles are mapped back to the frame and a person seen in two
tiles is kept once (the pose least cut by its tile's edge).
"""

from __future__ import annotations

import math

import numpy as np


class TiledPoseBackend:
    """``estimate_all`` over column tiles of width ``tile_aspect`` x the frame's height."""

    def __init__(self, model: str = "full", num_poses: int = 2, tile_aspect: float = 1.0,
                 overlap: float = 0.5, per_tile: int = 1) -> None:
        self.model = model
        self.num_poses = num_poses
        self.per_tile = per_tile
        self.tile_aspect = tile_aspect
        self.overlap = overlap
        self._tiles: list[int] = []
        self._backends: list[object] = []

    def _layout(self, w: int, h: int) -> tuple[list[int], int]:
        tw = min(w, int(round(h * self.tile_aspect)))
        if tw >= w:
            return [0], w
        step = tw * (1.0 - self.overlap)
        n = math.ceil((w - tw) / step) + 1
        return [int(round(x)) for x in np.linspace(0, w - tw, n)], tw

    def estimate_all(self, rgb: np.ndarray, timestamp_ms: int) -> list[np.ndarray]:
        from repsense.pose.backends.mediapipe import MediaPipePoseBackend
        from repsense.pose.people import pose_box

        h, w = rgb.shape[:2]
        xs, tw = self._layout(w, h)
        if xs != self._tiles:
            self.close()
            self._tiles = xs
            self._backends = [MediaPipePoseBackend(self.model, num_poses=self.per_tile)
                              for _ in xs]
        found: list[tuple[float, np.ndarray]] = []
        for x0, be in zip(xs, self._backends):
            for pose in be.estimate_all(np.ascontiguousarray(rgb[:, x0:x0 + tw]),  # type: ignore[attr-defined]
                                        timestamp_ms):
                vis = np.nan_to_num(pose[:, 3])
                # landmarks at the tile's inner edges are cut off: that view of the person is worse
                inner = ((pose[:, 0] < 0.03) & (x0 > 0)) | ((pose[:, 0] > 0.97) & (x0 + tw < w))
                score = float(vis.mean()) - float(inner.mean())
                p = pose.copy()
                p[:, 0] = (p[:, 0] * tw + x0) / w
                p[:, 2] = p[:, 2] * tw / w
                found.append((score, p))
        found.sort(key=lambda sp: -sp[0])
        kept: list[np.ndarray] = []
        boxes: list[np.ndarray] = []
        for _, p in found:
            box = pose_box(p, w / h)
            if box is None:
                continue
            if any(_overlap(box, b) > 0.4 for b in boxes):
                continue
            kept.append(p)
            boxes.append(box)
            if len(kept) == self.num_poses:
                break
        return kept

    def estimate(self, rgb: np.ndarray, timestamp_ms: int) -> np.ndarray | None:
        poses = self.estimate_all(rgb, timestamp_ms)
        return poses[0] if poses else None

    def close(self) -> None:
        for be in self._backends:
            be.close()  # type: ignore[attr-defined]
        self._backends = []
        self._tiles = []


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller box."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    small = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return float(ix * iy / small) if small > 0 else 0.0
