"""Errors a user can act on. The CLI prints their message as one line, never a traceback."""

from __future__ import annotations


class RepsenseError(Exception):
    """Base of every error repsense reports to a user."""


class InputError(RepsenseError):
    """An input (video, recording, description file) cannot be used; the message says why and what to do."""
