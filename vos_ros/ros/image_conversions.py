"""sensor_msgs/Image and CompressedImage <-> numpy, without cv_bridge.

Supported `Image.encoding`s (ROS `sensor_msgs/image_encodings` names):

========  ========  ========  ==============================================
encoding  dtype     channels  to RGB (`image_to_rgb`)
========  ========  ========  ==============================================
rgb8      uint8     3         as is
bgr8      uint8     3         channels swapped
8UC3      uint8     3         treated as BGR (OpenCV's order), swapped
rgba8     uint8     4         alpha dropped
bgra8     uint8     4         swapped, alpha dropped
mono8     uint8     1         grey replicated
8UC1      uint8     1         grey replicated
mono16    uint16    1         high byte, grey replicated
16UC1     uint16    1         high byte, grey replicated (usually depth: mm)
32FC1     float32   1         rejected (depth in metres, not a colour image)
========  ========  ========  ==============================================

Rows may be padded (`step` > width * bytes per pixel); multi-byte data may be big-endian
(`is_bigendian`). Everything that does not add up raises ValueError saying what is wrong.
"""
from __future__ import annotations

import array
import sys

import cv2
import numpy as np
from sensor_msgs.msg import CompressedImage, Image

#: encoding -> (numpy dtype, channels)
ENCODINGS: dict[str, tuple[np.dtype, int]] = {
    "rgb8": (np.dtype(np.uint8), 3),
    "bgr8": (np.dtype(np.uint8), 3),
    "8UC3": (np.dtype(np.uint8), 3),
    "rgba8": (np.dtype(np.uint8), 4),
    "bgra8": (np.dtype(np.uint8), 4),
    "mono8": (np.dtype(np.uint8), 1),
    "8UC1": (np.dtype(np.uint8), 1),
    "mono16": (np.dtype(np.uint16), 1),
    "16UC1": (np.dtype(np.uint16), 1),
    "32FC1": (np.dtype(np.float32), 1),
}
COLOUR_ENCODINGS = ("rgb8", "bgr8", "8UC3", "rgba8", "bgra8", "mono8", "8UC1", "mono16", "16UC1")
MASK_ENCODINGS = ("mono8", "8UC1")
DEPTH_ENCODINGS = ("16UC1", "32FC1")
_BIG_ENDIAN_HOST = sys.byteorder == "big"


def _encoding_info(encoding: str) -> tuple[np.dtype, int]:
    try:
        return ENCODINGS[encoding]
    except KeyError:
        raise ValueError(f"unsupported image encoding {encoding!r}; supported: "
                         f"{', '.join(ENCODINGS)}") from None


def image_to_numpy(msg: Image) -> np.ndarray:
    """The pixels of `msg` as a new C-contiguous array in native byte order:
    (H, W) for one channel, (H, W, C) otherwise, dtype given by the encoding."""
    dtype, channels = _encoding_info(msg.encoding)
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    if height <= 0 or width <= 0:
        raise ValueError(f"image is empty ({width}x{height})")
    row_bytes = width * channels * dtype.itemsize
    if step < row_bytes:
        raise ValueError(f"{msg.encoding} image {width}x{height}: step {step} is smaller than "
                         f"width x bytes per pixel = {row_bytes}")
    expected = step * height
    if len(msg.data) != expected:
        raise ValueError(f"{msg.encoding} image {width}x{height}, step {step}: data has "
                         f"{len(msg.data)} bytes, expected step x height = {expected}")
    raw = np.frombuffer(msg.data, dtype=np.uint8).reshape(height, step)[:, :row_bytes]
    big = bool(msg.is_bigendian)
    pixels = np.ascontiguousarray(raw).view(dtype.newbyteorder(">" if big else "<"))
    pixels = np.array(pixels, dtype=dtype, order="C", copy=True)  # own, native, contiguous
    return pixels.reshape(height, width) if channels == 1 else pixels.reshape(height, width, channels)


def numpy_to_image(pixels: np.ndarray, encoding: str, header=None) -> Image:
    """A sensor_msgs/Image holding `pixels` (no row padding, host byte order)."""
    dtype, channels = _encoding_info(encoding)
    pixels = np.asarray(pixels)
    if pixels.dtype != dtype:
        raise ValueError(f"{encoding} needs dtype {dtype}, got {pixels.dtype}")
    if channels == 1 and pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    shape_ok = pixels.ndim == 2 if channels == 1 else (pixels.ndim == 3 and pixels.shape[2] == channels)
    if not shape_ok:
        raise ValueError(f"{encoding} needs shape (H, W{'' if channels == 1 else f', {channels}'}), "
                         f"got {pixels.shape}")
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = int(pixels.shape[0]), int(pixels.shape[1])
    msg.encoding = encoding
    msg.is_bigendian = 1 if (_BIG_ENDIAN_HOST and dtype.itemsize > 1) else 0
    msg.step = msg.width * channels * dtype.itemsize
    msg.data = _to_byte_array(pixels)
    return msg


