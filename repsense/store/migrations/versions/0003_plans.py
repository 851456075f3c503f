"""Workout plans: a profile's own plans, and the plan each guided session followed with what was
planned and done (docs/plans.md).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("profile", sa.String(100), sa.ForeignKey("profiles.name", onupdate="CASCADE"),
                  nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("doc", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False))
    op.create_index("ix_plans_profile", "plans", ["profile"])
    op.create_table(
        "plan_sessions",
        sa.Column("session_id", sa.String(64), sa.ForeignKey("sessions.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("plan_id", sa.String(64), nullable=False),
        sa.Column("plan_name", sa.String(100), nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("adherence", sa.Float, nullable=False),
        sa.Column("complete", sa.Boolean, nullable=False))
    op.create_index("ix_plan_sessions_plan", "plan_sessions", ["plan_id"])


def downgrade() -> None:
    op.drop_table("plan_sessions")
    op.drop_table("plans")
