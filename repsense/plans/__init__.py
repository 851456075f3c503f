"""Guided workouts: plans (a TOML format, built-ins shipped here, users' own in the history store),
the guide that leads a session through one, progression from the sessions stored. docs/plans.md.
"""

from __future__ import annotations

from repsense.plans.guide import Guide, Phase
from repsense.plans.model import (Plan, Step, builtin_plans, load_plan_file, parse_plan,
                                  parse_plan_text)

__all__ = ["Guide", "Phase", "Plan", "Step", "builtin_plans", "load_plan_file", "parse_plan",
           "parse_plan_text"]
