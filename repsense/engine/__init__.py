"""The tracking engine: pure, no I/O. ``Tracker.update(pose, timestamp_ms) -> list[Event]``.

Exercises are data (``exercises/*.toml``); signals, counting, the generic counter, form rules and
the coach turn poses into events (``events``)."""
