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



def add_parsers(subparsers: Any) -> None:
    """Add ``classify``, ``train`` and ``evaluate`` to an argparse subparsers object."""
    p = subparsers.add_parser("classify", help="recognise the exercise in videos or pose recordings")
    p.add_argument("paths", nargs="+", metavar="PATH", help="video files or pose recordings (.npz)")
    p.add_argument("--json", metavar="FILE", help="write the JSON result to FILE ('-' = stdout, JSON only)")
    p.add_argument("--model", metavar="FILE", help="a model file instead of the shipped one")
    p.set_defaults(func=cmd_classify)

    p = subparsers.add_parser("train", help="rebuild the exercise recognition model from data")
    p.add_argument("--data", metavar="DIR", help="the shared data folder (default ../shared/data)")
    p.add_argument("--kind", choices=("blend", "trees", "cnn"), default="blend",
                   help="model kind (default blend: trees and CNN averaged, the measured winner)")
    p.add_argument("--out", metavar="FILE", help="where to write the model (default: the shipped model)")
    p.add_argument("--dev-poses", metavar="DIR", help="saved poses of the dev clips (<clip>.npz from "
                   "`repsense analyze VIDEO --save-pose`); adds curls, sit-ups, deadlifts and real idle")
    p.set_defaults(func=cmd_train)

    p = subparsers.add_parser("evaluate", help="print the held-out figures of the recognition model")
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
            res = classify_recording(load_input(path), model=model)  # video or .npz
        except RepsenseError as exc:
            failed += 1
            inputs.append({"path": path, "error": str(exc)})
            print(f"repsense: {exc}", file=sys.stderr)
            continue
        res.pop("class", None)
        inputs.append({"path": path, **res})
        if not quiet:
            timeline = ", ".join(f"{s['exercise']} {s['start_s']:.1f}-{s['end_s']:.1f}s" for s in res["segments"])
            print(f"{path}: {res['exercise']} ({res['confidence']:.2f})  [{timeline}]")
    if args.json:
        write_json({"inputs": inputs}, args.json)
    return 1 if failed else 0


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
