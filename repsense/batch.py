"""Many inputs at once: a local process pool, or Ray tasks on a cluster, over one per-input function.

The per-input function takes a path and returns a picklable result; it never raises for a bad
input (the result carries the error), so a pool, Ray and a serial loop give the same results, in
input order. One long video on several workers is split into overlapping chunks whose poses are
estimated in parallel and joined before the engine runs once over the whole recording.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import pathlib
from collections.abc import Callable, Sequence
from typing import TypeVar

import numpy as np

from repsense.errors import InputError, RepsenseError
from repsense.pose import PoseRecording
from repsense.sources import RECORDING_SUFFIXES, VIDEO_SUFFIXES

log = logging.getLogger(__name__)

R = TypeVar("R")

# A chunk shorter than this is not worth a process of its own. NOTE: after a join the tracker's
# poses stay slightly off the one-pass poses (median 0.004 of the image on MrPose_squat2), which
# can flip a rep that sits on a form threshold; a video under a minute gains little from two
# chunks (its model start-up and warm-up cost ~2 s), so it is analysed in one pass.
MIN_CHUNK_S = 30.0


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else (os.cpu_count() or 1))


def expand_inputs(paths: Sequence[str | pathlib.Path], recursive: bool = False) -> list[pathlib.Path]:
    """Paths as given; a folder stands for the videos and pose recordings in it (sorted; with
    ``recursive`` also in its sub-folders). A folder with none is an error."""
    out: list[pathlib.Path] = []
    for raw in paths:
        p = pathlib.Path(raw)
        if not p.is_dir():
            out.append(p)
            continue
        pattern = "**/*" if recursive else "*"
        found = sorted(f for f in p.glob(pattern) if f.is_file()
                       and f.suffix.lower() in VIDEO_SUFFIXES | RECORDING_SUFFIXES)
        if not found:
            hint = "" if recursive else " (--recursive looks in sub-folders too)"
            raise InputError(f"{p}: no videos or pose recordings in this folder{hint}")
        out.extend(found)
    return out


def report_name(path: pathlib.Path, inputs: Sequence[pathlib.Path]) -> str:
    """A file name for the report of ``path`` that no other input of the run shares."""
    stems = [q.stem for q in inputs]
    if stems.count(path.stem) == 1:
        return f"{path.stem}.json"
    parts = [part for part in path.with_suffix("").parts if part not in ("/", "..", ".")]
    return "__".join(parts[-3:]) + f"{path.suffix.replace('.', '_')}.json"


def run_local(fn: Callable[[pathlib.Path], R], paths: Sequence[pathlib.Path], workers: int,
              on_result: Callable[[int, R], None] | None = None) -> list[R]:
    """``fn`` over ``paths`` on ``workers`` processes (in this process for one); results in
    input order; ``on_result(index, result)`` as each finishes (for progress and per-input files)."""
    results: dict[int, R] = {}
    if workers <= 1 or len(paths) <= 1:
        for i, p in enumerate(paths):
            results[i] = fn(p)
            if on_result is not None:
                on_result(i, results[i])
        return [results[i] for i in range(len(paths))]
    # spawn: a fresh interpreter per worker; MediaPipe's threads do not survive fork
    ctx = multiprocessing.get_context("spawn")
    with cf.ProcessPoolExecutor(max_workers=min(workers, len(paths)), mp_context=ctx) as pool:
        futures = {pool.submit(fn, p): i for i, p in enumerate(paths)}
        try:
            for fut in cf.as_completed(futures):
                i = futures[fut]
                results[i] = fut.result()
                if on_result is not None:
                    on_result(i, results[i])
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
    return [results[i] for i in range(len(paths))]


def run_ray(fn: Callable[[pathlib.Path], R], paths: Sequence[pathlib.Path],
            address: str | None, on_result: Callable[[int, R], None] | None = None,
            retries: int = 3) -> list[R]:
    """``fn`` over ``paths`` as Ray tasks (a cluster at ``address``, or a local Ray instance);
    a task whose worker is lost is retried up to ``retries`` times."""
    try:
        import ray
    except ImportError:
        raise RepsenseError("--ray needs Ray: pip install 'repsense[cluster]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        try:
            ray.init(address=address or None, logging_level=logging.WARNING,
                     log_to_driver=False, include_dashboard=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = address or "a local instance"
            raise RepsenseError(f"cannot reach the Ray cluster at {where}: {exc}") from None
    try:
        task = ray.remote(num_cpus=1, max_retries=retries)(_call)
        fn_ref = ray.put(fn)
        refs = {task.remote(fn_ref, p): i for i, p in enumerate(paths)}
        results: dict[int, R] = {}
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                i = refs[ref]
                results[i] = ray.get(ref)
                if on_result is not None:
                    on_result(i, results[i])
        return [results[i] for i in range(len(paths))]
    finally:
        if started_here:
            ray.shutdown()


def _call(fn: Callable[[pathlib.Path], R], path: pathlib.Path) -> R:
    """A Ray task: Ray wants a plain function, ``fn`` may be a partial."""
    return fn(path)


# --- one long video on several workers ---------------------------------------------------------
def chunk_bounds(duration_s: float, workers: int, start_s: float | None = None,
                 end_s: float | None = None,
                 min_chunk_s: float = MIN_CHUNK_S) -> list[tuple[float, float]]:
    """Split ``[start, end]`` of a video into at most ``workers`` spans of at least
    ``min_chunk_s``."""
    lo = start_s or 0.0
    hi = duration_s if end_s is None else min(end_s, duration_s)
    n = int(max(1, min(workers, (hi - lo) // min_chunk_s)))
    edges = np.linspace(lo, hi, n + 1)
    return [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])]


def _chunk_pose(args: tuple[str, float, float, bool, str]) -> PoseRecording:
    from repsense.sources.video import extract_pose

    path, start, end, last, model = args
    rec = extract_pose(path, start_s=start, end_s=None if last else end, model=model)
    if last:
        return rec
    keep = rec.timestamp_ms < end * 1000.0
    return PoseRecording(rec.landmarks[keep], rec.timestamp_ms[keep], rec.image_size, rec.source,
                         rec.source_fps, rec.unseen_brightness)


def extract_pose_parallel(path: str | pathlib.Path, workers: int, *, model: str = "full",
                          start_s: float | None = None, end_s: float | None = None,
                          progress: Callable[[float], None] | None = None,
                          min_chunk_s: float = MIN_CHUNK_S) -> PoseRecording:
    """The pose recording of one video, its chunks estimated on ``workers`` processes.

    Every chunk gets exactly the frames one pass gets (the frame choice is anchored at the video's
    first frame); each chunk's model starts TRACKING_WARMUP_S before it, so it is tracking when
    the chunk begins; the chunks are joined by time. One worker or a short video is one pass.
    """
    from repsense.sources.video import extract_pose, probe

    info = probe(path)
    duration = info.frame_count / info.fps if info.frame_count > 0 else 0.0
    spans = chunk_bounds(duration, workers, start_s, end_s, min_chunk_s) if duration > 0 \
        else [(0.0, 0.0)]
    if len(spans) == 1:
        return extract_pose(path, start_s=start_s, end_s=end_s, model=model)
    jobs = [(str(path), a, b, i == len(spans) - 1 and end_s is None, model)
            for i, (a, b) in enumerate(spans)]
    if start_s is None:
        jobs[0] = (str(path), 0.0, spans[0][1], False, model)
    parts = run_local(_chunk_pose, jobs, len(jobs),  # type: ignore[arg-type]
                      on_result=(lambda i, _: progress(1.0 / len(jobs))) if progress else None)
    parts = [p for p in parts if len(p)]
    if not parts:
        raise InputError(f"{path}: no frames could be decoded")
    landmarks = np.concatenate([p.landmarks for p in parts])
    stamps = np.concatenate([p.timestamp_ms for p in parts])
    keep = np.concatenate([[True], np.diff(stamps) > 0])   # a frame two chunks both saw
    unseen = [p.unseen_brightness for p in parts if p.unseen_brightness is not None]
    return PoseRecording(landmarks[keep], stamps[keep], parts[0].image_size, str(path),
                         parts[0].source_fps, float(np.mean(unseen)) if unseen else None)


__all__ = ["chunk_bounds", "default_workers", "expand_inputs", "extract_pose_parallel",
           "report_name", "run_local", "run_ray"]
