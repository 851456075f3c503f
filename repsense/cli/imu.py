"""``repsense imu ...``: analyze, listen, train, evaluate. ``add_parsers`` plugs into the main CLI;
every handler returns an exit code (0 ok, 1 some input failed, 2 usage or setup problem)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable

from repsense.errors import RepsenseError
from repsense.sinks.jsonio import write_json

DEFAULT_DATA = "../shared/data/exermote"


def _err(msg: str) -> None:
    print(f"repsense imu: {msg}", file=sys.stderr)


def _model(path: str | None) -> Any:
    from repsense.imu.model import DEFAULT_MODEL_PATH, StepModel

    return StepModel.load(path or DEFAULT_MODEL_PATH)


def cmd_analyze(args: argparse.Namespace) -> int:
    from repsense.imu.analysis import analyze_file
    from repsense.sinks.report import format_text

    human = sys.stderr if args.json == "-" else sys.stdout
    try:
        model = _model(args.model)
    except RepsenseError as exc:
        _err(str(exc))
        return 2
    docs = []
    failed = 0
    for path in args.paths:
        result = analyze_file(path, model)
        if result.report.error:
            failed += 1
            _err(result.report.error)
        else:
            print(format_text(result.report, source="sensor"), file=human)
            for seg in result.timeline:
                print(f"    set {seg['exercise']:7s} {seg['start_s']:7.1f}-{seg['end_s']:7.1f} s: "
                      f"{seg['reps']} reps", file=human)
            if args.store:
                from repsense.cli.history import open_store
                from repsense.store.sink import store_events

                store = getattr(args, "_store", None) or open_store(args)
                args._store = store
                sid = store_events(store, result.events, profile=args.profile, kind="imu",
                                   source=str(path), exercise="auto")
                print(f"{path}: stored as session {sid} in {store.url}", file=sys.stderr)
        docs.append(result.to_dict())
    if args.json:
        try:
            write_json({"inputs": docs}, args.json)
        except RepsenseError as exc:
            _err(str(exc))
            return 2
    return 1 if failed else 0


def cmd_listen(args: argparse.Namespace) -> int:
    from repsense.imu.mqtt import ImuListener
    from repsense.imu.tracker import ImuTracker
    from repsense.sinks.mqtt import default_outbox_path

    try:
        model = _model(args.model)
        outbox = args.outbox or default_outbox_path(f"{args.prefix}-imu-{args.node}")
        session_sinks: Callable[[], list[Any]] | None = None
        if args.store:
            from repsense.cli.history import open_store
            from repsense.store.sink import StoreSink

            store = open_store(args)
            source = f"imu node {args.node}"
            session_sinks = lambda: [StoreSink(store, profile=args.profile,  # noqa: E731
                                               kind="imu", source=source)]
        listener = ImuListener(args.broker, args.node, tracker_factory=lambda: ImuTracker(model),
                               reconnect_timeout_s=args.reconnect_timeout, outbox=outbox,
                               prefix=args.prefix, ca_file=args.ca_file,
                               session_sinks=session_sinks)
    except RepsenseError as exc:
        _err(str(exc))
        return 2
    stop = threading.Event()

    def _stop(signum: int, frame: Any) -> None:
        stop.set()

    old = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return listener.run(stop)
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def cmd_train(args: argparse.Namespace) -> int:
    from repsense.imu.model import DEFAULT_MODEL_PATH
    from repsense.imu.training import (SEEDS, TCN_SEEDS, TcnConfig, TrainConfig, fold_model_path, load_labelled,
                                       train_ensemble)

    try:
        data = load_labelled(args.data)
    except RepsenseError as exc:
        _err(str(exc))
        return 2
    cfg: TcnConfig | TrainConfig = (TcnConfig(iterations=args.iterations) if args.arch == "tcn"
                                    else TrainConfig(epochs=args.epochs))
    try:
        seeds = tuple(int(v) for v in str(args.seeds).split(",")) if args.seeds else \
            (TCN_SEEDS if args.arch == "tcn" else SEEDS)
    except ValueError:
        _err(f"--seeds must be comma-separated integers, got {args.seeds!r}")
        return 2
    out = Path(args.out or DEFAULT_MODEL_PATH)
    log = (lambda s: print(s, file=sys.stderr))
    try:
        if args.folds:
            folds_dir = Path(args.folds_dir) if args.folds_dir else out.parent / "folds"
            folds_dir.mkdir(parents=True, exist_ok=True)
            for ind in sorted({d.individual for d in data}):
                print(f"fold without individual {ind}", file=sys.stderr)
                model = train_ensemble([d for d in data if d.individual != ind], cfg, seeds, log)
                model.save(fold_model_path(folds_dir, ind))
                print(f"wrote {fold_model_path(folds_dir, ind)}", file=sys.stderr)
        print("model on all recordings", file=sys.stderr)
        train_ensemble(data, cfg, seeds, log).save(out)
    except RepsenseError as exc:
        _err(str(exc))
        return 2
    print(f"wrote {out}", file=sys.stderr)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from repsense.imu.model import DEFAULT_MODEL_PATH, StepModel
    from repsense.imu.scoring import evaluate
    from repsense.imu.training import fold_model_path, load_labelled

    try:
        data = load_labelled(args.data)
        if args.loio:
            folds = Path(args.folds_dir) if args.folds_dir else DEFAULT_MODEL_PATH.with_name("folds")
            models = {ind: StepModel.load(fold_model_path(folds, ind))
                      for ind in sorted({d.individual for d in data})}
            items = [(f"individual {d.individual}", d.recording, models[d.individual]) for d in data]
        else:
            model = _model(args.model)
            items = [(f"individual {d.individual}", d.recording, model) for d in data]
    except RepsenseError as exc:
        _err(str(exc))
        return 2
    ev = evaluate(items)
    human = sys.stderr if args.json == "-" else sys.stdout
    print(format_evaluation(ev, "leave-one-individual-out" if args.loio else "shipped model"), file=human)
    if args.json:
        write_json(ev.to_dict(), args.json)
    return 0


def format_evaluation(ev: Any, title: str) -> str:
    c = ev.counts
    lines = [f"{title}:",
             f"  sets: exercise named right in {100 * c['exercise_right']:.1f}% of {int(c['sets'])}, count off by "
             f"<=1 in {100 * c['within_one']:.1f}%, exact in {100 * c['exact']:.1f}%, MAE {c['mae']:.2f} reps, "
             f"normalised MAE {c['nmae']:.3f}; {int(c['reps_outside_sets'])} reps counted outside every set",
             f"  steps: accuracy {ev.step_accuracy:.4f} exact"
             + (f", {ev.tolerant_step_accuracy[1]:.4f} / {ev.tolerant_step_accuracy[2]:.4f} with rep edges "
                f"allowed 1 / 2 steps (100 / 200 ms) early or late" if ev.tolerant_step_accuracy else ""),
             f"  steps: macro-F1 {ev.step_macro_f1:.4f}, 7-class (exercise x rep half) accuracy "
             f"{ev.phase_accuracy:.4f}, most probable class without the decoder {ev.undecoded_step_accuracy:.4f}",
             "  group          step_acc  step_acc_1  macro_f1  sets  exercise  within_1  exact   nMAE"]
    for g, m in ev.per_group.items():
        lines.append(f"  {g:14s} {m['step_accuracy']:8.4f} {m['step_accuracy_1']:11.4f} {m['step_macro_f1']:9.4f} "
                     f"{int(m['sets']):5d} {m['exercise_right']:9.3f} {m['within_one']:9.3f} {m['exact']:6.3f} "
                     f"{m['nmae']:6.3f}")
    from repsense.imu.scoring import STEP_CLASSES

    lines.append("  steps: true \\ predicted  " + "".join(f"{c:>9s}" for c in STEP_CLASSES))
    for name, row in zip(STEP_CLASSES, ev.confusion):
        lines.append(f"  {name:>22s}  " + "".join(f"{v:9d}" for v in row))
    return "\n".join(lines)


def add_parsers(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``imu`` command and its subcommands; each sets ``func`` to its handler."""
    from repsense.cli.history import DEFAULT_PROFILE, add_store_options

    imu = subparsers.add_parser("imu", help="wearable motion sensor: analyse recordings, listen live, "
                                "train and evaluate the model")
    sub = imu.add_subparsers(dest="imu_command", metavar="{analyze,listen,train,evaluate}")
    sub.required = True

    p = sub.add_parser("analyze", help="exercises and reps in IMU recordings (CSV)")
    p.add_argument("paths", nargs="+", metavar="FILE.csv")
    p.add_argument("--json", metavar="FILE", help="write the JSON report to FILE ('-' for stdout, JSON only)")
    p.add_argument("--model", metavar="FILE.npz", help="step model to use (default: the shipped one)")
    p.add_argument("--store", action="store_true",
                   help="keep each recording's analysis in the history database")
    add_store_options(p, DEFAULT_PROFILE)
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser("listen", help="count live from IMU samples on MQTT repsense/<node>/imu")
    p.add_argument("--broker", required=True, metavar="URL",
                   help="mqtt://[USER:PASSWORD@]HOST[:PORT] or mqtts://... (docs/mqtt.md)")
    p.add_argument("--ca-file", metavar="PEM", help="CA certificate(s) for an mqtts:// broker")
    p.add_argument("--node", default="default", help="node name in the topics (default: default)")
    p.add_argument("--prefix", default="repsense", help="topic prefix (default: repsense)")
    p.add_argument("--outbox", metavar="FILE.sqlite",
                   help="where events wait for the broker (default: in ~/.local/share/repsense/outbox)")
    p.add_argument("--model", metavar="FILE.npz", help="step model to use (default: the shipped one)")
    p.add_argument("--reconnect-timeout", type=float, default=30.0, metavar="S",
                   help="give up after the broker has been unreachable this long (default 30 s)")
    p.add_argument("--store", action="store_true",
                   help="keep each sensor session in the history database")
    add_store_options(p, DEFAULT_PROFILE)
    p.set_defaults(func=cmd_listen)

    p = sub.add_parser("train", help="train the step model on labelled recordings (needs torch)")
    p.add_argument("--data", default=DEFAULT_DATA, metavar="DIR",
                   help="folder of Exermote-format CSV recordings (default: %(default)s)")
    p.add_argument("--out", metavar="FILE.npz", help="default: the shipped model file")
    p.add_argument("--folds", action="store_true",
                   help="also train one model per left-out individual (for 'evaluate --loio')")
    p.add_argument("--folds-dir", metavar="DIR",
                   help="where the per-individual fold models are (default: the shipped ones)")
    p.add_argument("--arch", choices=("tcn", "cnn"), default="tcn",
                   help="tcn: the shipped dilated TCN; cnn: the earlier window CNN (default: tcn)")
    p.add_argument("--iterations", type=int, default=1000, help="TCN training iterations (default: 1000)")
    p.add_argument("--epochs", type=int, default=8, help="CNN training epochs (default: 8)")
    p.add_argument("--seeds", metavar="N[,N...]",
                   help="train one network per seed and ship their average (default: 0 for the TCN, "
                        "0,1,2 for the CNN)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="per-step accuracy, macro-F1 and rep count error on labelled recordings")
    p.add_argument("--data", default=DEFAULT_DATA, metavar="DIR",
                   help="folder of Exermote-format CSV recordings (default: %(default)s)")
    p.add_argument("--loio", action="store_true",
                   help="score each individual with the model trained without them (shipped fold models)")
    p.add_argument("--folds-dir", metavar="DIR",
                   help="where the per-individual fold models are (default: the shipped ones)")
    p.add_argument("--model", metavar="FILE.npz",
                   help="step model to evaluate (default: the shipped one)")
    p.add_argument("--json", metavar="FILE", help="write the figures as JSON ('-' for stdout)")
    p.set_defaults(func=cmd_evaluate)
    return imu


def main(argv: list[str] | None = None) -> int:
    """``python -m repsense.imu ...`` — the same commands without the main CLI."""
    parser = argparse.ArgumentParser(prog="repsense")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["imu", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.func(args))
    except RepsenseError as exc:
        _err(str(exc))
        return 2


__all__ = ["add_parsers", "main", "cmd_analyze", "cmd_listen", "cmd_train", "cmd_evaluate"]
