"""Build the MediaPipe Tasks pose bundles (``.task``) that ship in ``repsense/models``.

Current mediapipe wheels run the Tasks API from a ``.task`` bundle but no longer ship model
files. The wheel ``mediapipe==0.10.21`` ships the pose detector and the full landmark model,
and the npm package ``@mediapipe/pose@0.5.1675469404`` ships the lite, full and heavy landmark
models. Neither carries the input-normalisation metadata the Tasks API needs, so this script
adds it (detector: mean 127.5 / std 127.5, landmarks: mean 0 / std 255) and zips each
detector + landmark pair into a bundle. All models are Apache-2.0 (see repsense/models/NOTICE).

Run it once, in a throw-away environment (it needs the old wheel's metadata writers)::

    python3 -m venv /tmp/mp010 && /tmp/mp010/bin/pip install mediapipe==0.10.21
    (cd /tmp && npm pack @mediapipe/pose@0.5.1675469404 && tar xzf mediapipe-pose-*.tgz)
    /tmp/mp010/bin/python tools/build_pose_bundle.py --npm-dir /tmp/package
"""

from __future__ import annotations

import argparse
import hashlib
import pathlib

import mediapipe
from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer
from mediapipe.tasks.python.metadata.metadata_writers import model_asset_bundle_utils

OUT_DIR = pathlib.Path(__file__).resolve().parents[1] / "repsense" / "models"


def with_image_metadata(model: bytes, name: str, mean: float, std: float) -> bytes:
    writer = metadata_writer.MetadataWriter.create(bytearray(model))
    writer.add_general_info(name, "MediaPipe BlazePose model, Apache-2.0")
    writer.add_image_input(norm_mean=[mean], norm_std=[std])
    for _ in range(_output_count(model)):
        writer.add_feature_output()
    content, _ = writer.populate()
    return bytes(content)


def _output_count(model: bytes) -> int:
    from mediapipe.tasks.python.metadata.metadata_writers import writer_utils

    return len(writer_utils.get_output_tensor_types(bytearray(model)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--npm-dir", type=pathlib.Path, required=True,
                        help="unpacked @mediapipe/pose npm package (its 'package' folder)")
    args = parser.parse_args()
    wheel = pathlib.Path(mediapipe.__file__).parent / "modules"
    detector = with_image_metadata(
        (wheel / "pose_detection" / "pose_detection.tflite").read_bytes(),
        "pose_detector", 127.5, 127.5)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for variant in ("lite", "full"):
        landmarks = with_image_metadata(
            (args.npm_dir / f"pose_landmark_{variant}.tflite").read_bytes(),
            f"pose_landmarks_detector_{variant}", 0.0, 255.0)
        out = OUT_DIR / f"pose_landmarker_{variant}.task"
        model_asset_bundle_utils.create_model_asset_bundle(
            {"pose_detector.tflite": detector, "pose_landmarks_detector.tflite": landmarks},
            str(out))
        print(out, hashlib.sha256(out.read_bytes()).hexdigest())


if __name__ == "__main__":
    main()
