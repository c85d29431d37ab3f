"""Opening the Feetech bus's port: lazy SDK import and the project's SDK port handler.

The handler subclasses ``scservo_sdk.PortHandler`` (the SDK's baud-rate whitelist and port
set-up) to open the port with an exclusive ``flock`` and an empty input buffer. Reading,
writing and timeouts are :mod:`lerobot_gym.hardware.feetech.transport`'s: the SDK's
``clearPort`` (an output flush), its spinning ``readPort`` and its packet timeouts are not used
(servo-protocols.md §1.4).
"""

from __future__ import annotations

import errno
import functools
import os
from typing import Any

from lerobot_gym.errors import (
    ConfigError,
    HardwareError,
    MissingExtraError,
    PortBusyError,
    PortNotFoundError,
)

FIND_PORT_HINT = "run `lerobot-gym find-port` to find the arm's port"


def import_sdk() -> Any:
    """Import scservo_sdk, or raise MissingExtraError naming the ``real`` extra."""
    try:
        import scservo_sdk
    except ImportError as exc:
        raise MissingExtraError("scservo_sdk", "real", "Feetech servo buses") from exc
    return scservo_sdk


@functools.cache
def _port_handler_class(sdk_base: type | None = None) -> type:
    """Subclass an SDK's PortHandler (built lazily because the SDK is an optional extra).

    ``sdk_base`` is ``scservo_sdk.PortHandler`` by default; the Dynamixel bus passes
    ``dynamixel_sdk.PortHandler`` (the same class lineage, servo-protocols.md §3.1).
    """
    import serial

    base: Any = sdk_base if sdk_base is not None else import_sdk().PortHandler  # untyped SDK

    class _PortHandler(base):
        # Attributes of the SDK's PortHandler that this override uses.
        is_open: bool

        def setupPort(self, cflag_baud: int) -> bool:
            if self.is_open:
                self.closePort()
            self.ser = serial.Serial(
                port=self.port_name,
                baudrate=self.baudrate,
                bytesize=serial.EIGHTBITS,
                timeout=0,
                exclusive=True,
            )
            self.is_open = True
            self.ser.reset_input_buffer()
            self.tx_time_per_byte = (1000.0 / self.baudrate) * 10.0
            return True

    return _PortHandler


def open_port(port: str, baudrate: int, sdk_base: type | None = None) -> Any:
    """Open ``port`` with the project's port handler, mapping failures to typed errors.

    Raises:
        PortNotFoundError: The device does not exist.
        PortBusyError: Another process (or bus) holds it.
        HardwareError: It cannot be opened for another reason (permissions).
        ConfigError: The SDK does not support ``baudrate``.
    """
    import serial

    handler = _port_handler_class(sdk_base)(port)
    handler.baudrate = baudrate
    if not os.path.exists(port):
        raise PortNotFoundError(f"serial port {port} not found; {FIND_PORT_HINT}.")
    try:
        opened = handler.setBaudRate(baudrate)
    except serial.SerialException as exc:
        text = str(exc)
        if "exclusively lock" in text or getattr(exc, "errno", None) == errno.EBUSY:
            raise PortBusyError(
                f"serial port {port} is in use by another program or bus; close it "
                f"(a running teleop/record session?) and retry ({text})"
            ) from exc
        if getattr(exc, "errno", None) == errno.ENOENT:  # unplugged between check and open
            raise PortNotFoundError(f"serial port {port} not found; {FIND_PORT_HINT}.") from exc
        raise HardwareError(
            f"cannot open serial port {port}: {text}; on Linux, add your user to the "
            "`dialout` group; otherwise " + FIND_PORT_HINT
        ) from exc
    if not opened:
        sdk = "scservo_sdk" if sdk_base is None else sdk_base.__module__.split(".")[0]
        raise ConfigError(f"baud rate {baudrate} is not supported by {sdk}")
    return handler
