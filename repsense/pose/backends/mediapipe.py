"""MediaPipe Tasks pose landmarker on the CPU, from a ``.task`` bundle shipped in the package."""

from __future__ import annotations

import os
import pathlib

import numpy as np

MODELS_DIR = pathlib.Path(__file__).resolve().parents[2] / "models"

# The most people one backend follows (``repsense analyze --people``, the page's setting).
MAX_POSES = 6


def model_path(model: str) -> pathlib.Path:
    path = MODELS_DIR / f"pose_landmarker_{model}.task"
    if not path.is_file():
        raise FileNotFoundError(f"pose model {path} is missing: reinstall repsense")
    return path


class MediaPipePoseBackend:
    """The poses of up to ``num_poses`` people per frame, in VIDEO mode (tracking between frames;
    timestamps must increase). ``estimate`` gives the first pose, ``estimate_all`` every one."""

    def __init__(self, model: str = "full", min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, num_poses: int = 1) -> None:
        if not 1 <= int(num_poses) <= MAX_POSES:
            raise ValueError(f"num_poses must be 1 to {MAX_POSES}, got {num_poses}")
        os.environ.setdefault("GLOG_minloglevel", "2")  # keep MediaPipe's C++ logging off the terminal
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp_image = _image_factory()
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path(model))),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=int(num_poses),
            min_pose_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )
        with _quiet_stderr():
            self._landmarker = vision.PoseLandmarker.create_from_options(options)
        self._last_ts = -1
        self._quiet = True

    def estimate(self, rgb: np.ndarray, timestamp_ms: int) -> np.ndarray | None:
        poses = self.estimate_all(rgb, timestamp_ms)
        return poses[0] if poses else None

    def estimate_all(self, rgb: np.ndarray, timestamp_ms: int) -> list[np.ndarray]:
        """Every pose found in the frame, each ``(33, 4)``, in the model's order (no identity)."""
        ts = max(int(timestamp_ms), self._last_ts + 1)  # VIDEO mode needs strictly increasing times
        self._last_ts = ts
        image = self._mp_image(np.ascontiguousarray(rgb))
        if self._quiet:
            # The graph logs a warning (NORM_RECT without IMAGE_DIMENSIONS) the first time it
            # projects landmarks; it is benign and nothing a user can act on.
            with _quiet_stderr():
                result = self._landmarker.detect_for_video(image, ts)
            self._quiet = not result.pose_landmarks
        else:
            result = self._landmarker.detect_for_video(image, ts)
        return [np.array([[p.x, p.y, p.z, p.visibility if p.visibility is not None else 0.0]
                          for p in lms], dtype=np.float32) for lms in result.pose_landmarks]

    def close(self) -> None:
        if self._landmarker is not None:
            from repsense.logs import quiet_native_stderr

            with quiet_native_stderr():   # TFLite's "INFO: ... DestroyAccelerator" (shown with -v)
                self._landmarker.close()
            self._landmarker = None

    def __enter__(self) -> "MediaPipePoseBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - interpreter shutdown: nothing left to report to
            pass


def _image_factory():  # type: ignore[no-untyped-def]
    import mediapipe as mp

    def make(rgb: np.ndarray):  # type: ignore[no-untyped-def]
        return mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb)

    return make


class _quiet_stderr:
    """Silence the C++ start-up chatter (TFLite delegate, absl) written straight to fd 2."""

    def __enter__(self) -> None:
        self._saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)

    def __exit__(self, *exc: object) -> None:
        os.dup2(self._saved, 2)
        os.close(self._saved)
