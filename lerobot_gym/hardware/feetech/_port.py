"""The serial side of the Feetech bus: lazy SDK import and the project's SDK port handler.

The handler subclasses ``scservo_sdk.PortHandler`` to fix three SDK behaviours
(servo-protocols.md §1.4): ``clearPort`` drops pending input (stale replies), ``readPort``
waits in ``select`` instead of spinning a core, and the packet timeout is ``wire time +
timeout_ms``. The port is opened with an exclusive ``flock``.
"""

from __future__ import annotations

import errno
import functools
import os
import select
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
def _port_handler_class() -> type:
    """Subclass the SDK's PortHandler (built lazily because the SDK is an optional extra)."""
    scs = import_sdk()
    import serial

    base: Any = scs.PortHandler  # the SDK is untyped

    class _PortHandler(base):
        timeout_ms = 50.0
        # Attributes of the SDK's PortHandler that these overrides use.
        is_open: bool
        packet_timeout: float

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

        def clearPort(self) -> None:
            # Called by the SDK before every packet it sends: drop late replies (see module doc).
            self.ser.reset_input_buffer()

        def readPort(self, length: int) -> bytes:
            # The SDK polls this in a loop until its timeout. Instead of spinning (a whole core,
            # and it starves an in-process emulator of the GIL), wait in select() for the first
            # byte or the end of the packet timeout; select returns as soon as bytes arrive.
            data = self.ser.read(length)
            if not data:
                remaining_ms = self.packet_timeout - self.getTimeSinceStart()
                if remaining_ms > 0:
                    select.select([self.ser.fileno()], [], [], min(remaining_ms, 10.0) / 1000)
                    data = self.ser.read(length)
            return data

        def setPacketTimeout(self, packet_length: int) -> None:
            self.packet_start_time = self.getCurrentTime()
            self.packet_timeout = self.tx_time_per_byte * packet_length + self.timeout_ms

    return _PortHandler


def open_port(port: str, baudrate: int, timeout_ms: float) -> Any:
    """Open ``port`` with the project's port handler, mapping failures to typed errors.

    Raises:
        PortNotFoundError: The device does not exist.
        PortBusyError: Another process (or bus) holds it.
        HardwareError: It cannot be opened for another reason (permissions).
        ConfigError: scservo_sdk does not support ``baudrate``.
    """
    import serial

    handler = _port_handler_class()(port)
    handler.timeout_ms = timeout_ms
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
        raise ConfigError(f"baud rate {baudrate} is not supported by scservo_sdk")
    return handler
