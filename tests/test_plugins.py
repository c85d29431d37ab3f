"""Third-party robots and tasks through the entry-point groups ``lerobot_gym.robots``/``.tasks``.

Each test installs fake distributions in ``tmp_path`` (a ``*.dist-info`` folder with METADATA and
entry_points.txt, next to the plugin's module) and puts it on ``sys.path``, which is all
``importlib.metadata`` needs to find them, exactly as for a pip-installed package.
"""

from __future__ import annotations

import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym import registry
from lerobot_gym.errors import PluginLoadError, UnknownRobotError, UnknownTaskError

GOOD_MODULE = "lg_test_plugin_good"
BROKEN_MODULE = "lg_test_plugin_broken"

GOOD_SOURCE = '''
"""A plugin package: one task and one robot."""
import dataclasses

import numpy as np

from lerobot_gym.core.task import Task
from lerobot_gym.robots.so101.spec import so101_spec

IMPORTED = True


class HoldStill(Task):
    name = "my_task"
    description = "hold the arm still"

    def evaluate(self, ctx, state):
        return {"pan_rad": float(np.asarray(state.joint_positions_rad)[0])}

    def reward(self, facts):
        return 0.25 if np.isfinite(facts["pan_rad"]) else 0.0

    def is_success(self, facts):
        return True


MY_ARM = dataclasses.replace(so101_spec(), name="my_arm")
'''

BROKEN_SOURCE = 'raise RuntimeError("this plugin is broken on purpose")\n'


def _install(root, dist, module, source, entry_points):
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    _install(
        tmp_path,
        "lg_test_plugin_good",
        GOOD_MODULE,
        GOOD_SOURCE,
        f"""
        [lerobot_gym.tasks]
        my_task = {GOOD_MODULE}:HoldStill

        [lerobot_gym.robots]
        my_arm = {GOOD_MODULE}:MY_ARM
        """,
    )
    _install(
        tmp_path,
        "lg_test_plugin_broken",
        BROKEN_MODULE,
        BROKEN_SOURCE,
        f"""
        [lerobot_gym.tasks]
        broken_task = {BROKEN_MODULE}:Task
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    # Lookups cache resolved plugins in the registry's tables; restore them after the test.
    monkeypatch.setattr(registry, "_TASKS", dict(registry._TASKS))
    monkeypatch.setattr(registry, "_ROBOTS", dict(registry._ROBOTS))
    yield tmp_path
    for module in (GOOD_MODULE, BROKEN_MODULE):
        sys.modules.pop(module, None)


def test_plugin_task_resolves_through_the_generic_id_and_steps(plugins):
    env = gym.make("lerobot_gym/RobotEnv-v0", robot="so101", task="my_task", obs_type="state")
    try:
        assert type(env.unwrapped.task).__name__ == "HoldStill"
        obs, info = env.reset(seed=0)
        obs, reward, _, _, info = env.step(obs["agent_pos"])
        assert reward == 0.25 and info["is_success"] is True
        assert set(info["facts"]) == {"pan_rad"}
        assert env.observation_space.contains(obs)
    finally:
        env.close()


def test_plugin_robot_resolves(plugins):
    spec = registry.get_robot("my_arm")
    assert spec.name == "my_arm"
    assert spec.joint_names == registry.get_robot("so101").joint_names
    env = gym.make("lerobot_gym/RobotEnv-v0", robot="my_arm", task="reach", obs_type="state")
    try:
        assert env.unwrapped.robot.name == "my_arm"
        obs, _ = env.reset(seed=0)
        env.step(obs["agent_pos"])
    finally:
        env.close()


def test_unknown_names_list_plugins(plugins):
    with pytest.raises(UnknownTaskError, match="my_task"):
        registry.get_task("no_such_task")
    with pytest.raises(UnknownRobotError, match="my_arm"):
        registry.get_robot("no_such_robot")


def test_a_plugin_that_fails_to_import_is_named(plugins):
    with pytest.raises(PluginLoadError, match="broken_task") as caught:
        registry.get_task("broken_task")
    message = str(caught.value)
    assert BROKEN_MODULE in message and "broken on purpose" in message
    with pytest.raises(PluginLoadError, match="broken_task"):
        gym.make("lerobot_gym/RobotEnv-v0", robot="so101", task="broken_task", obs_type="state")


def test_builtins_do_not_load_plugins(plugins, monkeypatch):
    calls = []
    real_entry_points = registry.metadata.entry_points

    def counting_entry_points(**kwargs):
        calls.append(kwargs)
        return real_entry_points(**kwargs)

    monkeypatch.setattr(registry.metadata, "entry_points", counting_entry_points)
    assert registry.get_task("reach").name == "reach"
    assert registry.get_robot("so101").name == "so101"
    env = gym.make("lerobot_gym/SO101-Reach-v0", obs_type="state")
    env.close()
    # No entry point was even listed, so the broken plugin installed next to them was not touched.
    assert calls == []
    assert GOOD_MODULE not in sys.modules and BROKEN_MODULE not in sys.modules

    # A miss of the built-ins is what loads a plugin, and only the one asked for.
    registry.get_task("my_task")
    assert calls and GOOD_MODULE in sys.modules and BROKEN_MODULE not in sys.modules
    assert np.all([c.get("group") == registry.TASK_GROUP for c in calls])
