"""MediaPipe Tasks pose landmarker on the CPU, from a ``.task`` bundle shipped in the package."""

from __future__ import annotations

import os
import pathlib

import numpy as np

MODELS_DIR = pathlib.Path(__file__).resolve().parents[2] / "models"


def model_path(model: str) -> pathlib.Path:
    path = MODELS_DIR / f"pose_landmarker_{model}.task"
    if not path.is_file():
        raise FileNotFoundError(f"pose model {path} is missing: reinstall repsense")
    return path


class MediaPipePoseBackend:
    """One person's pose per frame, in VIDEO mode (tracking between frames; timestamps must increase)."""

    def __init__(self, model: str = "full", min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5) -> None:
        os.environ.setdefault("GLOG_minloglevel", "2")  # keep MediaPipe's C++ logging off the terminal
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp_image = _image_factory()
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(model_path(model))),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=1,
            min_pose_detection_confidence=min_detection_confidence,
            min_tracking_confidence=min_tracking_confidence,
        )
        with _quiet_stderr():
            self._landmarker = vision.PoseLandmarker.create_from_options(options)
        self._last_ts = -1
        self._quiet = True

    def estimate(self, rgb: np.ndarray, timestamp_ms: int) -> np.ndarray | None:
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
        if not result.pose_landmarks:
            return None
        lms = result.pose_landmarks[0]
        return np.array([[p.x, p.y, p.z, p.visibility if p.visibility is not None else 0.0]
                         for p in lms], dtype=np.float32)

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
