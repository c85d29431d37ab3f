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


@settings(max_examples=200, deadline=None)
@given(
    # Fractions of each joint's range: mostly inside, sometimes past a limit.
    frac=arrays(np.float64, (4, 6), elements=st.floats(-0.02, 1.02)),
    step=st.one_of(st.just(np.inf), st.floats(0.5, 8.0)),
    start=arrays(np.float64, (4, 6), elements=st.floats(0.0, 1.0)),
)
def test_apply_unchanged_is_apply_when_nothing_is_clamped(frac, step, start):
    """The vector env's one-pass path: the same targets as apply() when it clamps nothing,
    else None with nothing recorded (the next apply() sees the same previous targets)."""
    targets, start = LOW + frac * (HIGH - LOW), LOW + start * (HIGH - LOW)
    fast, full = (
        SafetyFilter(LOW, HIGH, np.full(6, step)),
        SafetyFilter(LOW, HIGH, np.full(6, step)),
    )
    fast.reset(start)
    full.reset(start)
    report = full.apply(targets.copy())
    got = fast.apply_unchanged(targets.copy())
    if np.array_equal(report.applied_rad, targets):
        assert got is not None and np.array_equal(got, targets)
    else:
        assert got is None
        np.testing.assert_array_equal(fast.apply(targets.copy()).applied_rad, report.applied_rad)


def test_apply_unchanged_records_targets_inside_every_limit():
    f = SafetyFilter(LOW, HIGH, np.full(6, 0.1))
    f.reset(np.zeros((3, 6)))
    inside = np.full((3, 6), 0.05)
    got = f.apply_unchanged(inside)
    np.testing.assert_array_equal(got, inside)
    # Recorded: the rate limit now counts from 0.05, so 0.14 passes and 0.25 does not.
    assert f.apply_unchanged(np.full((3, 6), 0.14)) is not None
    assert f.apply_unchanged(np.full((3, 6), 0.25)) is None


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_apply_unchanged_never_passes_non_finite_targets(bad):
    f = SafetyFilter(LOW, HIGH, np.full(6, np.inf))
    f.reset(np.zeros((2, 6)))
    targets = np.zeros((2, 6))
    targets[1, 3] = bad
    assert f.apply_unchanged(targets) is None
    with pytest.raises(ActionError, match="non-finite"):
        f.apply(targets)


@pytest.mark.parametrize("step", [np.inf, 0.05])
def test_exact_and_clamped_say_what_the_filter_changed(step):
    # `exact` (every target sent as asked) and the per-joint `clamped` report, including the
    # changes too small to report as clamps and a signed zero, which is no change.
    f = SafetyFilter(LOW, HIGH, np.full(6, step))
    inside = (LOW + HIGH) / 2
    f.reset(inside)
    report = f.apply(inside.copy())
    assert report.exact and not report.clamped.any()
    np.testing.assert_array_equal(report.applied_rad, inside)
    zero = inside.copy()
    zero[1] = -0.0 if inside[1] == 0.0 else inside[1]
    assert f.apply(zero).exact
    tiny = inside.copy()
    tiny[3] = HIGH[3] if np.isinf(step) else inside[3] + step
    tiny[3] = np.nextafter(tiny[3], np.inf)  # one ulp past the limit: clamped, not reported
    report = f.apply(tiny)
    assert not report.exact and not report.clamped.any()
    assert report.applied_rad[3] < tiny[3]
    f.reset(inside)
    far = inside.copy()
    far[4] = HIGH[4] + 1.0
    report = f.apply(far)
    assert not report.exact and report.clamped.tolist() == [False] * 4 + [True, False]