def _to_byte_array(pixels: np.ndarray) -> array.array:
    # array.array is what the generated setter accepts without a per-byte Python check
    data = array.array("B")
    data.frombytes(np.ascontiguousarray(pixels).tobytes())
    return data


def image_to_rgb(msg: Image) -> np.ndarray:
    """HxWx3 uint8 RGB from any colour or grey encoding in the table above."""
    if msg.encoding not in COLOUR_ENCODINGS:
        if msg.encoding in ENCODINGS:
            raise ValueError(f"encoding {msg.encoding!r} is not a colour image (float depth?); "
                             f"colour input needs one of {', '.join(COLOUR_ENCODINGS)}")
        raise ValueError(f"unsupported image encoding {msg.encoding!r}; colour input needs one of "
                         f"{', '.join(COLOUR_ENCODINGS)}")
    pixels = image_to_numpy(msg)
    enc = msg.encoding
    if enc == "rgb8":
        return pixels
    if enc in ("bgr8", "8UC3"):
        return np.ascontiguousarray(pixels[:, :, ::-1])
    if enc == "rgba8":
        return np.ascontiguousarray(pixels[:, :, :3])
    if enc == "bgra8":
        return np.ascontiguousarray(pixels[:, :, 2::-1])
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    return np.repeat(pixels[:, :, None], 3, axis=2)


def rgb_to_image(rgb: np.ndarray, header=None, encoding: str = "rgb8") -> Image:
    """HxWx3 uint8 RGB -> Image in rgb8 (default) or bgr8."""
    if encoding == "rgb8":
        return numpy_to_image(rgb, "rgb8", header)
    if encoding == "bgr8":
        return numpy_to_image(np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1]), "bgr8", header)
    raise ValueError(f"rgb_to_image writes rgb8 or bgr8, not {encoding!r}")


def image_to_mask(msg: Image, expected_size: tuple[int, int] | None = None) -> np.ndarray:
    """(H, W) bool mask from a mono8/8UC1 image, nonzero = object. `expected_size` is
    (height, width) of the frame the mask must match."""
    if msg.encoding not in MASK_ENCODINGS:
        raise ValueError(f"mask encoding {msg.encoding!r} is not supported: send "
                         f"{' or '.join(MASK_ENCODINGS)} (nonzero = object)")
    if expected_size is not None and (int(msg.height), int(msg.width)) != tuple(expected_size):
        raise ValueError(f"mask is {msg.width}x{msg.height} but the frame is "
                         f"{expected_size[1]}x{expected_size[0]}: they must match")
    return image_to_numpy(msg) != 0


def depth_image_to_numpy(msg: Image) -> np.ndarray:
    """(H, W) uint16 (16UC1, usually mm) or float32 (32FC1, metres) depth array."""
    if msg.encoding not in DEPTH_ENCODINGS:
        raise ValueError(f"depth encoding {msg.encoding!r} is not supported: send "
                         f"16UC1 (millimetres) or 32FC1 (metres)")
    return image_to_numpy(msg)


def compressed_to_rgb(msg: CompressedImage) -> np.ndarray:
    """HxWx3 uint8 RGB decoded (cv2.imdecode) from a JPEG/PNG/... CompressedImage."""
    fmt = (msg.format or "").strip()
    if "compresseddepth" in fmt.lower():
        raise ValueError(f"CompressedImage format {fmt!r} is a compressed depth image; "
                         "colour input needs jpeg or png")
    if len(msg.data) == 0:
        raise ValueError("CompressedImage has no data")
    buf = np.frombuffer(msg.data, dtype=np.uint8)
    bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f"could not decode CompressedImage ({len(msg.data)} bytes, format "
                         f"{fmt!r}): not a jpeg/png/... image OpenCV can read")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def rgb_to_compressed(rgb: np.ndarray, fmt: str = "jpeg", header=None, quality: int = 90) -> CompressedImage:
    """HxWx3 uint8 RGB -> CompressedImage (jpeg or png) as image_transport writes it."""
    ext = {"jpeg": ".jpg", "jpg": ".jpg", "png": ".png"}.get(fmt)
    if ext is None:
        raise ValueError(f"compression format must be jpeg or png, got {fmt!r}")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext == ".jpg" else []
    ok, enc = cv2.imencode(ext, cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError(f"OpenCV could not encode the image as {fmt}")
    msg = CompressedImage()
    if header is not None:
        msg.header = header
    msg.format = "jpeg" if ext == ".jpg" else "png"
    msg.data = _to_byte_array(enc)
    return msg
