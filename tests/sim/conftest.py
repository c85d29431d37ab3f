"""Fixtures of the sim tests."""

import pytest


@pytest.fixture
def default_params():
    """The SO-101's default twin parameters."""
    from lerobot_gym.robots.so101.spec import SO101
    from lerobot_gym.sim.twin_params import resolve_twin_params

    return resolve_twin_params(None, SO101)
