"""``repsense teach``: learn a new exercise from one recorded set, and export / import / remove
taught exercises (docs/teach.md)."""

from __future__ import annotations

import argparse
import pathlib
from typing import Any

from repsense.cli.common import seconds


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "teach", help="teach repsense a new exercise from one recorded set (2+ reps)",
        description="Learn an exercise from a video or pose recording of one good set of two or "
                    "more reps: the signal that repeats most cleanly drives the count, its "
                    "thresholds and tempo come from the reps, joints that stay still become tips. "
                    "The description is written to your exercise library (shown by `repsense "
                    "exercises`; the shipped exercises stay read-only) and `auto` learns to "
                    "recognise it. Also exports, imports and removes taught exercises.",
        epilog="examples:\n  repsense teach my_set.mp4 --name lateral_raise --start 2 --end 14\n"
               "  repsense teach --export lateral_raise lateral_raise.toml\n"
               "  repsense teach --import lateral_raise.toml\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("recording", nargs="?", metavar="RECORDING",
                   help="a video or a pose recording (.npz) of one set")
    p.add_argument("--name", help="the new exercise's name (snake_case, e.g. lateral_raise)")
    p.add_argument("--start", type=seconds, metavar="S", help="the set starts here (seconds)")
    p.add_argument("--end", type=seconds, metavar="S", help="the set ends here (seconds)")
    p.add_argument("--plot", metavar="OUT.png",
                   help="where to draw the signal with the reps found (default: beside the "
                        "description in the library; with --dry-run, not drawn unless given)")
    p.add_argument("--dry-run", action="store_true",
                   help="show what would be learned, save nothing")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a taught exercise of the same name")
    p.add_argument("--model", choices=("lite", "full"), default="full",
                   help="pose model for a video (default: full)")
    p.add_argument("--export", nargs=2, metavar=("NAME", "OUT.toml"),
                   help="write a taught exercise (with what the recogniser learned) to one file")
    p.add_argument("--import", dest="import_file", metavar="FILE.toml",
                   help="add an exported or hand-written description to your library")
    p.add_argument("--as", dest="import_as", metavar="NAME",
                   help="with --import: under this name")
    p.add_argument("--remove", metavar="NAME", help="remove a taught exercise from your library")
    p.set_defaults(func=cmd_teach, parser=p)


def cmd_teach(args: argparse.Namespace) -> int:
    from repsense import teaching
    from repsense.engine.exercises import library_dir

    actions = [bool(args.recording), bool(args.export), bool(args.import_file), bool(args.remove)]
    if sum(actions) != 1:
        args.parser.error("give a RECORDING to learn from, or one of --export, --import, --remove")
    if args.export:
        out = teaching.export(args.export[0], args.export[1])
        print(f"{args.export[0]}: written to {out}")
        return 0
    if args.import_file:
        name = teaching.import_file(args.import_file, name=args.import_as)
        print(f"{name}: imported into {library_dir()}")
        return 0
    if args.remove:
        teaching.remove(args.remove)
        print(f"{args.remove}: removed from {library_dir()}")
        return 0
    if not args.name:
        args.parser.error("name the new exercise: --name NAME")
    lesson = teaching.teach_file(args.recording, args.name, args.start, args.end, model=args.model)
    taught = lesson.taught
    print(taught.text)
    print(f"Learned {taught.spec.name}: " + "; ".join(taught.notes))
    reps = ", ".join(f"{r.start_ms / 1000:.1f}-{r.end_ms / 1000:.1f} s" for r in taught.chosen.reps)
    print(f"Reps found: {reps}")
    plot = pathlib.Path(args.plot) if args.plot else None
    if not args.dry_run:
        path = teaching.save_lesson(lesson, overwrite=args.overwrite)
        print(f"Saved to {path}: use it with --exercise {taught.spec.name}; auto recognises it.")
        plot = plot or path.with_suffix(".png")
    if plot is not None:
        teaching.plot_lesson(lesson, plot)
        print(f"Plot of the signal with the reps found: {plot}")
    return 0
