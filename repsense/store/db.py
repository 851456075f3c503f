"""The history store: one database (SQLite by default, PostgreSQL by URL), migrated on open.

``Store(url)`` opens (and creates or upgrades) the database, and marks the sessions whose writing
process died as ``interrupted``. It reads sessions back, exports them (JSON, CSV) and imports an
export (idempotent: a session id already present is skipped).
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, update
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import IntegrityError

from repsense.errors import InputError, RepsenseError
from repsense.store import schema as S
from repsense.store.stats import session_stats

DEFAULT_PROFILE = "default"
EXPORT_FORMAT = "repsense-history"
EXPORT_VERSION = 1
# A live session whose writer has not written for this long is taken as dead (another host).
STALE_S = 120.0
HOST = socket.gethostname()
TABLES = ("sessions", "reps", "rep_faults", "sets", "holds", "cues", "session_stats",
          "session_faults", "plan_sessions")   # in the order rows go in

SESSION_FIELDS = ("id", "profile", "kind", "source", "exercise_option", "started_at", "ended_at",
                  "status", "total_reps")
REP_FIELDS = ("idx", "exercise", "count", "set_idx", "t_ms", "start_ms", "bottom_ms", "end_ms",
              "concentric_s", "eccentric_s", "pause_s", "rom_deg", "rom_pct", "form_score", "good")
SET_FIELDS = ("idx", "exercise", "reps", "good_reps", "start_ms", "end_ms", "tut_s",
              "rest_before_s")
HOLD_FIELDS = ("idx", "exercise", "start_ms", "end_ms", "held_s", "good_s")
CUE_FIELDS = ("idx", "t_ms", "exercise", "code", "message", "severity", "rep")


class StoreError(RepsenseError):
    pass


def default_url() -> str:
    """SQLite in the user's data directory (``REPSENSE_DB`` overrides)."""
    if os.environ.get("REPSENSE_DB"):
        return os.environ["REPSENSE_DB"]
    from platformdirs import user_data_dir

    folder = Path(user_data_dir("repsense", appauthor=False))
    return f"sqlite:///{folder / 'history.db'}"


