"""Env ids: an id without the namespace or misspelled names the closest registered ids."""

import gymnasium as gym
import pytest

import lerobot_gym
from lerobot_gym.errors import ConfigError, UnknownEnvIdError
from lerobot_gym.registry import resolve_env_id, suggest_env_ids

PICK = "lerobot_gym/SO101-PickCube-v0"


@pytest.mark.parametrize(
    "typed",
    [
        "SO101-PickCube-v0",  # no namespace
        "lerobot_gym/SO101-PickCub-v0",  # misspelled
        "lerobot_gym/so101-pickcube-v0",  # wrong case
        "so101-pickcube-v0",
        "SO101-PickCub-v0",
        "lerobot_gym/SO101-PickCube-v3",  # no such version
        "lerobot-gym/SO101-PickCube-v0",  # the distribution's name, not the namespace
        " lerobot_gym/SO101-PickCube-v0",  # malformed for gymnasium
        "PickCube-v0",
    ],
)
def test_the_closest_registered_id_comes_first(typed):
    assert suggest_env_ids(typed)[0] == PICK


@pytest.mark.parametrize(
    "typed", ["lerobot_gym/SO101-PickCub-v0", "lerobot_gym/so101-pickcube-v0", "PickCube-v0"]
)
def test_make_suggests_the_full_registered_id(typed):
    with pytest.raises(UnknownEnvIdError) as raised:
        lerobot_gym.make(typed, obs_type="state")
    message = str(raised.value)
    assert f"did you mean '{PICK}'?" in message
    assert "lerobot_gym/SO101-Reach-v0" in message  # and lists the registered ids
    # Code that catches gymnasium's or our base errors keeps working.
    assert isinstance(raised.value, gym.error.UnregisteredEnv)
    assert isinstance(raised.value, ConfigError)


def test_make_accepts_an_id_without_the_namespace():
    assert resolve_env_id("SO101-Reach-v0") == "lerobot_gym/SO101-Reach-v0"
    env = lerobot_gym.make("SO101-Reach-v0", obs_type="state")
    assert env.spec.id == "lerobot_gym/SO101-Reach-v0"
    env.close()


def test_ids_of_other_packages_pass_through():
    assert resolve_env_id("CartPole-v1") == "CartPole-v1"


def test_nothing_close_still_lists_the_registered_ids():
    with pytest.raises(UnknownEnvIdError) as raised:
        resolve_env_id("Humanoid-XYZ-v9")
    assert "did you mean" not in str(raised.value)
    assert PICK in str(raised.value)


@pytest.mark.parametrize("typed", [None, "", 3])
def test_not_an_id_is_a_typed_error(typed):
    with pytest.raises(UnknownEnvIdError, match="Registered ids"):
        resolve_env_id(typed)
