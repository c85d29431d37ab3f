"""Servo buses over the vendors' SDKs, cameras, and pty servo-bus emulators.

This package imports no hardware SDK: ``scservo_sdk`` (Feetech) and ``dynamixel_sdk`` load
lazily inside the bus classes, so ``import lerobot_gym`` stays light and a missing SDK raises
:class:`lerobot_gym.errors.MissingExtraError` naming the ``real`` extra only when a bus is used.

Modules:
    feetech: :class:`~lerobot_gym.hardware.feetech.FeetechBus` for STS3215 servos (SO-101),
        the STS control table and the sign-magnitude encodings.
    emulator: stateful servo-bus emulators on a pseudo-terminal, backed by a pluggable plant
        (a first-order model or the MuJoCo twin), with fault injection.
"""
