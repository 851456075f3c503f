"""``repsense history`` / ``export`` / ``import``, and ``analyze --store``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

# Imported by every `repsense` start: the database layer is imported only by the commands.
DEFAULT_PROFILE = "default"


def add_store_options(p: argparse.ArgumentParser, profile_default: str | None = None) -> None:
    p.add_argument("--db", metavar="URL",
                   help="history database: sqlite:///path.db or postgresql://user@host/db "
                        "(default: SQLite in the user's data directory; REPSENSE_DB overrides)")
    p.add_argument("--profile", metavar="NAME", default=profile_default,
                   help="whose sessions" + (f" (default: {profile_default})" if profile_default
                                            else " (default: everyone's)"))


def add_parsers(sub: Any) -> None:
    analyze = sub.choices.get("analyze")
    if analyze is not None:
        analyze.add_argument("--store", action="store_true",
                             help="keep the analysis in the history database")
        analyze.add_argument("--set-rest", type=float, default=None, metavar="SECONDS",
                             help="a rest this long without reps ends a set (default 20)")
        add_store_options(analyze, DEFAULT_PROFILE)

    p = sub.add_parser("history", help="past sessions, or one session in detail",
                       description="List the stored sessions, newest first, or show one.")
    p.add_argument("id", nargs="?", metavar="ID", help="a session id (or its first characters)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="the newest N sessions")
    add_store_options(p)
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("export", help="write the history as JSON or CSV",
                       description="Write the stored sessions as JSON (everything; what "
                                   "`repsense import` reads) or CSV (one row per rep).")
    p.add_argument("--format", choices=["json", "csv"], default="json",
                   help="json: everything, what `repsense import` reads (default); csv: one row per rep")
    p.add_argument("--since", metavar="DATE", help="sessions started on or after this date "
                                                   "(2026-12-01 or 2026-12-01T18:00)")
    p.add_argument("--out", metavar="FILE", help="write here instead of to standard output")
    add_store_options(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", help="read an export back (sessions already here are skipped)",
                       description="Add the sessions of a JSON export to the history; importing "
                                   "the same file twice adds nothing.")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--db", metavar="URL", help="history database (default: the user's)")
    p.set_defaults(func=cmd_import)


def open_store(args: argparse.Namespace) -> Any:
    from repsense.store.db import Store

    return Store(getattr(args, "db", None))


def analyze_options(args: argparse.Namespace, source: str) -> dict[str, Any]:
    """What ``analyze`` passes to ``analyze_recording`` for one input: the rest that ends a set,
    and with ``--store`` a StoreSink (the session id is printed to stderr)."""
    options: dict[str, Any] = {}
    if getattr(args, "set_rest", None) is not None:
        options["set_rest_s"] = args.set_rest
    if getattr(args, "store", False):
        from repsense.store.sink import StoreSink

        store = getattr(args, "_store", None)
        if store is None:
            store = args._store = open_store(args)
        kind = "recording" if Path(source).suffix.lower() == ".npz" else "video"
        sink = StoreSink(store, profile=args.profile, source=source, kind=kind,
                         exercise=args.exercise)
        print(f"{source}: storing as session {sink.session_id} in {store.url}", file=sys.stderr)
        options["sinks"] = [sink]
    return options


def _local(iso_text: str | None) -> str:
    if not iso_text:
        return "-"
    return datetime.fromisoformat(iso_text).astimezone().strftime("%Y-%m-%d %H:%M")


def _exercises_text(exercises: list[dict[str, Any]]) -> str:
    parts = []
    for e in exercises:
        if e["reps"]:
            parts.append(f"{e['name']} {e['reps']} ({e['good_reps']} good)")
        if e.get("hold_s"):
            parts.append(f"{e['name']} {e['hold_s']:.0f} s")
    return ", ".join(parts) or "-"


def cmd_history(args: argparse.Namespace) -> int:
    from repsense.store.db import StoreError

    with open_store(args) as store:
        if args.id:
            sid = store.find_session(args.id)
            doc = store.get_session(sid) if sid else None
            if doc is None:
                raise StoreError(f"no session {args.id!r} in {store.url}")
            if args.json:
                print(json.dumps(doc, indent=1))
            else:
                print(format_session(doc))
            return 0
        sessions = store.list_sessions(profile=args.profile, limit=args.limit)
    if args.json:
        keep = ("id", "started_at", "ended_at", "status", "profile", "source", "total_reps",
                "exercises")
        print(json.dumps({"sessions": [{k: s[k] for k in keep} for s in sessions]}, indent=1))
        return 0
    if not sessions:
        print("no sessions stored yet" + (f" for {args.profile}" if args.profile else ""))
        return 0
    print(f"{'id':12}  {'started':16}  {'profile':10}  {'status':11}  {'reps':>5}  exercises")
    for s in sessions:
        print(f"{s['id']:12}  {_local(s['started_at']):16}  {s['profile'][:10]:10}  "
              f"{s['status']:11}  {s['total_reps']:5d}  {_exercises_text(s['exercises'])}")
    return 0


def format_session(doc: dict[str, Any]) -> str:
    lines = [f"session {doc['id']} ({doc['status']}), profile {doc['profile']}",
             f"  started {_local(doc['started_at_iso'])}, ended {_local(doc['ended_at_iso'])}, "
             f"{doc['kind']}: {doc['source'] or '-'}"]
    if doc["sets"]:
        lines.append("  sets:")
        for s in doc["sets"]:
            rest = f", after {s['rest_before_s']:.0f} s rest" if s["rest_before_s"] is not None \
                else ""
            tut = f", {s['tut_s']:.1f} s under tension" if s["tut_s"] is not None else ""
            good = f", {s['good_reps']} good" if s["good_reps"] is not None else ""
            lines.append(f"  {s['idx']:4d}  {s['exercise']}: {s['reps']} reps{good}{tut}{rest}")
    if doc["reps"]:
        lines.append("     #  set  exercise       start_s  dur_s  conc_s  ecc_s  rom_deg  score"
                     "  faults")
        for r in doc["reps"]:
            rom = f"{r['rom_deg']:7.1f}" if r["rom_deg"] is not None else "      -"
            score = f"{r['form_score']:5.0f}" if r["form_score"] is not None else "    -"
            lines.append(
                f"  {r['idx']:4d}  {r['set_idx'] or '-':>3}  {r['exercise'][:13]:13} "
                f"{r['start_ms'] / 1000:8.1f} {(r['end_ms'] - r['start_ms']) / 1000:6.2f} "
                f"{r['concentric_s']:7.2f} {r['eccentric_s']:6.2f}  {rom}  {score}  "
                f"{' '.join(f['code'] for f in r['faults']) or '-'}")
    for h in doc["holds"]:
        good = f" ({h['good_s']:.1f} s in good form)" if h["good_s"] is not None else ""
        lines.append(f"  {h['exercise']}: held {h['held_s']:.1f} s{good}")
    if doc["cues"]:
        lines.append("  cues:")
        for c in doc["cues"]:
            lines.append(f"  {c['t_ms'] / 1000:8.1f} s  [{c['severity']}] {c['message']}")
    lines.append(f"  total: {doc['total_reps']} reps")
    return "\n".join(lines)


def cmd_export(args: argparse.Namespace) -> int:
    from repsense.store.db import parse_since

    since = parse_since(args.since) if args.since else None
    with open_store(args) as store:
        text = store.export_json(since, args.profile) if args.format == "json" else \
            store.export_csv(since, args.profile)
    if args.out:
        Path(args.out).write_text(text)
        print(f"history written to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    with open_store(args) as store:
        added, skipped = store.import_file(args.file)
    print(f"{args.file}: {added} sessions added, {skipped} already there")
    return 0


__all__ = ["add_parsers", "add_store_options", "analyze_options"]
