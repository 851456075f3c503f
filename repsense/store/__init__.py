"""The history store: sessions, sets, reps, holds and cues kept in SQLite or PostgreSQL.

``Store(url)`` opens a database (the default one in the user's data directory without a URL) and
migrates it; ``StoreSink(store, ...)`` is the EventSink that writes a session into it from a thread
of its own. See docs/history.md.
"""

from repsense.store.db import DEFAULT_PROFILE, Store, StoreError, default_url
from repsense.store.sink import StoreSink

__all__ = ["DEFAULT_PROFILE", "Store", "StoreError", "StoreSink", "default_url"]
