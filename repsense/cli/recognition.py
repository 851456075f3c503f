"""The ``classify``, ``train`` and ``evaluate`` subcommands (added to the main parser by
:func:`add_parsers`)."""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Any

from repsense.sources import load_input
from repsense.errors import RepsenseError
from repsense.sinks.jsonio import write_json

MIN_CLASSIFY_S = 1.0   # the recogniser's window


def add_parsers(subparsers: Any) -> None:
    """Add ``classify``, ``train`` and ``evaluate`` to an argparse subparsers object."""
    p = subparsers.add_parser(
        "classify", help="recognise the exercise in videos or pose recordings",
        description="Recognise the exercise of each input (at least 1 s of poses), with its "
                    "confidence (the mean probability of that answer over the windows in which "
                    "a person is seen) and a timeline of segments (idle between exercises). "
                    "Counting needs 'repsense analyze'.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="video files or pose recordings (.npz)")
    p.add_argument("--json", metavar="FILE", help="write the JSON result to FILE ('-' = stdout, JSON only)")
    p.add_argument("--model", metavar="FILE", help="a model file instead of the shipped one")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="also show info messages and the libraries' own logs (MediaPipe, FFmpeg)")
    p.set_defaults(func=cmd_classify)

    p = subparsers.add_parser(
        "train", help="rebuild the exercise recognition model from data",
        description="Rebuild the exercise recognition model from the shared data (needs "
                    "'pip install torch==2.13.0' and the training extras: pip install -e '.[train]').")
    p.add_argument("--data", metavar="DIR", help="the shared data folder (default ../shared/data)")
    p.add_argument("--kind", choices=("blend", "trees", "cnn"), default="blend",
                   help="model kind (default blend: trees and CNN averaged, the measured winner)")
    p.add_argument("--out", metavar="FILE", help="where to write the model (default: the shipped model)")
    p.add_argument("--dev-poses", metavar="DIR", help="saved poses of the dev clips (<clip>.npz from "
                   "`repsense analyze VIDEO --save-pose`); adds curls, sit-ups, deadlifts and real idle")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser(
        "evaluate", help="print the held-out figures of the recognition model",
        description="Measure the recognition model on the held-out part of the shared data and "
                    "print its figures (accuracy per exercise, confusions).")
    p.add_argument("--data", metavar="DIR", help="the shared data folder (default ../shared/data)")
    p.add_argument("--model", metavar="FILE", help="a model file instead of the shipped one")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON ('-' = stdout only)")
    p.add_argument("--dev-poses", metavar="DIR", help="saved poses of the dev clips (adds the held-out curl clip)")
    p.set_defaults(func=cmd_evaluate)


def cmd_classify(args: argparse.Namespace) -> int:
    from repsense.recognition.model import load_model
    from repsense.recognition.recognizer import classify_recording

    model = load_model(args.model)
    quiet = args.json == "-"
    inputs: list[dict[str, Any]] = []
    failed = 0
    for path in args.paths:
        try:
            rec = load_input(path)   # video or .npz
            _long_enough(rec)
            res = classify_recording(rec, model=model)
        except RepsenseError as exc:
            failed += 1
            inputs.append({"path": path, "error": str(exc)})
            print(f"repsense: {exc}", file=sys.stderr)
            continue
        res.pop("class", None)
        # One number, one meaning: the confidence is the answer's probability in `probabilities`.
        res["confidence"] = res["probabilities"].get(res["exercise"], res["confidence"])
        inputs.append({"path": path, **res})
        if not quiet:
            timeline = ", ".join(f"{s['exercise']} {s['start_s']:.1f}-{s['end_s']:.1f} s"
                                 for s in res["segments"])
            print(f"{path}: {res['exercise']} (confidence {res['confidence']:.2f}); "
                  f"timeline: {timeline}")
    if args.json:
        write_json({"inputs": inputs}, args.json)
    return 1 if failed else 0


def _long_enough(rec: Any) -> None:
    """Recognition reads 1 s windows: a shorter input (or one with under 1 s of a person in
    view) gets no answer, and a message that says so. Frame-exact: 1 s is as many frames as the
    recording has per second (30 at 30 fps, 25 at 25), so a window of exactly one second is taken
    although its first and last timestamps are one frame less than a second apart."""
    from repsense.pose import is_missing

    t = rec.timestamp_ms
    fps = rec.fps   # the poses' own rate (a recording may keep every other video frame)
    need = max(2, int(round(MIN_CLASSIFY_S * fps))) if fps > 0 else 2
    span_s = len(t) / fps if fps > 0 else 0.0
    if len(t) < need:
        raise RepsenseError(f"{rec.source}: too short to recognise: {span_s:.2f} s of poses "
                            f"({len(t)} frames); classify needs at least {MIN_CLASSIFY_S:g} s "
                            f"({need} frames)")
    seen = sum(not is_missing(p) for p in rec.landmarks)
    if seen < need:
        raise RepsenseError(f"{rec.source}: a person is in view for only {seen} of {len(t)} "
                            f"frames ({seen / fps:.2f} s); classify needs at least "
                            f"{MIN_CLASSIFY_S:g} s of a person in view ({need} frames)")


def _data_dir(args: argparse.Namespace) -> pathlib.Path:
    from repsense.recognition.data import DEFAULT_DATA_DIR
    return pathlib.Path(args.data) if args.data else DEFAULT_DATA_DIR


def cmd_train(args: argparse.Namespace) -> int:
    from repsense.recognition.data import load_all
    from repsense.recognition.model import SHIPPED_MODEL

    try:
        from repsense.recognition import train
    except ImportError as exc:
        raise RepsenseError(f"training needs the training extras ({exc.name}): pip install 'repsense[train]'") from None
    data = _data_dir(args)
    tr, _ = load_all(data, dev_poses=args.dev_poses)
    print(f"training a {args.kind} model on {len(tr)} windows from {data}", file=sys.stderr)
    try:
        fit = {"blend": train.train_blend, "trees": train.train_trees, "cnn": train.train_cnn}[args.kind]
        model = fit(tr)
    except ImportError as exc:
        raise RepsenseError(f"training needs the training extras ({exc.name}): pip install 'repsense[train]'") from None
    out = pathlib.Path(args.out) if args.out else SHIPPED_MODEL
    model.save(out)
    print(f"wrote {out}", file=sys.stderr)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from repsense.recognition.evaluate import evaluate, format_report
    from repsense.recognition.model import load_model

    model = load_model(args.model)
    res = evaluate(model, _data_dir(args), dev_poses=args.dev_poses)
    if args.json != "-":
        print(format_report(f"{model.kind} model", res))
    if args.json:
        write_json(res, args.json)
    return 0
