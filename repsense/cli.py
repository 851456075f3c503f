"""The ``repsense`` command line."""

from __future__ import annotations

import argparse
import math
import os
import pathlib
import sys
import time
from typing import TextIO

from repsense import __version__
from repsense.errors import RepsenseError
from repsense.sinks.jsonio import write_json


# Frames darker than this (mean 0-255) are too dark for the pose model to find a person.
DARK_BRIGHTNESS = 40.0


def _err(msg: str) -> None:
    print(f"repsense: {msg}", file=sys.stderr)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a time >= 0 in seconds, got {text!r}")
    return value


def _exercise_help() -> str:
    from repsense.engine.exercises import catalog

    return ("the exercise: 'auto' (default: recognise it, and follow switches), 'generic' (count "
            "any repeated movement) or one of: " + ", ".join(sorted(catalog())) +
            " (see 'repsense exercises')")


def _exercise_name(text: str) -> str:
    from repsense.engine.exercises import GENERIC, catalog

    if text in ("auto", GENERIC) or text in catalog():
        return text
    raise argparse.ArgumentTypeError(
        f"unknown exercise {text!r}; choose auto, generic or one of: {', '.join(sorted(catalog()))}")


def _output_for(option: str | None, path: pathlib.Path, n: int, suffix: str) -> pathlib.Path | None:
    """With several inputs an output option names a folder-less pattern: OUT.stem-<input>.suffix."""
    if option is None:
        return None
    out = pathlib.Path(option)
    if n == 1:
        return out
    return out.with_name(f"{out.stem}-{path.stem}{out.suffix or suffix}")


def cmd_analyze(args: argparse.Namespace) -> int:
    from repsense.session import analyze_recording
    from repsense.store.cli import analyze_options
    from repsense.sources import RECORDING_SUFFIXES, load_input
    from repsense.sinks.report import InputReport, format_text, to_json_doc

    if args.start is not None and args.end is not None and args.end <= args.start:
        _err(f"--end ({args.end}) must be after --start ({args.start})")
        return 2
    if args.annotate:
        from repsense.sinks.encode import FORMATS

        if pathlib.Path(args.annotate).suffix.lower() not in FORMATS:
            _err(f"--annotate {args.annotate}: the name must end in one of {', '.join(FORMATS)} "
                 "(.mp4: H.264, .webm: VP9; both play in browsers)")
            return 2
    paths = [pathlib.Path(p) for p in args.paths]
    human: TextIO = sys.stderr if args.json == "-" else sys.stdout
    if args.speak or args.speak_wav:
        from repsense.sinks.speech import espeak

        espeak()   # fail before the long work when there is no voice
    if args.speak:
        from repsense.sinks.speech import audio_device

        if audio_device() is None:
            _err("--speak: no audio device found (no sound card, PulseAudio or PipeWire), so "
                 "nothing could be heard; use --speak-wav OUT.wav to write the voice to a file")
            return 1
    reports: list[InputReport] = []
    failed = 0
    bar = _progress(len(paths))
    for path in paths:
        is_recording = path.suffix.lower() in RECORDING_SUFFIXES
        try:
            if args.annotate and is_recording:
                raise RepsenseError(f"{path}: --annotate needs a video, not a pose recording")
            frame_bar = _frame_progress(path) if not is_recording else None
            try:
                rec = load_input(path, start_s=args.start, end_s=args.end, model=args.model,
                                 progress=frame_bar.update_to if frame_bar else None)
            finally:
                if frame_bar is not None:
                    frame_bar.close()
            analysis = analyze_recording(rec, args.exercise, **analyze_options(args, str(path)))
            if analysis.report.person_frames == 0:
                dark = rec.unseen_brightness
                if dark is not None and dark < DARK_BRIGHTNESS:
                    raise RepsenseError(
                        f"{path}: nobody was found in {analysis.report.frames} frames, and the "
                        f"video is very dark (mean brightness {dark:.0f}/255): light the room "
                        "or turn up the camera's exposure")
                raise RepsenseError(
                    f"{path}: nobody was found in {analysis.report.frames} frames; the whole body "
                    "should be in view, lit, and not too small")
            reports.append(analysis.report)
            out = _output_for(args.save_pose, path, len(paths), ".npz")
            if out is not None:
                rec.save(out)
            out = _output_for(args.annotate, path, len(paths), ".mp4")
            if out is not None:
                from repsense.sinks.annotate import write_annotated
                from repsense.sources.video import DEFAULT_POSE_FPS

                write_annotated(path, analysis, out, args.start, args.end, DEFAULT_POSE_FPS,
                                fps=args.annotate_fps)
                print(f"annotated video: {out}", file=sys.stderr)
            out = _output_for(args.speak_wav, path, len(paths), ".wav")
            if out is not None:
                from repsense.sinks.speech import render_track

                rec = analysis.recording
                t = rec.timestamp_ms
                start = args.start or 0.0
                # as long as the analysed span: to its last frame, and that frame's own time
                frame_s = 1.0 / (rec.source_fps or rec.fps or 30.0)
                render_track(analysis.events, out,
                             (t[-1] / 1000.0 + frame_s - start) if len(t) else 0.0, start)
                print(f"speech track: {out}", file=sys.stderr)
            out = _output_for(args.plot, path, len(paths), ".png")
            if out is not None:
                from repsense.sinks.plot import write_plot

                write_plot(analysis, out)
                print(f"plot: {out}", file=sys.stderr)
            if bar is not None:
                bar.clear()
            print(format_text(analysis.report), file=human)
            if args.speak:
                _speak_paced(analysis.events, args.start or 0.0)
        except (BrokenPipeError, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - one bad input must not lose the others
            if not isinstance(exc, RepsenseError) and os.environ.get("REPSENSE_DEBUG"):
                raise
            failed += 1
            message = str(exc) if isinstance(exc, RepsenseError) else \
                f"{path}: unexpected error ({type(exc).__name__}: {exc}); set REPSENSE_DEBUG=1 " \
                "for details and please report it"
            reports.append(InputReport(str(path), 0.0, 0, 0, [], error=message))
            if bar is not None:
                bar.clear()
            _err(message)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    if args.json:
        write_json(to_json_doc(reports), args.json)
    return 1 if failed else 0


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


def _verbose_option(p: argparse.ArgumentParser) -> None:
    """-v after the command too (``repsense analyze clip.mp4 -v``)."""
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="also show info messages and the libraries' own logs (MediaPipe, FFmpeg)")


