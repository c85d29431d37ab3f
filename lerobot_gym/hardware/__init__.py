"""Servo buses over the vendors' SDKs, servo-arm backends, cameras, and pty bus emulators.

This package knows no robot (a test reads its imports: nothing from ``lerobot_gym.robots``);
each robot configures it from ``robots/<name>/``. It imports no hardware SDK: ``scservo_sdk``
(Feetech) and ``dynamixel_sdk`` load lazily inside the bus classes, so ``import lerobot_gym``
stays light and a missing SDK raises :class:`lerobot_gym.errors.MissingExtraError` naming the
``real`` extra only when a bus is used.

Modules:
    bus: the one :class:`~lerobot_gym.hardware.bus.Motor` type and the
        :class:`~lerobot_gym.hardware.bus.MotorBus` protocol every bus implements.
    servo_arm: :class:`~lerobot_gym.hardware.servo_arm.ServoArm`, the backend of robots made
        of servo arms on one or more buses.
    feetech: :class:`~lerobot_gym.hardware.feetech.FeetechBus` for STS servos, the STS
        control table and the sign-magnitude encodings.
    cameras, camera_devices: threaded OpenCV cameras, and the frame sources backends read.
    emulator: stateful servo-bus emulators on a pseudo-terminal, backed by the plant they are
        given (a first-order model or a MuJoCo twin), with fault injection.
"""