def iso(ts: float | None) -> str | None:
    """Epoch seconds as ISO 8601 in UTC."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def parse_since(text: str) -> float:
    """A date or date-time (ISO 8601; local time when no offset is given) as epoch seconds."""
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"expected a date like 2026-12-01 or 2026-12-01T18:00, got {text!r}") \
            from None
    if dt.tzinfo is None:
        dt = dt.astimezone()
    return dt.timestamp()


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Store:
    """A history database. Thread-safe: the engine's connection pool hands each thread its own
    connection."""

    def __init__(self, url: str | None = None, *, migrate: bool = True) -> None:
        self.url = url or default_url()
        self.engine = self._engine(self.url)
        if migrate:
            self.migrate()
        self.recover()

    # --- opening ------------------------------------------------------------------------------
    @staticmethod
    def _engine(url: str) -> Engine:
        try:
            u = make_url(url)
        except Exception:  # noqa: BLE001 - sqlalchemy's own error names no fix
            raise StoreError(f"not a database URL: {url!r} (expected sqlite:///path.db or "
                             "postgresql://user@host/db)") from None
        if u.drivername in ("postgresql", "postgres"):
            u = u.set(drivername="postgresql+psycopg")
        if u.get_backend_name() == "sqlite":
            if u.database and u.database != ":memory:":
                Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(u, connect_args={"timeout": 30})

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")   # WAL: a process crash loses nothing
                cur.execute("PRAGMA foreign_keys=ON")
                cur.close()
            return engine
        if u.get_backend_name() == "postgresql":
            return create_engine(u, pool_pre_ping=True)
        raise StoreError(f"unsupported database {u.get_backend_name()!r}: use sqlite:/// or "
                         "postgresql://")

    def migrate(self, revision: str = "head", down: bool = False) -> None:
        """Bring the schema to the newest revision (Alembic, shipped in the package), or up or
        down to ``revision``."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":   # two processes opening a new database
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7312025)")
            cfg.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(cfg, revision)

    def recover(self) -> int:
        """Mark live sessions whose writer died as interrupted; returns how many."""
        now = time.time()
        n = 0
        with self.engine.begin() as conn:
            rows = conn.execute(select(S.sessions.c.id, S.sessions.c.host, S.sessions.c.pid,
                                       S.sessions.c.heartbeat_at, S.sessions.c.started_at)
                                .where(S.sessions.c.status == "live")).all()
            for sid, host, pid, beat, started in rows:
                if host == HOST:
                    dead = not _pid_alive(pid)
                else:   # another machine's writer (PostgreSQL): judged by its heartbeat
                    dead = host is None or (beat or started) < now - STALE_S
                if dead:
                    conn.execute(update(S.sessions).where(S.sessions.c.id == sid).values(
                        status="interrupted", ended_at=beat or started))
                    n += 1
        return n

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    # --- writing ------------------------------------------------------------------------------
    @staticmethod
    def ensure_profile(conn: Connection, name: str) -> None:
        if conn.execute(select(S.profiles.c.name).where(S.profiles.c.name == name)).first() is None:
            # Two sessions starting at once (several people in one camera) may both find the
            # profile missing: the second insert then meets the first one's row, which is fine.
            try:
                with conn.begin_nested():
                    conn.execute(S.profiles.insert().values(name=name, created_at=time.time()))
            except IntegrityError:
                pass

    def delete_session(self, session_id: str) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(S.sessions.delete().where(S.sessions.c.id == session_id)) \
                .rowcount > 0

    # --- reading ------------------------------------------------------------------------------
    def profiles(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            counts = dict(conn.execute(select(S.sessions.c.profile, func.count())
                                       .group_by(S.sessions.c.profile)).all())
            names = conn.execute(select(S.profiles.c.name).order_by(S.profiles.c.name)).scalars()
            return [{"name": n, "sessions": int(counts.get(n, 0))} for n in names]

    def list_sessions(self, profile: str | None = None, limit: int | None = None,
                      since: float | None = None) -> list[dict[str, Any]]:
        """Newest first: ``{id, started_at, ended_at, status, kind, source, profile, total_reps,
        exercises: [{name, reps, good_reps, hold_s}]}``."""
        q = select(S.sessions).order_by(S.sessions.c.started_at.desc(), S.sessions.c.id)
        if profile is not None:
            q = q.where(S.sessions.c.profile == profile)
        if since is not None:
            q = q.where(S.sessions.c.started_at >= since)
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
            ids = [r["id"] for r in rows]
            per: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
            st = S.session_stats
            for chunk in _chunks(ids, 500):
                rq = select(st.c.session_id, st.c.exercise, st.c.reps, st.c.good_reps,
                            st.c.hold_s).where(st.c.session_id.in_(chunk)) \
                    .order_by(st.c.session_id, st.c.first_rep)
                for sid, ex, n, good, held in conn.execute(rq):
                    e: dict[str, Any] = {"name": ex, "reps": n, "good_reps": good}
                    if held:
                        e["hold_s"] = round(float(held), 2)
                    per[sid].append(e)
        out = []
        for r in rows:
            exercises = per[r["id"]]
            out.append({"id": r["id"], "started_at": iso(r["started_at"]),
                        "ended_at": iso(r["ended_at"]), "status": r["status"], "kind": r["kind"],
                        "source": r["source"], "profile": r["profile"],
                        "total_reps": sum(e["reps"] for e in exercises), "exercises": exercises})
        return out

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        """One session with its sets, reps (with faults), holds and cues; None when absent."""
        docs = self._session_docs(select(S.sessions).where(S.sessions.c.id == session_id))
        if not docs:
            return None
        doc = docs[0]
        doc["started_at_iso"] = iso(doc["started_at"])
        doc["ended_at_iso"] = iso(doc["ended_at"])
        return doc

    def find_session(self, prefix: str) -> str | None:
        """The one session id starting with ``prefix``."""
        with self.engine.connect() as conn:
            ids = conn.execute(select(S.sessions.c.id).where(S.sessions.c.id.startswith(prefix))
                               .limit(2)).scalars().all()
        if len(ids) > 1:
            raise StoreError(f"{prefix!r} names more than one session; give more of the id")
        return ids[0] if ids else None

    def _session_docs(self, q: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            docs = [{k: r._mapping[k] for k in SESSION_FIELDS} for r in conn.execute(q)]
            by_id = {d["id"]: d for d in docs}
            for d in docs:
                d.update(sets=[], reps=[], holds=[], cues=[])
            for chunk in _chunks(list(by_id), 500):
                faults: dict[tuple[str, int], list[dict[str, Any]]] = {}
                for r in conn.execute(select(S.rep_faults).where(
                        S.rep_faults.c.session_id.in_(chunk)).order_by(
                        S.rep_faults.c.session_id, S.rep_faults.c.rep_idx, S.rep_faults.c.n)):
                    faults.setdefault((r.session_id, r.rep_idx), []).append(
                        {"code": r.code, "start_ms": r.start_ms, "end_ms": r.end_ms})
                for table, fields, key in ((S.sets, SET_FIELDS, "sets"),
                                           (S.reps, REP_FIELDS, "reps"),
                                           (S.holds, HOLD_FIELDS, "holds"),
                                           (S.cues, CUE_FIELDS, "cues")):
                    rows = conn.execute(select(table).where(table.c.session_id.in_(chunk))
                                        .order_by(table.c.session_id, table.c.idx))
                    for r in rows:
                        m = r._mapping
                        item = {f: m[f] for f in fields}
                        if key == "reps":
                            item["good"] = bool(item["good"])
                            item["faults"] = faults.get((m["session_id"], m["idx"]), [])
                        by_id[m["session_id"]][key].append(item)
                for r in conn.execute(select(S.plan_sessions).where(
                        S.plan_sessions.c.session_id.in_(chunk))):
                    by_id[r.session_id]["plan"] = json.loads(r.result)   # a guided session
        return docs

    # --- export / import ----------------------------------------------------------------------
    def export_doc(self, since: float | None = None, profile: str | None = None) -> dict[str, Any]:
        """Everything (or the sessions started since ``since``), in a stable order."""
        q = select(S.sessions).order_by(S.sessions.c.started_at, S.sessions.c.id)
        if since is not None:
            q = q.where(S.sessions.c.started_at >= since)
        if profile is not None:
            q = q.where(S.sessions.c.profile == profile)
        docs = self._session_docs(q)
        names = sorted({d["profile"] for d in docs})
        return {"format": EXPORT_FORMAT, "version": EXPORT_VERSION,
                "profiles": [{"name": n} for n in names], "sessions": docs}

    def export_json(self, since: float | None = None, profile: str | None = None) -> str:
        return json.dumps(self.export_doc(since, profile), indent=1, sort_keys=True) + "\n"

    def export_csv(self, since: float | None = None, profile: str | None = None) -> str:
        """One row per rep with its session's fields (for spreadsheets)."""
        doc = self.export_doc(since, profile)
        out = io.StringIO()
        head = ["session_id", "profile", "started_at", "source", "kind", "status", "rep",
                *REP_FIELDS[1:], "faults"]
        w = csv.writer(out, lineterminator="\n")
        w.writerow(head)
        for s in doc["sessions"]:
            for r in s["reps"]:
                w.writerow([s["id"], s["profile"], iso(s["started_at"]), s["source"], s["kind"],
                            s["status"], r["idx"], *[_csv(r[f]) for f in REP_FIELDS[1:]],
                            " ".join(f["code"] for f in r["faults"])])
        return out.getvalue()

    def import_doc(self, doc: dict[str, Any]) -> tuple[int, int]:
        """Add the sessions of an export that are not here yet: returns (added, skipped)."""
        if not isinstance(doc, dict) or doc.get("format") != EXPORT_FORMAT:
            raise InputError(f"not a repsense history export (expected \"format\": "
                             f"\"{EXPORT_FORMAT}\")")
        if doc.get("version") != EXPORT_VERSION:
            raise InputError(f"history export version {doc.get('version')!r} is not supported "
                             f"(this repsense reads version {EXPORT_VERSION})")
        added = skipped = 0
        sessions = doc.get("sessions", [])
        with self.engine.begin() as conn:
            have = set()
            ids = [s["id"] for s in sessions]
            for chunk in _chunks(ids, 500):
                have |= set(conn.execute(select(S.sessions.c.id)
                                         .where(S.sessions.c.id.in_(chunk))).scalars())
            for name in sorted({s["profile"] for s in sessions}):
                self.ensure_profile(conn, name)
            rows: dict[str, list[dict[str, Any]]] = {k: [] for k in TABLES}
            for s in sessions:
                if s["id"] in have:
                    skipped += 1
                    continue
                added += 1
                sid = s["id"]
                rows["sessions"].append({k: s[k] for k in SESSION_FIELDS})
                for r in s["reps"]:
                    rows["reps"].append({"session_id": sid, **{k: r[k] for k in REP_FIELDS}})
                    rows["rep_faults"].extend(
                        {"session_id": sid, "rep_idx": r["idx"], "n": n, **f}
                        for n, f in enumerate(r["faults"]))
                for key, fields in (("sets", SET_FIELDS), ("holds", HOLD_FIELDS),
                                    ("cues", CUE_FIELDS)):
                    rows[key].extend({"session_id": sid, **{k: x[k] for k in fields}}
                                     for x in s[key])
                if s.get("plan"):
                    result = s["plan"]
                    rows["plan_sessions"].append({
                        "session_id": sid, "plan_id": result.get("plan_id") or result["name"],
                        "plan_name": result["name"], "result": json.dumps(result, sort_keys=True),
                        "adherence": float(result["adherence"]),
                        "complete": bool(result["complete"])})
                stats, faults = session_stats(sid, s["reps"], s["sets"], s["holds"])
                rows["session_stats"] += stats
                rows["session_faults"] += faults
            for key in TABLES:
                table = S.metadata.tables[key]
                for chunk in _chunks(rows[key], 5000):
                    conn.execute(table.insert(), chunk)
        return added, skipped

    def import_file(self, path: str | Path) -> tuple[int, int]:
        p = Path(path)
        try:
            doc = json.loads(p.read_text())
        except OSError as exc:
            raise InputError(f"{p}: cannot read ({exc.strerror})") from None
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}: not JSON ({exc}); import reads the JSON export "
                             "(repsense export --format json)") from None
        return self.import_doc(doc)


def _csv(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return int(v)
    return v


def _chunks(items: list[Any], n: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


__all__ = ["DEFAULT_PROFILE", "Store", "StoreError", "default_url", "iso", "parse_since"]
