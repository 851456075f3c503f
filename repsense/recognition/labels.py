"""Class names of the recogniser and how the training sets' labels map onto them.

The model predicts *classes*; a class maps to an *exercise name* (the stable snake_case names of the
exercise descriptions, plus ``idle`` and ``unknown``). Most classes are the exercise itself.
``wall_push_up`` (UCF101 WallPushups) is kept apart while training and reported as ``push_up``: the
same elbow-driven movement, counted by the same signal, but standing, so it would blur the push-up
class if trained together. ``handstand_push_up`` (UCF101 HandstandPushups) is reported as itself:
``repsense/engine/exercises/handstand_push_up.toml`` describes how to count it, so ``--exercise auto``
counts it with that description instead of the generic counter.
"""

from __future__ import annotations

EXERCISES: tuple[str, ...] = (
    "squat", "push_up", "pull_up", "lunge", "split_squat", "jumping_jack", "sit_up", "biceps_curl",
    "shoulder_press", "lat_pulldown", "bench_press", "deadlift", "burpee", "plank", "handstand_push_up",
)
IDLE = "idle"
UNKNOWN = "unknown"
NAMES: tuple[str, ...] = EXERCISES + (IDLE, UNKNOWN)

# Extra training classes and the exercise name each is reported as.
CLASS_TO_NAME: dict[str, str] = {
    "wall_push_up": "push_up",
}

GYM_LABELS: dict[str, str] = {
    "bench_press": "bench_press", "lat_machine": "lat_pulldown", "pull_up": "pull_up",
    "push_up": "push_up", "split_squat": "split_squat", "squat": "squat",
}
UCF_LABELS: dict[str, str] = {
    "BodyWeightSquats": "squat", "JumpingJack": "jumping_jack", "Lunges": "lunge",
    "PullUps": "pull_up", "PushUps": "push_up", "WallPushups": "wall_push_up",
    "HandstandPushups": "handstand_push_up",
}


def exercise_name(cls: str) -> str:
    """The exercise name a model class is reported as."""
    return CLASS_TO_NAME.get(cls, cls)
