"""Many inputs at once: folders, report names, the process pool, and one video in chunks."""

from __future__ import annotations

import pathlib

import numpy as np
import pytest

from repsense.batch import (chunk_bounds, expand_inputs, extract_pose_parallel, report_name,
                            run_local)
from repsense.errors import InputError
from repsense.session import analyze_recording

from conftest import require_data


def _square(path: pathlib.Path) -> tuple[str, int]:
    import os

    return path.name, os.getpid()


def test_folders_expand_to_videos_and_recordings(tmp_path):
    (tmp_path / "b.mp4").write_bytes(b"x")
    (tmp_path / "a.npz").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.MOV").write_bytes(b"x")
    assert [p.name for p in expand_inputs([tmp_path])] == ["a.npz", "b.mp4"]
    assert [p.name for p in expand_inputs([tmp_path], recursive=True)] == ["a.npz", "b.mp4",
                                                                           "c.MOV"]
    assert expand_inputs([tmp_path / "missing.mp4"]) == [tmp_path / "missing.mp4"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="--recursive"):
        expand_inputs([tmp_path / "empty"])


def test_report_names_do_not_collide():
    inputs = [pathlib.Path("day1/set.mp4"), pathlib.Path("day2/set.mp4"), pathlib.Path("x/one.mp4")]
    names = [report_name(p, inputs) for p in inputs]
    assert len(set(names)) == 3 and names[2] == "one.json"
    assert all("/" not in n for n in names)


def test_the_pool_returns_results_in_input_order_from_other_processes():
    import os

    paths = [pathlib.Path(f"{i}.mp4") for i in range(6)]
    seen = []
    out = run_local(_square, paths, workers=2, on_result=lambda i, r: seen.append(i))
    assert [name for name, _ in out] == [p.name for p in paths]
    assert sorted(seen) == list(range(6))
    assert all(pid != os.getpid() for _, pid in out)
    assert run_local(_square, paths, workers=1) == [(p.name, os.getpid()) for p in paths]


@pytest.mark.parametrize("duration, workers, expected", [
    (60.0, 2, [(0.0, 30.0), (30.0, 60.0)]),
    (120.0, 4, [(0.0, 30.0), (30.0, 60.0), (60.0, 90.0), (90.0, 120.0)]),
    (120.0, 8, [(0.0, 30.0), (30.0, 60.0), (60.0, 90.0), (90.0, 120.0)]),
    (59.0, 2, [(0.0, 59.0)]),                # under a minute: one pass
    (0.0, 2, [(0.0, 0.0)]),
])
def test_chunks_are_long_enough(duration, workers, expected):
    assert chunk_bounds(duration, workers) == expected


def test_chunks_respect_start_and_end():
    assert chunk_bounds(100.0, 2, 10.0, 90.0) == [(10.0, 50.0), (50.0, 90.0)]
    assert chunk_bounds(60.0, 2, 10.0, 50.0, min_chunk_s=8) == [(10.0, 30.0), (30.0, 50.0)]


def test_a_chunk_sees_the_frames_of_one_pass():
    from repsense.sources.video import iter_frames

    path = require_data("videos", "clips", "MrPose_squat2.mp4")   # 30 fps: every other frame
    whole = [t for _, t, _ in iter_frames(path, max_fps=15)]
    for start in (3.0, 9.02, 9.05):
        part = [t for _, t, _ in iter_frames(path, start_s=start, max_fps=15)]
        assert part == [t for t in whole if t >= start * 1000]


@pytest.mark.slow
def test_a_video_in_chunks_counts_like_one_pass():
    """Chunks forced short (8 s) on a 41 s clip: the same count as one pass (bench/
    chunk_agreement.py runs every dev clip: 50 of 51 agree)."""
    from repsense.sources.video import extract_pose

    path = require_data("videos", "clips", "MrPose_squat.mp4")
    one = extract_pose(path)
    two = extract_pose_parallel(path, 2, min_chunk_s=8.0)
    assert np.array_equal(one.timestamp_ms, two.timestamp_ms)    # the same frames
    assert analyze_recording(two, "squat").report.total_reps == \
        analyze_recording(one, "squat").report.total_reps == 9


