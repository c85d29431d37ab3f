"""`lerobot-gym find-joint-limits`: the range an operator drives the arm through, as bounds."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import lerobot_gym  # noqa: F401  (registers the ids)
from lerobot_gym.cli.main import main
from lerobot_gym.hil import load_hil_config, make_hil_env
from lerobot_gym.hil.limits import measure_limits
from lerobot_gym.teleop.scripted import ScriptedHuman


def _env() -> gym.Env:
    return gym.make("lerobot_gym/SO101-v0", obs_type="state", disable_env_checker=True)


def _home() -> np.ndarray:
    env = _env()
    obs, _ = env.reset(seed=0)
    env.close()
    return obs["agent_pos"].astype(np.float32)


def test_a_leader_sweeping_the_pan_joint_gives_its_range() -> None:
    home = _home()
    sweep = np.zeros(6, np.float32)

    def action(step: int) -> np.ndarray:
        sweep[0] = 25.0 * np.sin(step / 6.0)
        return home + sweep

    human = ScriptedHuman(action, lambda s: True)
    human.connect()
    limits = measure_limits(_env(), human, max_steps=60, seed=0)
    assert limits.steps == 61  # the reset's sample and 60 steps
    assert limits.joint_high[0] > home[0] + 20 and limits.joint_low[0] < home[0] - 20
    others = slice(1, 5)
    np.testing.assert_allclose(limits.joint_low[others], home[others], atol=1.5)
    np.testing.assert_allclose(limits.joint_high[others], home[others], atol=1.5)
    # Panning swings the tool sideways: y spans centimetres, z barely moves.
    ee = limits.ee_bounds()
    assert ee["high"][1] - ee["low"][1] > 0.05
    assert ee["high"][2] - ee["low"][2] < 0.01


def test_keyboard_style_jogs_move_the_tool_box() -> None:
    forward = np.array([1.0, 0.0, 0.0, 0.0], np.float32)
    human = ScriptedHuman(lambda s: forward, lambda s: True, action_kind="ee_delta")
    human.connect()
    limits = measure_limits(_env(), human, max_steps=5, seed=0)
    ee = limits.ee_bounds()
    assert ee["high"][0] - ee["low"][0] == pytest.approx(0.05, abs=0.01)  # 5 steps of 1 cm


def test_the_operator_ends_the_session_with_done() -> None:
    human = ScriptedHuman(lambda s: _home(), lambda s: True, presses={3: "success"})
    human.connect()
    assert measure_limits(_env(), human, max_steps=50, seed=0).steps == 4


def test_cli_prints_and_writes_bounds_that_the_stack_uses(tmp_path: Path, capsys) -> None:
    config = tmp_path / "hil.json"
    config.write_text(json.dumps({"env": {"id": "SO101-Reach-v0", "obs_type": "state"}}))
    argv = ["find-joint-limits", "--teleop.type=keyboard", "--duration_s=0.2", "--seed=0"]
    assert main([*argv, f"--config={config}"]) == 0
    out = capsys.readouterr().out
    assert "shoulder_pan" in out and "tool (m)" in out and "wrote joint_bounds" in out
    data = json.loads(config.read_text())
    assert data["env"]["id"] == "SO101-Reach-v0"  # kept
    assert len(data["joint_bounds"]["low"]) == 6 and len(data["ee_control"]["bounds"]["low"]) == 3
    # Nobody moved the arm: a box of 1 mm around the tool, which EEDeltaAction then enforces.
    cfg = load_hil_config(config)
    low, high = (np.array(b) for b in cfg.ee_control.bounds)
    np.testing.assert_allclose(high - low, 1e-3, atol=2e-4)
    env = make_hil_env({**data, "reward": {"source": "task"}})
    env.reset(seed=0)
    info = env.step(np.array([1.0, 0.0, 0.0, 0.0], np.float32))[4]
    assert info["ee_clipped"][0] and (info["ee_target"] <= high + 1e-9).all()


def test_cli_needs_a_device(capsys) -> None:
    assert main(["find-joint-limits", "--duration_s=1"]) == 2
    assert "--teleop.type is required" in capsys.readouterr().err
    assert main(["find-joint-limits", "--teleop.type=mouse"]) == 2
    assert "unknown --teleop.type='mouse'" in capsys.readouterr().err


def test_an_emulated_leader_drives_the_emulated_arm_through_its_range(tmp_path: Path) -> None:
    """--teleop.type=so101_leader on an emulated bus, the follower the emulated arm."""
    from lerobot_gym.cli import find_joint_limits as cmd
    from lerobot_gym.robots.so101.emulated import EmulatedSO101
    from lerobot_gym.robots.so101.spec import SO101
    from lerobot_gym.teleop.keyboard import TerminalKeyboard

    hand_deg = np.array([25.0, -40.0, 40.0, 20.0, -30.0])
    hand_rad = np.append(np.deg2rad(hand_deg), 0.8)
    with EmulatedSO101("leader", plant="first_order") as arm:
        arm.emulator.set_actual_positions_rad(hand_rad)
        cfg = cmd.PARSER.parse(
            [
                "--env.backend=emulated",
                "--env.max_speed_deg_s=360",
                "--env.lockstep=true",
                "--teleop.type=so101_leader",
                f"--teleop.port={arm.port}",
                f"--teleop.calibration_dir={arm.calibration_dir}",
                "--duration_s=1.5",
                "--seed=0",
                f"--config={tmp_path / 'hil.json'}",
            ]
        )
        limits = cmd.find_joint_limits(cfg, keyboard=TerminalKeyboard(fd=None))
    hand_user = SO101.to_user(hand_rad)
    # The follower went from its start pose to the hand's: each joint's range spans both ends.
    for j in range(5):
        assert limits.joint_low[j] - 1.5 <= hand_user[j] <= limits.joint_high[j] + 1.5, j
    assert limits.joint_high[0] - limits.joint_low[0] > 15.0
    data = json.loads((tmp_path / "hil.json").read_text())
    assert data["joint_bounds"]["high"][0] >= hand_user[0] - 1.5


def test_keyboard_jogs_typed_into_a_real_pty_move_the_tool(tmp_path: Path) -> None:
    """The CLI on a pseudo-terminal: 'i' jogs forward, 'n' ends; the box grows along x."""
    import os
    import select
    import subprocess
    import sys
    import time

    config = tmp_path / "hil.json"
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lerobot_gym.cli.main",
            "find-joint-limits",
            "--teleop.type=keyboard",
            "--duration_s=30",
            "--seed=0",
            f"--config={config}",
        ],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    out = b""
    try:
        # Presses before the session's reset are dropped (by design), so keep jogging for a
        # while; the loop reads one step of jog per press.
        deadline = time.monotonic() + 120
        while b"move the arm" not in out:
            assert time.monotonic() < deadline, out[-300:]
            if select.select([master], [], [], 1.0)[0]:
                out += os.read(master, 4096)
        for _ in range(60):
            os.write(master, b"i")
            time.sleep(0.1)
        os.write(master, b"n")
        assert proc.wait(timeout=120) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    ee = json.loads(config.read_text())["ee_control"]["bounds"]
    assert ee["high"][0] - ee["low"][0] > 0.02  # at least two 1 cm jogs forward landed
