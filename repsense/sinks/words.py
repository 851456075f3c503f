"""The words a person reads for the engine's phases: one table for the annotated video
(repsense.sinks.annotate) and the live page (the ``phase_words`` of every state it gets)."""

from __future__ import annotations

# The words for the counter's phases. "away" is the move away from the start position: down when it
# is eccentric (squat, push-up), up when concentric (curl, pull-up, sit-up); a few need their own.
PHASE_WORDS: dict[str, tuple[str, str]] = {
    "eccentric": ("going down", "coming up"),
    "concentric": ("going up", "coming down"),
    "lat_pulldown": ("pulling down", "letting up"),
    "jumping_jack": ("going out", "coming in"),
    "generic": ("moving", "coming back"),
}


def phase_words(exercise: str, phase: str) -> str:
    """The engine's phase of ``exercise`` in plain words."""
    from repsense.engine.exercises import catalog

    if phase in ("rest", "idle", ""):
        return "ready"
    if phase == "holding":
        return "holding"
    if phase == "waiting":
        return "get into position"
    spec = catalog().get(exercise)
    key = exercise if exercise in PHASE_WORDS else \
        (spec.count.away_phase if spec is not None and spec.count is not None else "generic")
    away, back = PHASE_WORDS[key]
    return away if phase == "away" else back if phase == "return" else phase.replace("_", " ")


__all__ = ["PHASE_WORDS", "phase_words"]
