"""Per-(session, exercise) totals and fault counts, so the history page reads a few thousand rows
rather than every rep; filled from the rows already stored.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stats = op.create_table(
        "session_stats",
        sa.Column("session_id", sa.String(64), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("exercise", sa.String(64), primary_key=True),
        sa.Column("first_rep", sa.Integer, nullable=False),
        sa.Column("reps", sa.Integer, nullable=False),
        sa.Column("good_reps", sa.Integer, nullable=False),
        sa.Column("tut_s", sa.Float, nullable=False),
        sa.Column("form_score", sa.Float),
        sa.Column("rom_deg", sa.Float),
        sa.Column("rom_pct", sa.Float),
        sa.Column("concentric_s", sa.Float),
        sa.Column("eccentric_s", sa.Float),
        sa.Column("sets", sa.Integer, nullable=False),
        sa.Column("best_set", sa.Integer, nullable=False),
        sa.Column("hold_s", sa.Float, nullable=False),
        sa.Column("longest_hold_s", sa.Float, nullable=False))
    faults = op.create_table(
        "session_faults",
        sa.Column("session_id", sa.String(64), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("exercise", sa.String(64), primary_key=True),
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("reps", sa.Integer, nullable=False))
    _backfill(stats, faults)


def _backfill(stats: sa.Table, faults: sa.Table) -> None:
    from repsense.store.stats import session_stats

    conn = op.get_bind()
    meta = sa.MetaData()
    reps, rep_faults, sets, holds = (sa.Table(n, meta, autoload_with=conn)
                                     for n in ("reps", "rep_faults", "sets", "holds"))
    rows: dict[str, dict[str, list]] = {}

    def of(sid: str) -> dict[str, list]:
        return rows.setdefault(sid, {"reps": [], "sets": [], "holds": []})

    codes: dict[tuple[str, int], list[dict]] = {}
    for r in conn.execute(sa.select(rep_faults)):
        codes.setdefault((r.session_id, r.rep_idx), []).append({"code": r.code})
    for r in conn.execute(sa.select(reps).order_by(reps.c.session_id, reps.c.idx)):
        of(r.session_id)["reps"].append({**r._mapping, "faults": codes.get(
            (r.session_id, r.idx), [])})
    for table, key in ((sets, "sets"), (holds, "holds")):
        for r in conn.execute(sa.select(table)):
            of(r.session_id)[key].append(dict(r._mapping))
    out_stats, out_faults = [], []
    for sid, parts in rows.items():
        s, f = session_stats(sid, parts["reps"], parts["sets"], parts["holds"])
        out_stats += s
        out_faults += f
    if out_stats:
        conn.execute(stats.insert(), out_stats)
    if out_faults:
        conn.execute(faults.insert(), out_faults)


def downgrade() -> None:
    op.drop_table("session_faults")
    op.drop_table("session_stats")
