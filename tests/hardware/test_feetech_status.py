"""StatusWatch: which servo status flags stop a control loop (pure logic, no bus)."""

from __future__ import annotations

import logging

import pytest

from lerobot_gym.errors import ConfigError, MotorStatusError
from lerobot_gym.hardware.feetech import StatusWatch

IDS = {"elbow_flex": 3, "gripper": 6}
CLEAR = {"elbow_flex": (), "gripper": ()}


def test_a_critical_flag_raises_on_the_first_read():
    watch = StatusWatch(IDS)
    with pytest.raises(MotorStatusError, match=r"id 3 \(elbow_flex\) reported voltage") as err:
        watch.update({**CLEAR, "elbow_flex": ("voltage",)})
    assert err.value.motor_id == 3 and err.value.flags == ("voltage",)


def test_other_flags_raise_only_when_they_persist():
    watch = StatusWatch(IDS, patience=3)
    overload = {**CLEAR, "elbow_flex": ("overload",)}
    assert watch.update(overload) == {"elbow_flex": ("overload",)}
    assert watch.update(overload)
    watch.update(CLEAR)  # the streak is broken ...
    watch.update(overload)
    watch.update({**CLEAR, "elbow_flex": ("overheat",)})  # ... and by a different condition
    watch.update({**CLEAR, "elbow_flex": ("overheat",)})
    with pytest.raises(MotorStatusError, match="overheat on 3 consecutive reads"):
        watch.update({**CLEAR, "elbow_flex": ("overheat",)})


def test_tolerated_flags_are_reported_but_never_counted():
    # LeRobot's gripper trips overload when it squeezes (the SO-101's configuration).
    watch = StatusWatch(IDS, patience=2, tolerated={"gripper": ("overload",)})
    for _ in range(10):
        assert watch.update({**CLEAR, "gripper": ("overload",)}) == {"gripper": ("overload",)}
    with pytest.raises(MotorStatusError, match="gripper"):
        for _ in range(2):  # an untolerated flag next to it still counts
            watch.update({**CLEAR, "gripper": ("overload", "overheat")})


def test_patience_zero_and_reset():
    watch = StatusWatch(IDS, patience=0, critical_flags=())
    for _ in range(100):
        watch.update({**CLEAR, "elbow_flex": ("voltage",)})
    watch = StatusWatch(IDS, patience=2)
    watch.update({**CLEAR, "elbow_flex": ("overload",)})
    watch.reset()
    watch.update({**CLEAR, "elbow_flex": ("overload",)})  # the streak starts again


def test_a_warning_is_logged_when_flags_change_not_on_every_read(caplog):
    watch = StatusWatch(IDS)
    with caplog.at_level(logging.WARNING, logger="lerobot_gym.hardware.feetech.status"):
        for _ in range(5):
            watch.update({**CLEAR, "gripper": ("overload",)})
    assert [r.getMessage() for r in caplog.records] == ["servo gripper reports overload"]


def test_unknown_flag_names_and_negative_patience_are_config_errors():
    with pytest.raises(ConfigError, match="overlaod"):
        StatusWatch(IDS, critical_flags=("overlaod",))
    with pytest.raises(ConfigError, match="patience"):
        StatusWatch(IDS, patience=-1)
