"""The history store: sessions, sets, reps, holds and cues kept in SQLite or PostgreSQL.

``Store(url)`` opens a database (the default one in the user's data directory without a URL) and
migrates it; ``StoreSink(store, ...)`` is the EventSink that writes a session into it from a thread
of its own. See docs/history.md.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {"DEFAULT_PROFILE": "db", "Store": "db", "StoreError": "db", "default_url": "db",
            "StoreSink": "sink"}


def __getattr__(name: str) -> Any:
    """Lazy: ``repsense`` starts without importing SQLAlchemy; the store's users import it."""
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"repsense.store.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'repsense.store' has no attribute {name!r}")


__all__ = ["DEFAULT_PROFILE", "Store", "StoreError", "StoreSink", "default_url"]
