"""The history schema as SQLAlchemy Core tables: what a session leaves behind.

Times inside a session (``*_ms``) are the engine's source times, as in the events; wall-clock times
(``started_at``, ``ended_at``, ``heartbeat_at``) are seconds since the Unix epoch (UTC). Rows are
keyed by natural keys (session id, position in the session), so an export imports into any database
as the same data. The migrations in ``migrations/versions`` create exactly these tables.
"""

from __future__ import annotations

from sqlalchemy import (Boolean, Column, Float, ForeignKey, ForeignKeyConstraint, Index, Integer,
                        MetaData, String, Table, Text)

metadata = MetaData()

profiles = Table(
    "profiles", metadata,
    Column("name", String(100), primary_key=True),
    Column("created_at", Float, nullable=False),
)

sessions = Table(
    "sessions", metadata,
    Column("id", String(64), primary_key=True),
    Column("profile", String(100), ForeignKey("profiles.name", onupdate="CASCADE"),
           nullable=False),
    Column("kind", String(16), nullable=False),        # live, video, recording, imu
    Column("source", Text, nullable=False, default=""),
    Column("exercise_option", String(64), nullable=False, default="auto"),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float),
    Column("status", String(16), nullable=False),      # live, ended, interrupted
    Column("total_reps", Integer, nullable=False, default=0),
    Column("heartbeat_at", Float),                     # last write of the live writer
    Column("host", String(255)),                       # the writer's host and process
    Column("pid", Integer),
    Index("ix_sessions_profile_started", "profile", "started_at"),
)

reps = Table(
    "reps", metadata,
    Column("session_id", String(64), ForeignKey("sessions.id", ondelete="CASCADE"),
           primary_key=True),
    Column("idx", Integer, primary_key=True),          # 1.. in the session
    Column("exercise", String(64), nullable=False),
    Column("count", Integer, nullable=False),          # the engine's count in its segment
    Column("set_idx", Integer),                        # filled when the set ends
    Column("t_ms", Integer, nullable=False),           # when the engine reported it
    Column("start_ms", Integer, nullable=False),
    Column("bottom_ms", Integer, nullable=False),
    Column("end_ms", Integer, nullable=False),
    Column("concentric_s", Float, nullable=False),
    Column("eccentric_s", Float, nullable=False),
    Column("pause_s", Float, nullable=False, default=0.0),
    Column("rom_deg", Float),                          # NULL where not measured
    Column("rom_pct", Float),
    Column("form_score", Float),
    Column("good", Boolean, nullable=False),
    Index("ix_reps_exercise", "exercise"),
)

rep_faults = Table(
    "rep_faults", metadata,
    Column("session_id", String(64), primary_key=True),
    Column("rep_idx", Integer, primary_key=True),
    Column("n", Integer, primary_key=True),            # order in the rep: worst first
    Column("code", String(64), nullable=False),
    Column("start_ms", Integer, nullable=False),
    Column("end_ms", Integer, nullable=False),
    ForeignKeyConstraint(["session_id", "rep_idx"], ["reps.session_id", "reps.idx"],
                         ondelete="CASCADE"),
    Index("ix_rep_faults_code", "code"),
)

sets = Table(
    "sets", metadata,
    Column("session_id", String(64), ForeignKey("sessions.id", ondelete="CASCADE"),
           primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("exercise", String(64), nullable=False),
    Column("reps", Integer, nullable=False),
    Column("good_reps", Integer),
    Column("start_ms", Integer, nullable=False),
    Column("end_ms", Integer, nullable=False),
    Column("tut_s", Float),
    Column("rest_before_s", Float),
)

holds = Table(
    "holds", metadata,
    Column("session_id", String(64), ForeignKey("sessions.id", ondelete="CASCADE"),
           primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("exercise", String(64), nullable=False),
    Column("start_ms", Integer, nullable=False),
    Column("end_ms", Integer, nullable=False),
    Column("held_s", Float, nullable=False),
    Column("good_s", Float),
)

cues = Table(
    "cues", metadata,
    Column("session_id", String(64), ForeignKey("sessions.id", ondelete="CASCADE"),
           primary_key=True),
    Column("idx", Integer, primary_key=True),
    Column("t_ms", Integer, nullable=False),
    Column("exercise", String(64), nullable=False),
    Column("code", String(64), nullable=False),
    Column("message", Text, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("rep", Integer, nullable=False, default=0),
)

# Derived, kept in step with the rows above in the same transactions (by StoreSink, by import, by
# migration 0002): one row per exercise of a session, so progress over 1,000 sessions reads a few
# thousand rows instead of 100,000 reps.
session_stats = Table(
    "session_stats", metadata,
    Column("session_id", String(64), ForeignKey("sessions.id", ondelete="CASCADE"),
           primary_key=True),
    Column("exercise", String(64), primary_key=True),
    Column("first_rep", Integer, nullable=False),     # order of the exercises in the session
    Column("reps", Integer, nullable=False),
    Column("good_reps", Integer, nullable=False),
    Column("tut_s", Float, nullable=False),
    Column("form_score", Float),                      # means over the reps that have one
    Column("rom_deg", Float),
    Column("rom_pct", Float),
    Column("concentric_s", Float),
    Column("eccentric_s", Float),
    Column("sets", Integer, nullable=False),
    Column("best_set", Integer, nullable=False),
    Column("hold_s", Float, nullable=False),
    Column("longest_hold_s", Float, nullable=False),
)

session_faults = Table(
    "session_faults", metadata,
    Column("session_id", String(64), ForeignKey("sessions.id", ondelete="CASCADE"),
           primary_key=True),
    Column("exercise", String(64), primary_key=True),
    Column("code", String(64), primary_key=True),
    Column("reps", Integer, nullable=False),
)

# Workout plans (docs/plans.md): a profile's own plans (the built-ins live in the package), and
# for each session run with a plan, what was planned and done (the guide's result as JSON).
plans = Table(
    "plans", metadata,
    Column("id", String(64), primary_key=True),
    Column("profile", String(100), ForeignKey("profiles.name", onupdate="CASCADE"),
           nullable=False),
    Column("name", String(100), nullable=False),
    Column("doc", Text, nullable=False),               # the plan as JSON: description, steps
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ix_plans_profile", "profile"),
)

plan_sessions = Table(
    "plan_sessions", metadata,
    Column("session_id", String(64), ForeignKey("sessions.id", ondelete="CASCADE"),
           primary_key=True),
    Column("plan_id", String(64), nullable=False),     # a built-in's name or a plans.id
    Column("plan_name", String(100), nullable=False),
    Column("result", Text, nullable=False),            # planned and done per step, as JSON
    Column("adherence", Float, nullable=False),        # share of the planned reps/seconds done
    Column("complete", Boolean, nullable=False),
    Index("ix_plan_sessions_plan", "plan_id"),
)

__all__ = ["metadata", "profiles", "sessions", "reps", "rep_faults", "sets", "holds", "cues",
           "session_stats", "session_faults", "plans", "plan_sessions"]
