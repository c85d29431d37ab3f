"""Each robot declares its own hardware backends; the factory dispatches on the robot type."""

from __future__ import annotations

import dataclasses

import pytest

from lerobot_gym import registry
from lerobot_gym.errors import ConfigError
from lerobot_gym.robots.so101.backends import BACKENDS, make_so101_emulated, make_so101_real
from lerobot_gym.robots.so101.spec import SO101


def test_the_so101_declares_real_and_emulated_builders():
    assert registry.get_robot_backend(SO101, "real") is make_so101_real
    assert registry.get_robot_backend(SO101, "emulated") is make_so101_emulated
    assert set(BACKENDS) == {"real", "emulated"}


def test_a_robot_without_hardware_backends_is_told_what_it_runs_with():
    toy = dataclasses.replace(SO101, name="toy", robot_type="toy_arm")
    with pytest.raises(ConfigError) as err:
        registry.make_env(robot=toy, task="free", backend="real", port="/dev/ttyACM0")
    message = str(err.value)
    assert "toy_arm" in message and "'sim'" in message
    assert "register_robot_backends" in message and registry.ROBOT_BACKEND_GROUP in message


def test_a_new_robot_type_registers_its_builders_and_gets_its_options(monkeypatch):
    monkeypatch.setattr(registry, "_ROBOT_BACKENDS", dict(registry._ROBOT_BACKENDS))
    calls = []

    class Limp:
        """Enough of a Backend for the env's constructor (no I/O)."""

        deterministic = False
        is_connected = False
        world = None

    def build(robot, task, *, fps, image_size, config, **options):
        calls.append((robot.robot_type, config.backend, fps, image_size, options))
        return Limp()

    toy = dataclasses.replace(SO101, name="toy", robot_type="toy_arm")
    registry.register_robot_backends("toy_arm", {"real": build})
    registry.make_env(
        robot=toy, task="free", backend="real", obs_type="state", bus="/dev/ttyUSB3", fps=25
    )
    assert calls == [("toy_arm", "real", 25, (480, 640), {"bus": "/dev/ttyUSB3"})]
    with pytest.raises(ConfigError, match=r"backend='emulated' is not available.*\['real'"):
        registry.make_env(robot=toy, task="free", backend="emulated", obs_type="state")


def test_a_plugin_declares_backends_through_the_entry_point_group(monkeypatch):
    monkeypatch.setattr(registry, "_ROBOT_BACKENDS", dict(registry._ROBOT_BACKENDS))
    builders = {"real": lambda *a, **k: None}

    class EntryPoint:
        name, value = "koch_follower", "my_pkg.koch.backends:BACKENDS"

        def load(self):
            return builders

    def entry_points(group):
        return [EntryPoint()] if group == registry.ROBOT_BACKEND_GROUP else []

    monkeypatch.setattr(registry.metadata, "entry_points", entry_points)
    koch = dataclasses.replace(SO101, name="koch", robot_type="koch_follower")
    assert registry.get_robot_backend(koch, "real") is builders["real"]