def cmd_exercises(args: argparse.Namespace) -> int:
    from repsense.sinks.catalog import catalog_doc, format_catalog

    if args.json:
        write_json(catalog_doc(), args.json)
    if args.json != "-":
        print(format_catalog())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="repsense",
        description="Watches a person exercise: recognises the exercise, counts and times every rep.")
    parser.add_argument("--version", action="version", version=f"repsense {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also show info messages and the libraries' own logs (MediaPipe, FFmpeg)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("analyze", help="count and time the reps in videos or pose recordings",
                       description="Count and time the repetitions in videos or pose recordings "
                                   "(.npz with landmarks (T,33,4) and timestamp_ms (T,)).")
    p.add_argument("paths", nargs="+", metavar="PATH", help="video file or pose recording (.npz)")
    p.add_argument("--exercise", default="auto", type=_exercise_name, metavar="NAME",
                   help=_exercise_help())
    p.add_argument("--start", type=_seconds, metavar="SECONDS",
                   help="analyse from this time of the input (seconds)")
    p.add_argument("--end", type=_seconds, metavar="SECONDS",
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
    _verbose_option(p)
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("exercises", help="list the exercises repsense knows, with their form rules",
                       description="The exercise catalogue: for each exercise what is counted, "
                                   "the camera view it wants, and the form rules with their cues.")
    p.add_argument("--json", metavar="FILE", help="write the catalogue as JSON ('-' for stdout)")
    p.set_defaults(func=cmd_exercises)

    from repsense.app.cli import add_parsers as add_app_parsers
    from repsense.imu.cli import add_parsers as add_imu_parsers
    from repsense.store.cli import add_parsers as add_history_parsers
    from repsense.nodecli import add_parsers as add_node_parsers
    from repsense.recognition.cli import add_parsers as add_recognition_parsers

    add_app_parsers(sub)           # serve
    add_recognition_parsers(sub)   # classify, train, evaluate
    add_imu_parsers(sub)           # imu analyze | listen | train | evaluate
    add_history_parsers(sub)       # history, export, import; analyze --store
    add_node_parsers(sub)          # node, listen (MQTT)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from repsense.logs import setup_cli

    setup_cli(verbose=bool(getattr(args, "verbose", False)))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except RepsenseError as exc:
        _err(str(exc))
        return 1
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): stop quietly, without a flush error at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # noqa: BLE001 - a user sees one line, a developer sets REPSENSE_DEBUG
        if os.environ.get("REPSENSE_DEBUG"):
            raise
        _err(f"unexpected error ({type(exc).__name__}: {exc}); set REPSENSE_DEBUG=1 for details "
             "and please report it")
        return 3


if __name__ == "__main__":
    sys.exit(main())
