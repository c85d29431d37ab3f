"""Find the joint and end-effector bounds of a work cell by moving the arm through it.

``lerobot-gym find-joint-limits --env.backend=real --env.port=PORT --teleop.type=so101_leader
--teleop.port=PORT --config=hil.json`` (LeRobot's ``lerobot-find-joint-limits``): the operator
moves the arm with the leader arm, the keyboard (jog keys) or a gamepad over the region it
should work in, for ``--duration_s`` or until they press the right arrow (done) or Esc. The
range of the measured joints and of the tool position (:mod:`lerobot_gym.hil.limits`) is
printed and, with ``--config``, written to that env config file as ``joint_bounds`` and
``ee_control.bounds`` (the other sections are kept), ready for ``record --env.config``.

The env defaults to ``lerobot_gym/SO101-v0`` (no task props) with state observations; any
``--env.*`` flag goes to ``gym.make`` as for every command. The loop runs at the env's rate in
wall-clock time (``ControlRate``): a human is driving.
"""

from __future__ import annotations

import sys
from typing import Any

from lerobot_gym.cli import common
from lerobot_gym.cli._record_hil import HIL_TELEOP_TYPES, make_hil_teleop
from lerobot_gym.cli.args import CommandParser, Flag, UsageError

DEFAULT_ENV = "lerobot_gym/SO101-v0"

PARSER = CommandParser(
    prog="lerobot-gym find-joint-limits",
    description="""
        Move the arm with a leader arm, the keyboard or a gamepad over the region it should
        work in; prints the range of its joints (degrees, gripper 0..100) and of its tool
        position (metres, base frame), and with --config=FILE writes them to that env config
        as joint_bounds and ee_control.bounds. Ends after --duration_s, or on the right arrow
        (done) or Esc.
    """,
    flags=(
        Flag("teleop.type", None, "|".join(HIL_TELEOP_TYPES), str, True),
        Flag("duration_s", 30.0, "longest session, seconds", float),
        Flag("config", None, "env config file to write the bounds into (created if absent)", str),
        Flag("seed", None, "seed of the reset (twin)", int, True),
    ),
    open_groups={
        "env": common.ENV_GROUP_HELP + f" Default: --env.id={DEFAULT_ENV} --env.obs_type=state.",
        "teleop": "device options, e.g. --teleop.port=/dev/ttyACM1 --teleop.id=my_leader",
    },
    examples=(
        "lerobot-gym find-joint-limits --env.backend=real --env.port=/dev/ttyACM0 "
        "--teleop.type=so101_leader --teleop.port=/dev/ttyACM1 --config=hil_pick.json",
        "lerobot-gym find-joint-limits --env.backend=emulated --teleop.type=keyboard "
        "--duration_s=60 --config=hil_pick.json",
    ),
)


def run(argv: list[str]) -> int:
    """Parse the flags, measure while the operator moves the arm, print and write the bounds."""
    from lerobot_gym.teleop.keyboard import TerminalKeyboard

    cfg = PARSER.parse(argv)
    with TerminalKeyboard() as keyboard:
        if keyboard.active:
            print(
                "move the arm over its work region; keys: i/k j/l u/o jog x/y/z (keyboard), "
                "right arrow = done, Esc = stop"
            )
        limits = find_joint_limits(cfg, keyboard=keyboard)
    print(format_limits(limits))
    if cfg["config"]:
        print(f"wrote joint_bounds and ee_control.bounds to {cfg['config']}")
    return 0


def find_joint_limits(cfg: dict[str, Any], *, keyboard: Any, teleop: Any | None = None) -> Any:
    """Measure with parsed flags; the :class:`~lerobot_gym.hil.limits.MeasuredLimits`.

    ``teleop``: a connected device instead of the one ``--teleop.type`` would build.
    """
    import gymnasium as gym

    from lerobot_gym.hil import update_hil_config
    from lerobot_gym.hil.limits import measure_limits
    from lerobot_gym.wrappers import ControlRate

    teleop_args = dict(cfg.get("teleop") or {})
    teleop_type = teleop_args.pop("type", None)
    if teleop is None and teleop_type is None:
        raise UsageError(
            f"--teleop.type is required ({'|'.join(HIL_TELEOP_TYPES)}): the device that moves "
            "the arm"
        )
    if cfg["duration_s"] <= 0:
        raise UsageError(f"--duration_s must be positive, got {cfg['duration_s']}")
    env_args = dict(cfg.get("env") or {})
    env_id = common.resolve_env_id(env_args.get("id") or DEFAULT_ENV)
    kwargs = common.env_kwargs(env_args)
    kwargs.setdefault("obs_type", "state")
    if kwargs.setdefault("control_mode", "joint_pos") != "joint_pos":
        raise UsageError("find-joint-limits drives the arm in --env.control_mode=joint_pos")
    device = teleop
    if device is None:
        assert teleop_type is not None
        device = make_hil_teleop(teleop_type, teleop_args, keyboard)
    connected_here = not device.is_connected
    if connected_here:
        device.connect()
    env: Any = None
    try:
        env = gym.make(env_id, **kwargs)
        fps = int(env.metadata["render_fps"])
        env = ControlRate(env, fps=fps)
        limits = measure_limits(
            env, device, max_steps=max(1, round(cfg["duration_s"] * fps)), seed=cfg["seed"]
        )
    finally:
        try:
            if env is not None:
                env.close()
        finally:
            if connected_here and device is not keyboard:
                device.disconnect()
    if cfg["config"]:
        update_hil_config(cfg["config"], "joint_bounds", limits.joint_bounds())
        update_hil_config(cfg["config"], "ee_control.bounds", limits.ee_bounds())
    return limits


def format_limits(limits: Any) -> str:
    """The table ``run`` prints."""
    lines = [f"measured over {limits.steps} steps", f"{'joint':<16}{'min':>10}{'max':>10}"]
    for name, lo, hi in zip(limits.joint_names, limits.joint_low, limits.joint_high):
        lines.append(f"{name:<16}{lo:>10.2f}{hi:>10.2f}")
    ee = limits.ee_bounds()
    lines.append(f"{'tool (m)':<16}{'min':>10}{'max':>10}")
    for axis, lo, hi in zip("xyz", ee["low"], ee["high"]):
        lines.append(f"{axis:<16}{lo:>10.4f}{hi:>10.4f}")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run(sys.argv[1:]))
