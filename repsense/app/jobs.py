"""Uploaded videos analysed on the server, one job at a time, off the event loop.

A job owns a folder under the server's work directory named by its id (server-chosen, checked by
``JOB_ID``); nothing a client sends becomes a path.
"""

from __future__ import annotations

import logging
import re
import shutil
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from repsense.errors import RepsenseError

log = logging.getLogger(__name__)

JOB_ID = re.compile(r"^[0-9a-f]{12}$")
KEEP_JOBS = 50


@dataclass
class Job:
    id: str
    folder: Path
    exercise: str
    name: str
    status: str = "queued"        # queued, running, done, failed
    progress: float = 0.0
    stage: str = "waiting"
    error: str | None = None
    report: dict[str, Any] | None = None
    created: float = field(default_factory=time.time)

    @property
    def input(self) -> Path:
        return self.folder / f"input{Path(self.name).suffix.lower() or '.mp4'}"

    @property
    def video(self) -> Path:
        return self.folder / "annotated.mp4"

    @property
    def plot(self) -> Path:
        return self.folder / "plot.png"

    def to_dict(self, base: str) -> dict[str, Any]:
        done = self.status == "done"
        return {"job": self.id, "name": self.name, "exercise": self.exercise,
                "status": self.status, "stage": self.stage, "progress": round(self.progress, 3),
                "error": self.error, "report": self.report,
                "video": f"{base}/{self.id}/video.mp4" if done and self.video.is_file() else None,
                "plot": f"{base}/{self.id}/plot.png" if done and self.plot.is_file() else None}


class JobRunner:
    """Runs uploaded-video analyses one after the other in a worker thread."""

    def __init__(self, work_dir: Path, model: str = "full",
                 sinks_for: Callable[[Job], list[Any]] | None = None) -> None:
        self.work_dir = work_dir
        self.model = model
        self.sinks_for = sinks_for     # the sinks of a job's analysis (the history store)
        self.jobs: dict[str, Job] = {}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="repsense-analyze")
        self._lock = threading.Lock()

    def new_job(self, name: str, exercise: str) -> Job:
        job_id = uuid.uuid4().hex[:12]
        folder = self.work_dir / job_id
        folder.mkdir(parents=True, exist_ok=False)
        safe_name = re.sub(r"[^\w.\- ]", "_", Path(name).name)[:120] or "upload.mp4"
        job = Job(job_id, folder, exercise, safe_name)
        with self._lock:
            self.jobs[job_id] = job
            self._forget_old()
        return job

    def get(self, job_id: str) -> Job | None:
        if not JOB_ID.match(job_id):
            return None
        return self.jobs.get(job_id)

    def discard(self, job: Job) -> None:
        with self._lock:
            self.jobs.pop(job.id, None)
        shutil.rmtree(job.folder, ignore_errors=True)

    def submit(self, job: Job) -> None:
        self._pool.submit(self._run, job)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _forget_old(self) -> None:
        while len(self.jobs) > KEEP_JOBS:
            old = self.jobs.pop(next(iter(self.jobs)))
            shutil.rmtree(old.folder, ignore_errors=True)

    def _run(self, job: Job) -> None:
        from repsense.analyze import require_person
        from repsense.session import analyze_recording
        from repsense.sinks.annotate import write_annotated
        from repsense.sinks.plot import write_plot
        from repsense.sources import load_input
        from repsense.sources.video import DEFAULT_POSE_FPS, probe

        job.status, job.stage = "running", "finding the body in every frame"
        try:
            total = max(1, probe(job.input).frame_count)

            def progress(index: int) -> None:
                job.progress = min(0.8, 0.8 * (index + 1) / total)

            rec = load_input(job.input, model=self.model, progress=progress)
            job.progress, job.stage = 0.8, "counting"
            analysis = analyze_recording(rec, job.exercise,
                                         sinks=self.sinks_for(job) if self.sinks_for else ())
            require_person(job.input, analysis)   # the message names job.name (below)
            report = analysis.report
            report.path = job.name
            job.report = report.to_dict()
            job.progress, job.stage = 0.85, "drawing the annotated video"
            write_annotated(job.input, analysis, job.video, None, None, DEFAULT_POSE_FPS)
            job.progress, job.stage = 0.97, "plotting"
            write_plot(analysis, job.plot)
            job.progress, job.stage, job.status = 1.0, "done", "done"
        except RepsenseError as exc:
            job.status, job.stage, job.error = "failed", "failed", str(exc).replace(
                str(job.input), job.name)
        except Exception as exc:  # noqa: BLE001 - a job's failure is reported, the server goes on
            log.exception("analysis of upload %s failed", job.id)
            job.status, job.stage = "failed", "failed"
            job.error = f"the analysis failed unexpectedly ({type(exc).__name__}); see the server log"
        finally:
            job.input.unlink(missing_ok=True)   # the upload is not kept once analysed


__all__ = ["JOB_ID", "Job", "JobRunner"]
