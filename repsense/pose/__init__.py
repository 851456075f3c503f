"""Pose: the one currency of repsense (a float32 ``(33, 4)`` array per frame, NaN when nobody is
seen), the backends that estimate it from frames, its smoothing and its geometry."""

from repsense.pose.core import (N_LANDMARKS, POSE_SHAPE, SKELETON, Landmark, PoseRecording,
                                is_missing, missing_pose, read_landmark_csv, validate_pose)

__all__ = ["N_LANDMARKS", "POSE_SHAPE", "SKELETON", "Landmark", "PoseRecording", "is_missing",
           "missing_pose", "read_landmark_csv", "validate_pose"]
