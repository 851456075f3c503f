"""The wearable sensor path: IMU samples (phone on the upper arm, 10 Hz) -> exercise and reps.

recording (CSV -> validated 10 Hz grid) -> features (per-step inputs) -> model (numpy dilated
TCN, per-step class probabilities) -> decoding (duration-aware Viterbi, per-step labels) ->
counter (reps from the labels) -> events. ``ImuTracker`` is the pure streaming engine;
``analysis`` replays files through it and ``mqtt`` runs it live.
"""

from repsense.imu.counter import CounterConfig, RepCounter
from repsense.imu.model import DEFAULT_MODEL_PATH, StepModel
from repsense.imu.recording import CHANNELS, ImuRecording, load_csv
from repsense.imu.tracker import ImuTracker

__all__ = ["CHANNELS", "ImuRecording", "load_csv", "StepModel", "DEFAULT_MODEL_PATH", "ImuTracker",
           "RepCounter", "CounterConfig"]