@pytest.mark.slow
def test_a_video_over_a_minute_is_chunked_by_default_and_holds_the_same():
    from repsense.sources.video import extract_pose

    path = require_data("videos", "clips", "MrPose_plank.mp4")      # 66 s: two chunks
    one = extract_pose(path)
    two = extract_pose_parallel(path, 2)
    assert np.array_equal(one.timestamp_ms, two.timestamp_ms)
    assert not np.array_equal(np.nan_to_num(one.landmarks), np.nan_to_num(two.landmarks))
    held = [next(e.hold_s for e in analyze_recording(r, "plank").report.exercises
                 if e.name == "plank") for r in (one, two)]
    assert abs(held[0] - held[1]) <= 1.0, held


def _json(path: pathlib.Path) -> dict:
    import json

    return json.loads(path.read_text())


def _recordings(tmp_path: pathlib.Path) -> pathlib.Path:
    """A folder of inputs: real recordings of the dev data's poses, the sample, and a bad one."""
    import shutil

    from conftest import ROOT

    folder = tmp_path / "inputs"
    (folder / "more").mkdir(parents=True)
    shutil.copy(ROOT / "repsense" / "samples" / "squats.npz", folder / "a_squats.npz")
    shutil.copy(ROOT / "repsense" / "samples" / "squats.npz", folder / "more" / "squats.npz")
    (folder / "b_broken.npz").write_bytes(b"not a zip")
    return folder


def test_workers_give_the_serial_report_byte_for_byte(tmp_path):
    from repsense.cli import main

    folder = _recordings(tmp_path)
    assert main(["analyze", str(folder), "--exercise", "squat", "--recursive", "--workers", "1", "--json",
                 str(tmp_path / "one.json")]) == 1          # the broken input
    assert main(["analyze", str(folder), "--exercise", "squat", "--recursive", "--workers", "2", "--json",
                 str(tmp_path / "two.json")]) == 1
    one = (tmp_path / "one.json").read_bytes()
    assert one == (tmp_path / "two.json").read_bytes()
    inputs = _json(tmp_path / "one.json")["inputs"]
    assert [pathlib.Path(i["path"]).name for i in inputs] == ["a_squats.npz", "b_broken.npz",
                                                             "squats.npz"]
    assert [i["total_reps"] for i in inputs] == [5, 0, 5]
    assert inputs[1]["error"] and not inputs[0]["error"]


def test_json_dir_keeps_each_report_and_resume_skips_them(tmp_path, capsys):
    from repsense.cli import main

    folder = _recordings(tmp_path)
    out = tmp_path / "reports"
    assert main(["analyze", str(folder), "--exercise", "squat", "--recursive", "--json-dir", str(out),
                 "--workers", "2"]) == 1
    written = sorted(p.name for p in out.iterdir())
    assert written == ["a_squats.json", "squats.json"]       # the broken one is retried next time
    capsys.readouterr()
    (out / "squats.json").unlink()                            # as if the run stopped before it
    assert main(["analyze", str(folder), "--exercise", "squat", "--recursive", "--json-dir", str(out), "--resume",
                 "--json", str(tmp_path / "all.json")]) == 1
    err = capsys.readouterr().err
    assert "resuming: 1 of 3" in err
    inputs = _json(tmp_path / "all.json")["inputs"]
    assert [i["total_reps"] for i in inputs] == [5, 0, 5]
    assert main(["analyze", str(folder), "--exercise", "squat", "--resume"]) == 2    # --resume needs --json-dir


def test_ray_on_a_local_instance_gives_the_local_reports(tmp_path):
    pytest.importorskip("ray", reason="Ray is the optional extra repsense[cluster]")
    from repsense.cli import main

    folder = _recordings(tmp_path)
    assert main(["analyze", str(folder), "--exercise", "squat", "--recursive", "--workers", "1", "--json",
                 str(tmp_path / "local.json")]) == 1
    assert main(["analyze", str(folder), "--exercise", "squat", "--recursive", "--ray", "--json",
                 str(tmp_path / "ray.json")]) == 1
    assert (tmp_path / "local.json").read_bytes() == (tmp_path / "ray.json").read_bytes()
