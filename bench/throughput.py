"""Throughput of `analyze` on this machine: decode, pose, and everything after pose.

    .venv/bin/python bench/throughput.py [--clip PATH] [--model full|lite] [--max-fps 15]

Uses a 720p clip from ../shared/data/videos/clips and a 480p copy of it made in a temporary folder
(nothing is written into the repository). Prints per resolution: decode ms/frame (every frame of
the video), pose ms/frame (frames the pose model sees), engine ms/frame (smoothing, signals,
counting; median and p99), the whole analyze wall time against the video's duration, and the peak
resident memory of the process.
"""

from __future__ import annotations

import argparse
import pathlib
import resource
import statistics
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "data" / "videos" / "clips" / "PushUp-Counter_pushup2.mp4"


def make_480p(src: pathlib.Path, dst: pathlib.Path) -> None:
    import cv2

    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS)
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, (854, 480))
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, (854, 480), interpolation=cv2.INTER_AREA))
    writer.release()
    cap.release()


def measure(path: pathlib.Path, model: str, max_fps: float | None) -> dict[str, float]:
    import cv2

    from repsense.session import analyze_recording
    from repsense.pose.backends import create_backend
    from repsense.pose import PoseRecording, missing_pose
    from repsense.engine.tracker import Tracker
    from repsense.sources.video import iter_frames, probe

    info = probe(path)
    # decode: every frame, as a player would
    t0 = time.perf_counter()
    cap = cv2.VideoCapture(str(path))
    n_all = 0
    while cap.read()[0]:
        n_all += 1
    cap.release()
    decode_ms = (time.perf_counter() - t0) * 1000 / n_all

    # the whole analyze: decode + pose + engine, as `repsense analyze` runs it
    backend = create_backend(model)
    pose_s = 0.0
    poses, stamps = [], []
    t_all = time.perf_counter()
    for _, ts, bgr in iter_frames(path, max_fps=max_fps):
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        t1 = time.perf_counter()
        pose = backend.estimate(rgb, ts)
        pose_s += time.perf_counter() - t1
        poses.append(missing_pose() if pose is None else pose)
        stamps.append(ts)
    backend.close()
    rec = PoseRecording(np.stack(poses), np.asarray(stamps), (info.width, info.height))
    analyze_recording(rec, "push_up")
    wall_s = time.perf_counter() - t_all

    # the engine alone, per frame
    tracker = Tracker("push_up", aspect=rec.aspect)
    per_frame = []
    for p, t in zip(rec.landmarks, rec.timestamp_ms):
        t1 = time.perf_counter_ns()
        tracker.update(p, int(t))
        per_frame.append((time.perf_counter_ns() - t1) / 1e6)
    duration_s = n_all / info.fps
    return {
        "width": info.width, "height": info.height, "video_fps": info.fps, "frames": n_all,
        "pose_frames": len(rec), "decode_ms": decode_ms, "pose_ms": pose_s * 1000 / len(rec),
        "engine_median_ms": statistics.median(per_frame),
        "engine_p99_ms": float(np.percentile(per_frame, 99)),
        "wall_s": wall_s, "duration_s": duration_s, "realtime_x": duration_s / wall_s,
        "analyze_fps": n_all / wall_s,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=pathlib.Path, default=CLIP)
    parser.add_argument("--model", default="full", choices=["lite", "full"])
    parser.add_argument("--max-fps", type=float, default=15.0, help="0 = every frame")
    args = parser.parse_args()
    if not args.clip.is_file():
        print(f"no clip at {args.clip}", file=sys.stderr)
        return 2
    max_fps = args.max_fps or None
    with tempfile.TemporaryDirectory() as tmp:
        small = pathlib.Path(tmp) / "clip_480p.mp4"
        make_480p(args.clip, small)
        rows = [("720p", measure(args.clip, args.model, max_fps)),
                ("480p", measure(small, args.model, max_fps))]
    print(f"model={args.model} max_fps={args.max_fps} clip={args.clip.name}")
    print(f"{'res':5s} {'frames':>6s} {'posed':>6s} {'decode ms':>9s} {'pose ms':>8s} "
          f"{'engine med ms':>13s} {'p99':>6s} {'analyze fps':>11s} {'x realtime':>10s}")
    for name, r in rows:
        print(f"{name:5s} {r['frames']:6d} {r['pose_frames']:6d} {r['decode_ms']:9.2f} "
              f"{r['pose_ms']:8.2f} {r['engine_median_ms']:13.3f} {r['engine_p99_ms']:6.3f} "
              f"{r['analyze_fps']:11.1f} {r['realtime_x']:10.2f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
