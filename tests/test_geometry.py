"""Property tests: angles do not change under translation, in-plane rotation and scale."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from repsense.pose.geometry import angle_deg, joint_angle_deg
from repsense.pose import Landmark, missing_pose

coord = st.floats(-10, 10, allow_nan=False)
point = st.tuples(coord, coord).map(np.array)


def _transform(p: np.ndarray, theta: float, scale: float, shift: np.ndarray) -> np.ndarray:
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return scale * p @ rot.T + shift


def _well_separated(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> bool:
    return bool(np.linalg.norm(a - b) > 1e-2 and np.linalg.norm(c - b) > 1e-2)


@settings(max_examples=300, deadline=None)
@given(point, point, point, st.floats(-np.pi, np.pi), st.floats(0.01, 100), point)
def test_angle_is_invariant(a, b, c, theta, scale, shift):
    if not _well_separated(a, b, c):
        return
    before = angle_deg(a, b, c)
    after = angle_deg(*(_transform(p, theta, scale, shift) for p in (a, b, c)))
    assert abs(before - after) < 1e-5 * max(1.0, 1 / scale) + 1e-6
    assert 0.0 <= before <= 180.0


@given(point, point, point)
def test_angle_is_symmetric(a, b, c):
    if not _well_separated(a, b, c):
        return
    assert abs(angle_deg(a, b, c) - angle_deg(c, b, a)) < 1e-9


def test_known_angles_and_missing_points():
    o = np.array([0.0, 0.0])
    assert angle_deg(np.array([1.0, 0]), o, np.array([0, 1.0])) == 90.0
    assert abs(angle_deg(np.array([1.0, 0]), o, np.array([-1.0, 0])) - 180.0) < 1e-9
    assert np.isnan(angle_deg(np.array([np.nan, 0]), o, np.array([0, 1.0])))
    assert np.isnan(angle_deg(o, o, np.array([0, 1.0])))   # coincident points: no angle


@given(st.floats(0.25, 4.0))
def test_aspect_ratio_makes_normalised_coordinates_true_angles(aspect):
    # A right angle drawn in pixels stays a right angle once x is normalised by the width.
    pose = missing_pose()
    w, h = 100.0 * aspect, 100.0
    pose[Landmark.LEFT_HIP, :2] = [50 / w, 10 / h]
    pose[Landmark.LEFT_KNEE, :2] = [50 / w, 60 / h]
    pose[Landmark.LEFT_ANKLE, :2] = [90 / w, 60 / h]
    angle = joint_angle_deg(pose, Landmark.LEFT_HIP, Landmark.LEFT_KNEE, Landmark.LEFT_ANKLE,
                            aspect=aspect)
    assert abs(angle - 90.0) < 1e-3


def test_sequences_vectorise():
    rng = np.random.default_rng(1)
    seq = rng.random((50, 33, 4)).astype(np.float32)
    many = joint_angle_deg(seq, Landmark.LEFT_SHOULDER, Landmark.LEFT_ELBOW, Landmark.LEFT_WRIST)
    one = [joint_angle_deg(p, Landmark.LEFT_SHOULDER, Landmark.LEFT_ELBOW, Landmark.LEFT_WRIST)
           for p in seq]
    np.testing.assert_allclose(many, one, rtol=1e-6)
