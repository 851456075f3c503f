"""Exercise recognition: which exercise a pose stream shows, and when nobody is exercising.

Public API::

    ExerciseRecognizer(model=None, aspect=1.0).update(pose (33, 4), timestamp_ms) -> ExerciseDetected | None
    ExerciseRecognizer.current -> (name, confidence)
    classify_recording(rec: PoseRecording) -> {exercise, confidence, probabilities, segments, class}
    load_model(path=None)   # the shipped numpy model by default

Names are the exercise description names plus ``idle`` and ``unknown`` (:data:`NAMES`).
"""

from repsense.recognition.labels import EXERCISES, IDLE, NAMES, UNKNOWN
from repsense.recognition.model import SHIPPED_MODEL, load_model, shipped_model
from repsense.recognition.recognizer import (
    DecisionSmoother,
    ExerciseRecognizer,
    SmootherConfig,
    classify_recording,
)

__all__ = [
    "EXERCISES", "IDLE", "NAMES", "UNKNOWN", "SHIPPED_MODEL", "load_model", "shipped_model", "DecisionSmoother",
    "ExerciseRecognizer", "SmootherConfig", "classify_recording",
]
