"""``repsense analyze``: count and time the reps in videos or pose recordings."""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
from typing import Any, TextIO

from repsense.cli.common import (err, exercise_help, exercise_name, people_count, seconds,
                                  verbose_option)
from repsense.errors import RepsenseError
from repsense.sinks.jsonio import write_json


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("analyze", help="count and time the reps in videos or pose recordings",
                       description="Count and time the repetitions in videos or pose recordings "
                                   "(.npz with landmarks (T,33,4) and timestamp_ms (T,)).")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="video file, pose recording (.npz), or a folder of them")
    p.add_argument("--exercise", default="auto", type=exercise_name, metavar="NAME",
                   help=exercise_help())
    p.add_argument("--start", type=seconds, metavar="SECONDS",
                   help="analyse from this time of the input (seconds)")
    p.add_argument("--end", type=seconds, metavar="SECONDS",
                   help="analyse up to this time of the input (seconds)")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON ('-' for stdout only)")
    p.add_argument("--annotate", metavar="OUT.mp4",
                   help="write the video with the skeleton, count, phase, last rep's score and "
                        "cues drawn on it (.mp4: H.264, .webm: VP9; both play in browsers)")
    p.add_argument("--annotate-fps", choices=["pose", "source"], default="pose",
                   help="frames of the annotated video: 'pose' (default) the frames the pose "
                        "model saw (at most 15 a second), 'source' every frame of the video, "
                        "each with the latest pose")
    p.add_argument("--plot", metavar="OUT.png",
                   help="plot the signal that drives the count (e.g. the knee angle), with good "
                        "and faulty reps and the exercise segments marked")
    p.add_argument("--save-pose", metavar="OUT.npz",
                   help="save the poses found in a video, to analyse again without the pose model")
    p.add_argument("--model", choices=["lite", "full"], default="full",
                   help="pose model (default: full)")
    p.add_argument("--speak", action="store_true",
                   help="say the counts and form cues aloud (espeak-ng) at the pace of the input")
    p.add_argument("--speak-wav", metavar="OUT.wav",
                   help="write the spoken counts and cues as a WAV track aligned with the input "
                        "(as long as the analysed span)")
    p.add_argument("--people", type=people_count, default=1, metavar="N",
                   help="follow up to N people (1-6, default 1): each gets their own exercise, "
                        "count, sets and cues, under 'people' in the JSON report; from 3 on the "
                        "pose model runs on tiles of the frame (slower, docs/people.md)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="processes to use (default: the machine's cores): several inputs in "
                        "parallel, or one long video in chunks")
    p.add_argument("--recursive", action="store_true",
                   help="a folder PATH includes the videos and recordings of its sub-folders")
    p.add_argument("--json-dir", metavar="DIR",
                   help="write one JSON report per input into DIR as each finishes")
    p.add_argument("--resume", action="store_true",
                   help="skip the inputs that already have a report in --json-dir")
    p.add_argument("--ray", nargs="?", const="", metavar="ADDRESS",
                   help="run the inputs as Ray tasks on the cluster at ADDRESS (without it, a "
                        "local Ray instance); needs pip install 'repsense[cluster]'")
    verbose_option(p)
    p.set_defaults(func=cmd_analyze)



def cmd_analyze(args: argparse.Namespace) -> int:
    from repsense.analyze import AnalyzeOptions, InputResult, analyze_input
    from repsense.batch import default_workers, expand_inputs, report_name
    from repsense.sinks.jsonio import dumps
    from repsense.sinks.report import to_json_doc
    from repsense.cli.history import analyze_options

    if args.start is not None and args.end is not None and args.end <= args.start:
        err(f"--end ({args.end}) must be after --start ({args.start})")
        return 2
    if args.annotate:
        from repsense.sinks.encode import FORMATS

        if pathlib.Path(args.annotate).suffix.lower() not in FORMATS:
            err(f"--annotate {args.annotate}: the name must end in one of {', '.join(FORMATS)} "
                "(.mp4: H.264, .webm: VP9; both play in browsers)")
            return 2
    if args.workers is not None and args.workers < 1:
        err("--workers must be 1 or more")
        return 2
    if args.resume and not args.json_dir:
        err("--resume needs --json-dir (the reports it skips are read from there)")
        return 2
    if args.people > 1:
        for option, flag in ((args.plot, "--plot"), (args.speak_wav, "--speak-wav"),
                             (args.speak, "--speak"), (getattr(args, "plan", None), "--plan")):
            if option:
                err(f"{flag} follows one person: leave it out with --people {args.people}")
                return 2
    paths = expand_inputs(args.paths, args.recursive)
    human: TextIO = sys.stderr if args.json == "-" else sys.stdout
    if args.speak or args.speak_wav:
        from repsense.sinks.speech import espeak

        espeak()   # fail before the long work when there is no voice
    if args.speak:
        from repsense.sinks.speech import audio_device

        if audio_device() is None:
            err("--speak: no audio device found (no sound card, PulseAudio or PipeWire), so "
                "nothing could be heard; use --speak-wav OUT.wav to write the voice to a file")
            return 1
    workers = args.workers or default_workers()
    json_dir = pathlib.Path(args.json_dir) if args.json_dir else None
    if json_dir is not None:
        json_dir.mkdir(parents=True, exist_ok=True)
    names = [report_name(p, paths) for p in paths]
    done: dict[int, dict] = {}
    if args.resume and json_dir is not None:
        done = _reports_done(json_dir, names)
        if done:
            print(f"resuming: {len(done)} of {len(paths)} inputs already have a report in "
                  f"{json_dir}", file=sys.stderr)
    todo = [i for i in range(len(paths)) if i not in done]
    from repsense.cli.plans import resolve_plan

    plan = resolve_plan(args)      # --plan: a bad plan fails before the long work
    opts = AnalyzeOptions(
        exercise=args.exercise, start=args.start, end=args.end, model=args.model,
        annotate=args.annotate, annotate_fps=args.annotate_fps, plot=args.plot,
        save_pose=args.save_pose, speak_wav=args.speak_wav,
        set_rest_s=getattr(args, "set_rest", None), n_inputs=len(paths),
        pose_workers=workers if len(todo) == 1 and args.ray is None else 1,
        verbose=bool(getattr(args, "verbose", False)), plan=plan, people=args.people)
    results: dict[int, InputResult] = {}
    shown = 0
    bar = _progress(len(todo)) if len(todo) > 1 else None

    def show_ready() -> None:
        """Print reports in input order as soon as every earlier one is in."""
        nonlocal shown
        while shown < len(paths) and (shown in results or shown in done):
            if shown in results:
                result = results[shown]
                if bar is not None:
                    bar.clear()
                for note in result.notes:
                    print(note, file=sys.stderr)
                if result.ok:
                    print(result.text, file=human)
                    runs = {None: result.events} if result.people_events is None else \
                        result.people_events
                    for person, events in runs.items():
                        source = result.path if person is None else f"{result.path}#person{person}"
                        for sink in analyze_options(args, source).get("sinks", []):
                            if result.report.plan is not None:   # --plan: kept with the session
                                sink.plan_result = lambda r=result.report.plan: r
                            sink.emit(events)
                            sink.close()
                    if args.speak:
                        _speak_paced(result.events, args.start or 0.0)
                else:
                    err(str(result.report.error))
            shown += 1

    def on_result(k: int, result: InputResult) -> None:
        i = todo[k]
        results[i] = result
        if json_dir is not None and result.ok:
            (json_dir / names[i]).write_text(dumps(to_json_doc([result.report]), indent=2) + "\n",
                                            encoding="utf-8")
        if bar is not None:
            bar.update(1)
        show_ready()

    import functools

    todo_paths = [paths[i] for i in todo]
    show_ready()
    try:
        if args.ray is not None:
            from repsense.batch import run_ray

            run_ray(functools.partial(analyze_input, opts), todo_paths, args.ray or None,
                    on_result=on_result)
        elif workers > 1 and len(todo) > 1:
            from repsense.batch import run_local

            run_local(functools.partial(analyze_input, opts), todo_paths, workers,
                      on_result=on_result)
        else:
            for k, path in enumerate(todo_paths):
                frame_bar = _frame_progress(path) if opts.pose_workers == 1 and \
                    path.suffix.lower() != ".npz" else None
                try:
                    result = analyze_input(opts, path, frame_bar.update_to if frame_bar else None)
                finally:
                    if frame_bar is not None:
                        frame_bar.close()
                on_result(k, result)
    finally:
        if bar is not None:
            bar.close()
    failed = sum(not r.ok for r in results.values())
    if args.json:
        order = sorted(results)
        doc = to_json_doc([results[i].report for i in order])
        by_index = dict(zip(order, doc["inputs"]))
        by_index.update({i: d for i, d in done.items()})
        write_json({**doc, "inputs": [by_index[i] for i in range(len(paths))]}, args.json)
    return 1 if failed else 0


def _reports_done(json_dir: pathlib.Path, names: list[str]) -> dict[int, dict]:
    """The reports a run before this one finished: valid JSON with a report and no error."""
    import json

    done: dict[int, dict] = {}
    for i, name in enumerate(names):
        path = json_dir / name
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            report = doc["inputs"][0]
        except (OSError, ValueError, KeyError, IndexError, TypeError):
            continue
        if isinstance(report, dict) and not report.get("error"):
            done[i] = report
    return done


def _speak_paced(events: list, start_s: float) -> None:
    """Say the events aloud at the pace of the input's time line (Ctrl-C skips the rest)."""
    from repsense.sinks.speech import Speaker

    speaker = Speaker()
    print("speaking the counts and cues (Ctrl-C to skip)", file=sys.stderr)
    t0 = time.monotonic()
    try:
        for e in sorted(events, key=lambda e: e.timestamp_ms):
            wait = (e.timestamp_ms / 1000.0 - start_s) - (time.monotonic() - t0)
            if wait > 0:
                time.sleep(wait)
            speaker.handle([e])
        speaker.close(wait=True)
    except KeyboardInterrupt:
        speaker.close(wait=False)


class _Bar:
    """A tqdm bar on stderr when stderr is a terminal; nothing otherwise."""

    def __init__(self, total: int, desc: str, unit: str) -> None:
        from tqdm import tqdm

        self._bar = tqdm(total=total or None, desc=desc, unit=unit, leave=False, file=sys.stderr)

    def update(self, n: int) -> None:
        self._bar.update(n)

    def update_to(self, index: int) -> None:
        self._bar.update(index + 1 - self._bar.n)

    def clear(self) -> None:
        self._bar.clear()

    def close(self) -> None:
        self._bar.close()


def _progress(n: int) -> _Bar | None:
    if n < 2 or not sys.stderr.isatty():
        return None
    return _Bar(n, "inputs", "input")


def _frame_progress(path: pathlib.Path) -> _Bar | None:
    if not sys.stderr.isatty():
        return None
    from repsense.sources.video import probe

    try:
        info = probe(path)
    except RepsenseError:
        return None  # the real read reports the problem
    return _Bar(info.frame_count, path.name, "frame")
