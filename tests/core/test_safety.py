import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lerobot_gym.core.safety import SafetyFilter
from lerobot_gym.errors import ActionError, ConfigError
from lerobot_gym.robots.so101.spec import SO101

LOW, HIGH = SO101.lower_rad, SO101.upper_rad
actions = arrays(np.float64, 6, elements=st.floats(-1e6, 1e6, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(
    sequence=st.lists(actions, min_size=1, max_size=20),
    step=st.floats(1e-4, 1.0),
    start=arrays(np.float64, 6, elements=st.floats(-3.0, 3.0)),
)
def test_applied_targets_stay_in_limits_and_rate(sequence, step, start):
    f = SafetyFilter(LOW, HIGH, np.full(6, step))
    f.reset(start)
    previous = np.clip(start, LOW, HIGH)
    for action in sequence:
        applied = f.apply(action).applied_rad
        assert np.all(applied >= LOW - 1e-12) and np.all(applied <= HIGH + 1e-12)
        assert np.all(np.abs(applied - previous) <= step + 1e-9)
        previous = applied


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_targets_are_rejected(bad):
    f = SafetyFilter(LOW, HIGH, np.full(6, np.inf))
    f.reset(np.zeros(6))
    target = np.zeros(6)
    target[2] = bad
    with pytest.raises(ActionError, match="indices \\[2\\]"):
        f.apply(target)


def test_clamped_mask_reports_changed_joints():
    f = SafetyFilter(LOW, HIGH, np.full(6, np.inf))
    f.reset(np.zeros(6))
    target = np.zeros(6)
    target[0] = 10.0
    report = f.apply(target)
    assert report.clamped.tolist() == [True, False, False, False, False, False]
    assert report.applied_rad[0] == pytest.approx(HIGH[0])


def test_non_positive_rate_limit_is_a_config_error():
    with pytest.raises(ConfigError, match="positive"):
        SafetyFilter(LOW, HIGH, np.zeros(6))
