"""PNG encoding and decoding of ``image`` features, with PyAV (no Pillow dependency).

LeRobot stores ``image`` features in the data parquet as ``{"bytes": <PNG>, "path": None}``
structs (reference ``shared/reference/lerobot-dataset-v3.md`` section 3). FFmpeg's PNG
codec writes and reads standard PNG files, so PIL-decoded LeRobot images and ours agree.
"""

from __future__ import annotations

import av
import numpy as np

from lerobot_gym.errors import DatasetCorruptError


def encode_png(image_hwc: np.ndarray) -> bytes:
    """Encode an ``(H, W, 3)`` uint8 image as PNG bytes (fast compression, as LeRobot's 1)."""
    h, w = image_hwc.shape[:2]
    ctx = av.CodecContext.create("png", "w")
    ctx.width, ctx.height, ctx.pix_fmt = w, h, "rgb24"
    ctx.options = {"compression_level": "1"}
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image_hwc), format="rgb24")
    packets = ctx.encode(frame) + ctx.encode(None)
    return b"".join(bytes(p) for p in packets)


def decode_png(data: bytes, *, path: str | None = None) -> np.ndarray:
    """Decode PNG bytes to an ``(H, W, 3)`` uint8 array.

    Raises:
        DatasetCorruptError: the bytes are not a decodable image.
    """
    # A fresh decoder per image: a cached one is frame-threaded in ffmpeg and hands back the
    # *previous* packet's picture (one frame of delay), which silently shifts every image.
    ctx = av.CodecContext.create("png", "r")
    try:
        frames = ctx.decode(av.Packet(data)) + ctx.decode(None)
        if not frames:
            raise ValueError("no frame")
    except (av.error.FFmpegError, ValueError) as exc:
        raise DatasetCorruptError(f"cannot decode a PNG image: {exc}", path=path) from exc
    return frames[0].to_ndarray(format="rgb24")
