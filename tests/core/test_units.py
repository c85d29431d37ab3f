import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lerobot_gym.core import units
from lerobot_gym.robots.so101.spec import SO101

finite = st.floats(-10.0, 10.0, allow_nan=False)


@pytest.mark.parametrize("unit", units.UNITS)
@given(value=finite, closed=finite, span=st.floats(0.01, 5.0))
def test_round_trip(unit, value, closed, span):
    opened = closed + span
    user = units.to_user(value, unit, closed=closed, opened=opened)
    back = units.from_user(user, unit, closed=closed, opened=opened)
    assert back == pytest.approx(value, abs=1e-9)


def test_gripper_percent_ends_map_to_closed_and_open():
    gripper = SO101.joints[SO101.gripper_index]
    assert gripper.to_user(gripper.lower_rad) == pytest.approx(0.0)
    assert gripper.to_user(gripper.upper_rad) == pytest.approx(100.0)
    assert gripper.from_user(50.0) == pytest.approx((gripper.lower_rad + gripper.upper_rad) / 2)


def test_so101_arm_joints_are_degrees_zero_at_mid_range():
    q = np.array([0.1, -0.2, 0.3, -0.4, 0.5, SO101.joints[5].lower_rad])
    user = SO101.to_user(q)
    np.testing.assert_allclose(user[:5], np.rad2deg(q[:5]))
    assert user[5] == pytest.approx(0.0)
    np.testing.assert_allclose(SO101.from_user(user), q)


def test_unknown_unit_is_an_error():
    with pytest.raises(ValueError, match="unknown unit"):
        units.to_user(1.0, "furlong")


def test_reversed_gripper_closes_at_upper_limit():
    from lerobot_gym.core.spec import JointSpec

    joint = JointSpec("g", 0.0, 1.0, unit="fraction", is_gripper=True, closed_rad=1.0)
    assert joint.to_user(1.0) == pytest.approx(0.0)
    assert joint.to_user(0.0) == pytest.approx(1.0)
    assert joint.user_limits == (0.0, 1.0)
