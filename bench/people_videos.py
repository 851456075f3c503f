"""Several-people videos whose truth is known, built from the labelled dev clips with ffmpeg.

Each video puts labelled clips side by side (``hstack`` after scaling to one height), so each
strip holds one person whose rep count is the clip's label within the span used. The videos are
short (10-13 s) and cached in a folder (``REPSENSE_PEOPLE_CACHE`` or a temporary one), as are the
poses the model finds in them (``<name>_raw.npz``, a PeopleRecording), so tests and benches pay
for the pose model once.

    python bench/people_videos.py          # build every video and print its truth
"""

from __future__ import annotations

import csv
import os
import pathlib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parents[1]
CLIPS = ROOT.parent / "shared" / "data" / "videos" / "clips"


@dataclass(frozen=True)
class Part:
    clip: str            # file in videos/clips
    start_s: float       # where the strip starts in the clip
    crop: tuple[int, int] | None = None   # (x, width) in the clip's pixels: the person's column


@dataclass(frozen=True)
class Spec:
    name: str
    parts: tuple[Part, ...]
    duration_s: float
    height: int
    people: int
    blackout: tuple[int, float, float] | None = None   # (part index, from s, to s): nobody there
    grid: int | None = None     # cells per row: each clip fitted into a 480x360 cell (cost runs)


SPECS = {
    # two different people and exercises side by side
    "two": Spec("two", (Part("aiTrainer_squats.mp4", 0.0), Part("PushUp-Counter_pushup2.mp4", 2.2)),
                12.5, 480, 2),
    # one clip beside itself half a rep (1.5 s) out of step: the same body twice
    "delayed": Spec("delayed", (Part("test_video_squat.mp4", 1.5), Part("test_video_squat.mp4", 0.0)),
                    9.2, 360, 2),
    # three people in a row (each landscape clip cut to the person's column: people stand side by
    # side, not in a 4:1 strip the pose detector, which sees the frame at 224 px, finds too small)
    "three": Spec("three", (Part("test_video_squat.mp4", 0.0, (380, 400)),
                            Part("aiTrainer_squats.mp4", 0.0),
                            Part("MrPose_squat2.mp4", 8.0, (400, 480))), 10.0, 480, 3),
    # "two" with the left person gone (blacked out) from 4 s to 7 s: out and back within 5 s
    "gap": Spec("gap", (Part("aiTrainer_squats.mp4", 0.0), Part("PushUp-Counter_pushup2.mp4", 2.2)),
                12.5, 480, 2, blackout=(0, 4.0, 7.0)),
    # for the cost of more people (bench/people_cost.py): 2x2 and 3x2 grids of 480x360 cells
    "four": Spec("four", (Part("test_video_squat.mp4", 0.0), Part("aiTrainer_squats.mp4", 0.0),
                          Part("MrPose_squat2.mp4", 8.0), Part("PushUp-Counter_pushup2.mp4", 2.2)),
                 10.0, 360, 4, grid=2),
    "six": Spec("six", (Part("test_video_squat.mp4", 0.0), Part("aiTrainer_squats.mp4", 0.0),
                        Part("MrPose_squat2.mp4", 8.0), Part("PushUp-Counter_pushup2.mp4", 2.2),
                        Part("aiTrainer_squats.mp4", 3.0), Part("test_video_squat.mp4", 1.5)),
                10.0, 360, 6, grid=3),
}


def labels() -> dict[str, dict[str, str]]:
    with open(CLIPS / "labels.csv", newline="") as f:
        return {row["file"]: row for row in csv.DictReader(f)}


def truth_count(part: Part, duration_s: float) -> int:
    """Reps of the clip whose labelled time falls inside the strip's span."""
    row = labels()[part.clip]
    times = [float(t) for t in row["rep_times_s"].split()]
    end = part.start_s + duration_s
    return sum(part.start_s <= t <= end for t in times)


def cache_dir() -> pathlib.Path:
    path = pathlib.Path(os.environ.get("REPSENSE_PEOPLE_CACHE")
                        or pathlib.Path(tempfile.gettempdir()) / "repsense-people-videos")
    path.mkdir(parents=True, exist_ok=True)
    return path


