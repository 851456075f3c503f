"""Throughput of `repsense analyze` at scale: one long video in chunks, many videos on a pool, Ray.

    .venv/bin/python bench/batch_throughput.py [--videos 6] [--no-ray]

Makes (in a temporary folder, nothing in the repository) a 60 s 720p 30 fps video from a dev clip
of ../shared/data/videos/clips, and a set of copies of short dev clips. Prints, in one run so the
ratios compare like with like on a noisy machine:
- one 60 s video: the bare pose loop (decode + MediaPipe on the frames analyze poses, nothing
  else) and `analyze --workers 1 / 2` as seconds, x real time and the speed-up over 1 worker;
- many videos: videos per minute and x real time for 1 and 2 workers and, with Ray installed, the
  Ray path on a local instance;
- the peak resident memory of the largest process.
"""

from __future__ import annotations

import argparse
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLIPS = ROOT.parent / "shared" / "data" / "videos" / "clips"
LONG_SOURCE = "PushUp-Counter_pushup.mp4"
SHORT = ["PushUp-Counter_pushup2.mp4", "aiTrainer_squats.mp4", "situp_situp.mp4",
         "Computer-Vision-Curl-Counter-Project_curl.mp4", "aiTrainer_curls5.mp4",
         "test_video_squat.mp4"]


def make_long(src: pathlib.Path, dst: pathlib.Path, seconds: float = 60.0) -> None:
    """``seconds`` of ``src`` at 1280x720, 30 fps (looped when shorter)."""
    import cv2

    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (1280, 720))
    written = 0
    while written < seconds * 30:
        cap = cv2.VideoCapture(str(src))
        while written < seconds * 30:
            ok, frame = cap.read()
            if not ok:
                break
            writer.write(cv2.resize(frame, (1280, 720), interpolation=cv2.INTER_AREA))
            written += 1
        cap.release()
    writer.release()


def bare_pose_loop(path: pathlib.Path) -> float:
    import cv2

    from repsense.pose.backends import create_backend
    from repsense.sources.video import DEFAULT_POSE_FPS, iter_frames

    backend = create_backend("full")
    t0 = time.perf_counter()
    for _, ts, bgr in iter_frames(path, max_fps=DEFAULT_POSE_FPS):
        backend.estimate(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), ts)
    wall = time.perf_counter() - t0
    backend.close()
    return wall


def analyze(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "repsense", "analyze", *args, "--exercise", "auto",
                    "--json", "/dev/null"], check=False, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def duration_s(paths: list[pathlib.Path]) -> float:
    from repsense.sources.video import probe

    total = 0.0
    for p in paths:
        info = probe(p)
        total += info.frame_count / info.fps
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", type=int, default=6, help="how many short videos (default 6)")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray path")
    args = ap.parse_args()
    if not (CLIPS / LONG_SOURCE).is_file():
        print(f"needs the dev clips in {CLIPS}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = pathlib.Path(tmp)
        long_video = folder / "long_720p.mp4"
        make_long(CLIPS / LONG_SOURCE, long_video)
        many = folder / "many"
        many.mkdir()
        for i in range(args.videos):
            name = SHORT[i % len(SHORT)]
            shutil.copy(CLIPS / name, many / f"{i:02d}_{name}")
        videos = sorted(many.iterdir())
        long_s = duration_s([long_video])
        many_s = duration_s(videos)

        bare = bare_pose_loop(long_video)
        one = analyze([str(long_video), "--workers", "1"])
        two = analyze([str(long_video), "--workers", "2"])
        print(f"one video, {long_s:.0f} s at 1280x720 30 fps (pose on 15 frames a second):")
        print(f"  {'':24s} {'seconds':>8s} {'x realtime':>10s} {'speed-up':>9s}")
        for name, wall in (("bare pose loop", bare), ("analyze --workers 1", one),
                           ("analyze --workers 2", two)):
            print(f"  {name:24s} {wall:8.1f} {long_s / wall:10.2f} {one / wall:9.2f}")

        rows = [("--workers 1", analyze([str(many), "--workers", "1"])),
                ("--workers 2", analyze([str(many), "--workers", "2"]))]
        if not args.no_ray:
            try:
                import ray  # noqa: F401
                rows.append(("--ray (local)", analyze([str(many), "--ray"])))
            except ImportError:
                print("(Ray not installed: pip install 'repsense[cluster]')")
        print(f"{len(videos)} videos, {many_s:.0f} s in all:")
        print(f"  {'':24s} {'seconds':>8s} {'videos/min':>10s} {'x realtime':>10s} {'speed-up':>9s}")
        for name, wall in rows:
            print(f"  analyze {name:16s} {wall:8.1f} {60 * len(videos) / wall:10.1f} "
                  f"{many_s / wall:10.2f} {rows[0][1] / wall:9.2f}")
    peak = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
               resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024
    print(f"peak resident memory of the largest process: {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
