"""The ``repsense`` command line: one module per command group, each with ``add_parsers(sub)``
that adds its commands (``func`` = the handler, which returns the exit code). A new command is a
new module here, listed in ``COMMANDS``."""

from __future__ import annotations

import argparse
import os
import sys

from repsense import __version__
from repsense.cli import analyze, exercises, history, imu, node, plans, recognition, serve, teach
from repsense.cli.common import err
from repsense.errors import RepsenseError

# In the order of `repsense --help`; history adds `analyze --store` and plans `analyze --plan`, so
# they come after analyze.
COMMANDS = (analyze, exercises, teach, serve, recognition, imu, history, plans, node)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="repsense",
        description="Watches a person exercise: recognises the exercise, counts and times every rep.")
    parser.add_argument("--version", action="version", version=f"repsense {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also show info messages and the libraries' own logs (MediaPipe, FFmpeg)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.add_parsers(sub)
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
        err(str(exc))
        return 1
    except KeyboardInterrupt:
        err("interrupted")
        return 130
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): stop quietly, without a flush error at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as exc:  # noqa: BLE001 - a user sees one line, a developer sets REPSENSE_DEBUG
        if os.environ.get("REPSENSE_DEBUG"):
            raise
        err(f"unexpected error ({type(exc).__name__}: {exc}); set REPSENSE_DEBUG=1 for details "
            "and please report it")
        return 3