def widths(spec: Spec) -> list[int]:
    """Width of each strip in the built video (scaled to the spec's height, even)."""
    # probe (not a bare cv2.VideoCapture): OpenCV fixes FFmpeg's log level at its first open,
    # and probe sets it quiet first
    from repsense.sources.video import probe

    out = []
    for part in spec.parts:
        info = probe(CLIPS / part.clip)
        w, h = info.width, info.height
        if part.crop:
            w = part.crop[1]
        out.append(int(round(w * spec.height / h / 2)) * 2)
    return out


def bounds(spec: Spec) -> list[float]:
    """Where strips meet, in normalised x of the built video."""
    w = widths(spec)
    total = sum(w)
    return [sum(w[:i + 1]) / total for i in range(len(w) - 1)]


def build(spec: Spec, out_dir: pathlib.Path | None = None) -> pathlib.Path:
    """The video of ``spec`` (built once, then cached)."""
    out = (out_dir or cache_dir()) / f"{spec.name}.mp4"
    if out.exists():
        return out
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg is needed to build the several-people videos")
    args = ["ffmpeg", "-v", "error", "-y"]
    chains = []
    for i, part in enumerate(spec.parts):
        args += ["-ss", f"{part.start_s}", "-t", f"{spec.duration_s}", "-i", str(CLIPS / part.clip)]
        crop = f"crop={part.crop[1]}:ih:{part.crop[0]}:0," if part.crop else ""
        chains.append(f"[{i}:v]fps=30,{crop}scale=-2:{spec.height},setsar=1[v{i}]")
    graph = ";".join(chains) + ";" + "".join(f"[v{i}]" for i in range(len(spec.parts))) + \
        f"hstack=inputs={len(spec.parts)}:shortest=1[s]"
    if spec.grid:
        chains = [c.replace(f"scale=-2:{spec.height},setsar=1",
                            "scale=480:360:force_original_aspect_ratio=decrease,setsar=1,"
                            "pad=480:360:(ow-iw)/2:(oh-ih)/2") for c in chains]
        layout = "|".join(f"{480 * (i % spec.grid)}_{360 * (i // spec.grid)}"
                          for i in range(len(spec.parts)))
        graph = ";".join(chains) + ";" + "".join(f"[v{i}]" for i in range(len(spec.parts))) + \
            f"xstack=inputs={len(spec.parts)}:layout={layout}:shortest=1[s]"
    if spec.blackout is not None:
        k, a, b = spec.blackout
        w = widths(spec)
        graph += f";[s]drawbox=x={sum(w[:k])}:y=0:w={w[k]}:h={spec.height}:color=black:t=fill:" \
                 f"enable='between(t,{a},{b})'[s2]"
        last = "[s2]"
    else:
        last = "[s]"
    tmp = out.with_suffix(".part.mp4")
    subprocess.run(args + ["-filter_complex", graph, "-map", last, "-an", "-c:v", "libx264",
                           "-preset", "veryfast", "-crf", "23", str(tmp)], check=True)
    tmp.rename(out)
    return out


def raw_poses(spec: Spec, model: str = "full"):  # type: ignore[no-untyped-def]
    """Every frame's poses of the spec's video (PeopleRecording), extracted once and cached."""
    from repsense.pose.people import PeopleRecording
    from repsense.sources.video import extract_people

    video = build(spec)
    cached = video.with_name(f"{spec.name}_{model}_raw.npz")
    if cached.exists():
        return PeopleRecording.load(cached)
    rec = extract_people(video, spec.people, model=model)
    rec.save(cached)
    return PeopleRecording.load(cached)


def strip_of(x: float, cuts: list[float]) -> int:
    """The strip (truth person index) a normalised x falls in."""
    return sum(x >= c for c in cuts)


if __name__ == "__main__":
    for spec in SPECS.values():
        path = build(spec)
        print(path, [truth_count(p, spec.duration_s) for p in spec.parts],
              [round(b, 3) for b in bounds(spec)])
