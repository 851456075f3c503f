"""``repsense exercises``: the exercise catalogue."""

from __future__ import annotations

import argparse
from typing import Any

from repsense.sinks.jsonio import write_json


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("exercises", help="list the exercises repsense knows, with their form rules",
                       description="The exercise catalogue: for each exercise what is counted, "
                                   "the camera view it wants, and the form rules with their cues.")
    p.add_argument("--json", metavar="FILE", help="write the catalogue as JSON ('-' for stdout)")
    p.set_defaults(func=cmd_exercises)


def cmd_exercises(args: argparse.Namespace) -> int:
    from repsense.sinks.catalog import catalog_doc, format_catalog

    if args.json:
        write_json(catalog_doc(), args.json)
    if args.json != "-":
        print(format_catalog())
    return 0
