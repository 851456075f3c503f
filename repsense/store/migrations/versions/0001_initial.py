"""The first history schema: profiles, sessions, reps and their faults, sets, holds, cues.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "profiles",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("created_at", sa.Float, nullable=False))
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("profile", sa.String(100), sa.ForeignKey("profiles.name", onupdate="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("exercise_option", sa.String(64), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_reps", sa.Integer, nullable=False),
        sa.Column("heartbeat_at", sa.Float),
        sa.Column("host", sa.String(255)),
        sa.Column("pid", sa.Integer))
    op.create_index("ix_sessions_profile_started", "sessions", ["profile", "started_at"])
    op.create_table(
        "reps",
        sa.Column("session_id", sa.String(64), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("exercise", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("set_idx", sa.Integer),
        sa.Column("t_ms", sa.Integer, nullable=False),
        sa.Column("start_ms", sa.Integer, nullable=False),
        sa.Column("bottom_ms", sa.Integer, nullable=False),
        sa.Column("end_ms", sa.Integer, nullable=False),
        sa.Column("concentric_s", sa.Float, nullable=False),
        sa.Column("eccentric_s", sa.Float, nullable=False),
        sa.Column("pause_s", sa.Float, nullable=False),
        sa.Column("rom_deg", sa.Float),
        sa.Column("rom_pct", sa.Float),
        sa.Column("form_score", sa.Float),
        sa.Column("good", sa.Boolean, nullable=False))
    op.create_index("ix_reps_exercise", "reps", ["exercise"])
    op.create_table(
        "rep_faults",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("rep_idx", sa.Integer, primary_key=True),
        sa.Column("n", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("start_ms", sa.Integer, nullable=False),
        sa.Column("end_ms", sa.Integer, nullable=False),
        sa.ForeignKeyConstraint(["session_id", "rep_idx"], ["reps.session_id", "reps.idx"],
                                ondelete="CASCADE"))
    op.create_index("ix_rep_faults_code", "rep_faults", ["code"])
    op.create_table(
        "sets",
        sa.Column("session_id", sa.String(64), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("exercise", sa.String(64), nullable=False),
        sa.Column("reps", sa.Integer, nullable=False),
        sa.Column("good_reps", sa.Integer),
        sa.Column("start_ms", sa.Integer, nullable=False),
        sa.Column("end_ms", sa.Integer, nullable=False),
        sa.Column("tut_s", sa.Float),
        sa.Column("rest_before_s", sa.Float))
    op.create_table(
        "holds",
        sa.Column("session_id", sa.String(64), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("exercise", sa.String(64), nullable=False),
        sa.Column("start_ms", sa.Integer, nullable=False),
        sa.Column("end_ms", sa.Integer, nullable=False),
        sa.Column("held_s", sa.Float, nullable=False),
        sa.Column("good_s", sa.Float))
    op.create_table(
        "cues",
        sa.Column("session_id", sa.String(64), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("t_ms", sa.Integer, nullable=False),
        sa.Column("exercise", sa.String(64), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("rep", sa.Integer, nullable=False))


def downgrade() -> None:
    for table in ("cues", "holds", "sets", "rep_faults", "reps", "sessions", "profiles"):
        op.drop_table(table)
