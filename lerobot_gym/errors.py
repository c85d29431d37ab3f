"""Typed errors. Every message says what went wrong *and what to do about it*.

All errors derive from :class:`LeRobotGymError`. Errors caused by a bad argument also derive
from :class:`ValueError` (or :class:`KeyError`/:class:`TypeError` where Python convention asks),
so code that already catches the builtin keeps working.

Hierarchy::

    LeRobotGymError
    ├── ConfigError (ValueError)            bad keyword, obs_type, camera, size ...
    │   ├── TwinParamsError                a twin parameter file: bad, out of range, other robot
    │   ├── KnobError                      a twin knob (latency, noise, randomisation) out of range
    │   ├── UnknownEnvIdError (gymnasium.error.UnregisteredEnv)
    │   ├── UnknownRobotError (KeyError)
    │   ├── UnknownTaskError (KeyError)
    │   ├── UnknownTeleopError (KeyError)  no teleop device of that type
    │   ├── UnsupportedModelError          the chosen physics lacks a feature the model uses
    │   └── MissingPhysicsError (MissingExtraError) physics= needs an extra not installed
    ├── PluginLoadError (ImportError)       an entry-point plugin failed to import
    ├── MissingExtraError (ImportError)     an optional dependency is not installed
    ├── ActionError (ValueError)            NaN/inf or wrong-shape action
    ├── NotConnectedError (RuntimeError)    hardware used before reset()/connect()
    ├── HardwareError (RuntimeError)
    │   ├── PortNotFoundError, PortBusyError
    │   ├── PortIOError                      the OS failed a read/write/flush of an open port
    │   ├── MotorError
    │   │   ├── MotorTimeoutError            no status packet in time
    │   │   ├── MotorNotFoundError           ping found no servo at an id
    │   │   ├── CorruptPacketError           checksum / header / length wrong
    │   │   └── MotorStatusError             error bits set (voltage, angle, overheat, overload)
    │   ├── CameraError
    │   └── TeleopLostError                a teleop device vanished mid-episode
    ├── CalibrationError (ValueError)
    ├── DatasetError
    │   ├── DatasetNotFoundError (FileNotFoundError)
    │   ├── DatasetCorruptError              a file is truncated or disagrees with metadata
    │   ├── EncoderCrashedError              the video encoder process died mid-episode
    │   └── DatasetMismatchError (ValueError) resume/merge with different features or fps
    └── PolicyError
        ├── CheckpointError                  a checkpoint file is missing or corrupt
        └── PolicyMismatchError (ValueError) policy features vs env or dataset
"""

from __future__ import annotations

import gymnasium.error


class LeRobotGymError(Exception):
    """Base class of every error raised by lerobot_gym."""


class ConfigError(LeRobotGymError, ValueError):
    """A configuration value (keyword argument, flag, file field) is invalid."""


class TwinParamsError(ConfigError):
    """A twin parameter file is missing, malformed, out of range, or for another robot."""


class KnobError(ConfigError):
    """A twin knob (latency, noise, domain randomisation) is unknown, mistyped or out of range."""


class UnknownEnvIdError(ConfigError, gymnasium.error.UnregisteredEnv):
    """No env is registered under that id; the message names the closest registered ids."""


class UnknownRobotError(ConfigError, KeyError):
    """No robot of that name is registered (built-in or plugin)."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class UnknownTaskError(ConfigError, KeyError):
    """No task of that name is registered (built-in or plugin)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownTeleopError(ConfigError, KeyError):
    """No teleop device of that type exists; the message lists the known types."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class PluginLoadError(LeRobotGymError, ImportError):
    """An entry point in group ``lerobot_gym.robots`` or ``lerobot_gym.tasks`` failed to load."""


class MissingExtraError(LeRobotGymError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, module: str, extra: str, purpose: str = "") -> None:
        what = f" for {purpose}" if purpose else ""
        super().__init__(
            f"{module!r} is needed{what} but is not installed; "
            f"install it with `pip install 'lerobot-gym[{extra}]'`."
        )
        self.module = module
        self.extra = extra


class UnsupportedModelError(ConfigError):
    """The chosen physics (``make_vec(..., physics="warp")``) lacks a feature the model uses."""


class MissingPhysicsError(MissingExtraError, ConfigError):
    """A ``physics=`` choice needs an optional dependency that is not installed.

    Both a :class:`MissingExtraError` (an ``ImportError``) and a :class:`ConfigError` (the
    keyword chose it); the message names the extra to install.
    """


class ActionError(LeRobotGymError, ValueError):
    """An action is not finite or has the wrong shape."""


class NotConnectedError(LeRobotGymError, RuntimeError):
    """Hardware was used before it was connected (call ``env.reset()`` first)."""


class HardwareError(LeRobotGymError, RuntimeError):
    """A failure talking to real (or emulated) hardware."""


class PortNotFoundError(HardwareError, FileNotFoundError):
    """The serial port does not exist."""


class PortBusyError(HardwareError):
    """The serial port exists but another process holds it."""


class PortIOError(HardwareError):
    """The operating system failed an operation on an open serial port.

    ``OSError``, ``termios.error`` or ``serial.SerialException`` from a read, a write or an input
    flush: a USB adapter that was reset, unplugged or glitched. The bus reopens the port on its
    next transaction.
    """


class MotorError(HardwareError):
    """A servo did not answer as it should."""

    def __init__(self, message: str, *, motor_id: int | None = None) -> None:
        super().__init__(message)
        self.motor_id = motor_id


class MotorTimeoutError(MotorError, TimeoutError):
    """No status packet arrived in time."""


class MotorNotFoundError(MotorError):
    """A ping found no servo at an expected id."""


class CorruptPacketError(MotorError):
    """A status packet failed its checksum, header or length check."""


class MotorStatusError(MotorError):
    """A servo reported error bits in its status packet (voltage, angle, overheat, overload)."""

    def __init__(self, message: str, *, motor_id: int | None = None, flags: tuple[str, ...] = ()):
        super().__init__(message, motor_id=motor_id)
        self.flags = flags


class CameraError(HardwareError):
    """A camera cannot be opened or stopped delivering frames."""


class TeleopLostError(HardwareError):
    """A teleop device stopped answering mid-episode (unplugged, port gone, bus dead).

    Raised by ``HumanIntervention`` after it has made the arm hold or go limp (its
    ``on_teleop_lost``) and recorded what came before; ``__cause__`` is the device's error.
    """


class CalibrationError(LeRobotGymError, ValueError):
    """A calibration file is missing, corrupt, or does not fit the arm."""


class DatasetError(LeRobotGymError):
    """A LeRobot dataset cannot be written or read."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """The dataset root (or a file it names) does not exist."""


class DatasetCorruptError(DatasetError):
    """A dataset file is truncated, unreadable, or disagrees with the metadata."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class EncoderCrashedError(DatasetError):
    """The video encoder process died: the episode in progress lost its video.

    Raised by the next ``add_frame`` or ``save_episode``; ``clear_episode()`` discards the
    episode, and the next episode starts a new encoder process.
    """


class DatasetMismatchError(DatasetError, ValueError):
    """Features or fps differ from the dataset being resumed or merged."""


class PolicyError(LeRobotGymError):
    """A learned policy cannot be built, loaded or run."""


class CheckpointError(PolicyError):
    """A policy checkpoint directory is missing a file, or a file is corrupt."""


class PolicyMismatchError(PolicyError, ValueError):
    """A policy's input or output features do not match the env or dataset it is used with."""
