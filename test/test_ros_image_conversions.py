"""sensor_msgs/Image and CompressedImage <-> numpy on real video frames: every supported
encoding, padded rows, big-endian data, and the errors for what does not add up."""
from __future__ import annotations

import array

import cv2
import numpy as np
import pytest
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from vos_ros.ros.image_conversions import (ENCODINGS, compressed_to_rgb, depth_image_to_numpy, image_to_mask,
                                           image_to_numpy, image_to_rgb, numpy_to_image, rgb_to_compressed,
                                           rgb_to_image)


@pytest.fixture(scope="module")
def rgb(bikes_frames) -> np.ndarray:
    """A real frame cropped to an odd size (so rows are not naturally aligned)."""
    return np.ascontiguousarray(bikes_frames[5][40:77, 100:153])  # 37 x 53


def pixels_for(encoding: str, rgb: np.ndarray) -> np.ndarray:
    """Array of `encoding`'s dtype/channels made from the real RGB frame."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return {
        "rgb8": rgb,
        "bgr8": rgb[:, :, ::-1],
        "8UC3": rgb[:, :, ::-1],
        "rgba8": np.dstack([rgb, np.full(grey.shape, 200, np.uint8)]),
        "bgra8": np.dstack([rgb[:, :, ::-1], np.full(grey.shape, 200, np.uint8)]),
        "mono8": grey,
        "8UC1": grey,
        "mono16": grey.astype(np.uint16) * 257,
        "16UC1": grey.astype(np.uint16) * 10 + 500,  # depth-like mm values
        "32FC1": grey.astype(np.float32) / 100.0 + 0.25,
    }[encoding].copy()


def raw_message(pixels: np.ndarray, encoding: str, pad: int = 0, big_endian: bool = False) -> Image:
    """An Image built by hand: each row followed by `pad` junk bytes."""
    dtype = ENCODINGS[encoding][0]
    data = np.ascontiguousarray(pixels).astype(dtype.newbyteorder(">" if big_endian else "<"))
    rows = data.reshape(pixels.shape[0], -1).view(np.uint8)
    junk = np.full((rows.shape[0], pad), 0xAB, np.uint8)
    padded = np.hstack([rows, junk])
    msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding,
                is_bigendian=int(big_endian), step=padded.shape[1])
    msg.data = array.array("B", padded.tobytes())
    return msg


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_round_trip_every_encoding(encoding, rgb):
    pixels = pixels_for(encoding, rgb)
    header = Header(frame_id="camera_optical")
    header.stamp.sec, header.stamp.nanosec = 12, 345
    msg = numpy_to_image(pixels, encoding, header)
    assert (msg.height, msg.width, msg.encoding) == (37, 53, encoding)
    assert msg.step == 53 * pixels.itemsize * (pixels.shape[2] if pixels.ndim == 3 else 1)
    assert msg.header.frame_id == "camera_optical" and msg.header.stamp.nanosec == 345
    back = image_to_numpy(msg)
    assert back.dtype == pixels.dtype and back.shape == pixels.shape
    np.testing.assert_array_equal(back, pixels)
    back[0, 0] = 0  # a copy: the message is untouched
    np.testing.assert_array_equal(image_to_numpy(msg), pixels)


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("pad,big_endian", [(0, True), (5, False), (7, True), (64, False)])
def test_padded_rows_and_byte_order(encoding, pad, big_endian, rgb):
    pixels = pixels_for(encoding, rgb)
    msg = raw_message(pixels, encoding, pad=pad, big_endian=big_endian)
    np.testing.assert_array_equal(image_to_numpy(msg), pixels)


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "8UC3", "rgba8", "bgra8"])
def test_colour_encodings_to_rgb(encoding, rgb):
    msg = raw_message(pixels_for(encoding, rgb), encoding, pad=3)
    out = image_to_rgb(msg)
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, rgb)


@pytest.mark.parametrize("encoding", ["mono8", "8UC1", "mono16"])
def test_grey_encodings_to_rgb(encoding, rgb):
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    out = image_to_rgb(numpy_to_image(pixels_for(encoding, rgb), encoding))
    assert out.shape == (*grey.shape, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], grey)


def test_full_frame_bgr8_big(bikes_frames):
    frame = bikes_frames[0]
    msg = rgb_to_image(frame, encoding="bgr8")
    assert msg.encoding == "bgr8" and (msg.width, msg.height) == (640, 272)
    np.testing.assert_array_equal(image_to_rgb(msg), frame)
    np.testing.assert_array_equal(image_to_rgb(rgb_to_image(frame)), frame)


@pytest.mark.parametrize("encoding,needle", [("yuv422", "unsupported image encoding 'yuv422'"),
                                             ("bayer_rggb8", "supported: rgb8"),
                                             ("", "unsupported image encoding ''")])
def test_unsupported_encoding(encoding, needle, rgb):
    msg = numpy_to_image(rgb, "rgb8")
    msg.encoding = encoding
    with pytest.raises(ValueError, match=needle):
        image_to_numpy(msg)
    with pytest.raises(ValueError, match="unsupported") as info:
        image_to_rgb(msg)
    assert "32FC1" not in str(info.value)  # colour input refuses it, so it is not listed


def test_float_depth_is_not_a_colour_image(rgb):
    msg = numpy_to_image(pixels_for("32FC1", rgb), "32FC1")
    with pytest.raises(ValueError, match="not a colour image"):
        image_to_rgb(msg)
    assert depth_image_to_numpy(msg).dtype == np.float32


def test_size_and_step_mismatches(rgb):
    good = numpy_to_image(rgb, "rgb8")
    small_step = numpy_to_image(rgb, "rgb8")
    small_step.step = 53 * 3 - 1
    with pytest.raises(ValueError, match="step 158 is smaller than width x bytes per pixel = 159"):
        image_to_numpy(small_step)
    short = numpy_to_image(rgb, "rgb8")
    short.data = array.array("B", bytes(good.data)[:-10])
    with pytest.raises(ValueError, match="expected step x height"):
        image_to_numpy(short)
    long = numpy_to_image(rgb, "rgb8")
    long.height = 36
    with pytest.raises(ValueError, match="data has 5883 bytes, expected step x height = 5724"):
        image_to_numpy(long)
    empty = Image(encoding="rgb8")
    with pytest.raises(ValueError, match="empty"):
        image_to_numpy(empty)
    with pytest.raises(ValueError, match="needs dtype uint16"):
        numpy_to_image(rgb[:, :, 0], "16UC1")
    with pytest.raises(ValueError, match="needs shape"):
        numpy_to_image(rgb, "mono8")


def test_masks(rgb):
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    mask = grey > 120
    for encoding in ("mono8", "8UC1"):
        msg = numpy_to_image(mask.astype(np.uint8) * 255, encoding)
        np.testing.assert_array_equal(image_to_mask(msg, (37, 53)), mask)
    any_nonzero = numpy_to_image(mask.astype(np.uint8) * 3, "mono8")  # nonzero = object
    np.testing.assert_array_equal(image_to_mask(any_nonzero), mask)
    with pytest.raises(ValueError, match="mask encoding 'rgb8' is not supported: send mono8 or 8UC1"):
        image_to_mask(numpy_to_image(rgb, "rgb8"))
    with pytest.raises(ValueError, match="mask is 53x37 but the frame is 640x272"):
        image_to_mask(numpy_to_image(mask.astype(np.uint8), "mono8"), (272, 640))


def test_depth_encodings_only(rgb):
    with pytest.raises(ValueError, match="16UC1 \\(millimetres\\) or 32FC1 \\(metres\\)"):
        depth_image_to_numpy(numpy_to_image(rgb[:, :, 0].copy(), "mono8"))


def test_compressed_jpeg_and_png(bikes_frames):
    frame = bikes_frames[3]
    header = Header(frame_id="cam")
    jpeg = rgb_to_compressed(frame, "jpeg", header, quality=95)
    assert jpeg.format == "jpeg" and jpeg.header.frame_id == "cam"
    decoded = compressed_to_rgb(jpeg)
    assert decoded.shape == frame.shape
    assert np.abs(decoded.astype(int) - frame).mean() < 4.0
    png = rgb_to_compressed(frame, "png")
    np.testing.assert_array_equal(compressed_to_rgb(png), frame)
    # image_transport's format string
    png.format = "rgb8; png compressed bgr8"
    np.testing.assert_array_equal(compressed_to_rgb(png), frame)


def test_compressed_errors(bikes_frames):
    with pytest.raises(ValueError, match="no data"):
        compressed_to_rgb(CompressedImage(format="jpeg"))
    garbage = CompressedImage(format="jpeg")
    garbage.data = array.array("B", bytes(range(256)) * 4)
    with pytest.raises(ValueError, match="could not decode"):
        compressed_to_rgb(garbage)
    depth = rgb_to_compressed(bikes_frames[0], "png")
    depth.format = "16UC1; compressedDepth png"
    with pytest.raises(ValueError, match="compressed depth"):
        compressed_to_rgb(depth)
    with pytest.raises(ValueError, match="jpeg or png"):
        rgb_to_compressed(bikes_frames[0], "webp")
