"""3D object positions from a depth image registered to the colour camera.

Depth input: 16UC1 (integer units, `scale` metres per unit, 0.001 for millimetres) or 32FC1
(metres). 0, NaN, inf and negative values are invalid. A depth image of another size than
the colour image is resized (nearest neighbour) when the aspect ratios agree, and rejected
otherwise (it is then not registered to the colour camera).

Position of an object: the median of the valid depth samples inside its mask (optionally
eroded first, so that background seen through the mask's border does not count),
back-projected through the pinhole intrinsics K = [fx 0 cx; 0 fy cy; 0 0 1] of
camera_info, either at the mask centroid ("centroid") or as the per-axis median of all
back-projected samples ("median"). The spread is the interquartile range of the samples.

Also here: pairing of depth images with colour images by stamp (message_filters'
ApproximateTimeSynchronizer when installed, else a small nearest-stamp matcher).
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from .frame_buffer import stamp_to_ns

POSITION_MODES = ("centroid", "median")
NAN3 = (math.nan, math.nan, math.nan)


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels of one image size."""

    fx: float
    fy: float
    cx: float
    cy: float

    def scaled(self, sx: float, sy: float) -> "Intrinsics":
        """For an image resized by (sx, sy) (pixel centres stay at +0.5)."""
        return Intrinsics(self.fx * sx, self.fy * sy, (self.cx + 0.5) * sx - 0.5,
                          (self.cy + 0.5) * sy - 0.5)


@dataclass(frozen=True)
class DepthEstimate:
    """position: (x, y, z) metres in the camera optical frame, NaN when unknown;
    samples: valid depth samples used (0 when unknown); spread: IQR of depth (m) or NaN."""

    position: tuple[float, float, float] = NAN3
    samples: int = 0
    spread: float = math.nan

    @property
    def valid(self) -> bool:
        return self.samples > 0 and all(math.isfinite(v) for v in self.position)


def intrinsics_from_camera_info(info: Any, image_size: tuple[int, int] | None = None) -> Intrinsics:
    """Intrinsics from a sensor_msgs/CameraInfo (field `k`, row-major 3x3), scaled to
    `image_size` (height, width) when camera_info describes another resolution."""
    k = [float(v) for v in info.k]
    if len(k) != 9:
        raise ValueError(f"camera_info.k must have 9 entries, got {len(k)}")
    fx, fy, cx, cy = k[0], k[4], k[2], k[5]
    if not (fx > 0 and fy > 0 and all(math.isfinite(v) for v in (fx, fy, cx, cy))):
        raise ValueError(f"camera_info is uncalibrated (fx={fx}, fy={fy}): K must have fx, fy > 0")
    intr = Intrinsics(fx, fy, cx, cy)
    if image_size is not None and info.width > 0 and info.height > 0:
        height, width = image_size
        if (int(info.height), int(info.width)) != (height, width):
            intr = intr.scaled(width / info.width, height / info.height)
    return intr


def depth_to_metres(depth: np.ndarray, scale: float = 0.001) -> np.ndarray:
    """(H, W) float32 metres with NaN where invalid. uint16 input is multiplied by `scale`
    (0 = invalid); float input is taken as metres (NaN, inf, <= 0 invalid)."""
    depth = np.asarray(depth)
    if depth.ndim == 3 and depth.shape[2] == 1:
        depth = depth[:, :, 0]
    if depth.ndim != 2:
        raise ValueError(f"depth must be (H, W), got shape {depth.shape}")
    if depth.dtype == np.uint16:
        if not scale > 0:
            raise ValueError(f"depth scale must be > 0, got {scale}")
        out = depth.astype(np.float32) * np.float32(scale)
        out[depth == 0] = np.nan
        return out
    if depth.dtype.kind == "f":
        out = depth.astype(np.float32, copy=True)
        out[~np.isfinite(out) | (out <= 0)] = np.nan
        return out
    raise ValueError(f"depth must be uint16 (16UC1) or float32 (32FC1), got {depth.dtype}")


def match_size(depth_m: np.ndarray, size: tuple[int, int], max_aspect_error: float = 0.02) -> np.ndarray:
    """`depth_m` at `size` (height, width): unchanged, resized with nearest neighbour when
    only the resolution differs, ValueError when the aspect ratio differs."""
    height, width = size
    dh, dw = depth_m.shape[:2]
    if (dh, dw) == (height, width):
        return depth_m
    if abs((dw / dh) / (width / height) - 1.0) > max_aspect_error:
        raise ValueError(f"depth image is {dw}x{dh} but the colour image is {width}x{height} "
                         "(different aspect ratio): publish depth registered to the colour camera")
    return cv2.resize(depth_m, (width, height), interpolation=cv2.INTER_NEAREST)


def estimate_position(depth_m: np.ndarray, mask: np.ndarray, intrinsics: Intrinsics | None,
                      erode_px: int = 2, mode: str = "centroid", min_samples: int = 1) -> DepthEstimate:
    """Position of the object in `mask` (bool, same size as `depth_m`, metres with NaN)."""
    if mode not in POSITION_MODES:
        raise ValueError(f"position mode must be one of {POSITION_MODES}, got {mode!r}")
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != depth_m.shape[:2]:
        raise ValueError(f"mask {mask.shape[1]}x{mask.shape[0]} and depth "
                         f"{depth_m.shape[1]}x{depth_m.shape[0]} differ in size")
    if intrinsics is None or not mask.any():
        return DepthEstimate()
    valid = np.isfinite(depth_m)
    region = mask
    if erode_px > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * erode_px + 1, 2 * erode_px + 1))
        eroded = cv2.erode(mask.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT,
                           borderValue=0).astype(bool)
        if np.count_nonzero(eroded & valid) >= max(1, min_samples):
            region = eroded  # else: thin object, use the whole mask
    sel = region & valid
    n = int(np.count_nonzero(sel))
    if n < max(1, min_samples):
        return DepthEstimate()
    vs, us = np.nonzero(sel)
    z = depth_m[vs, us].astype(np.float64)
    z_med = float(np.median(z))
    q25, q75 = np.percentile(z, [25.0, 75.0])
    fx, fy, cx, cy = intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy
    if mode == "centroid":
        ys, xs = np.nonzero(mask)
        u, v = float(xs.mean()), float(ys.mean())
        position = ((u - cx) * z_med / fx, (v - cy) * z_med / fy, z_med)
    else:
        x = (us - cx) * z / fx
        y = (vs - cy) * z / fy
        position = (float(np.median(x)), float(np.median(y)), z_med)
    return DepthEstimate(tuple(float(p) for p in position), n, float(q75 - q25))


# --------------------------------------------------------------------------- pairing
class StampPairer:
    """Pairs each colour stamp with the depth image of the nearest stamp within `slop_s`.

    Depth messages are kept in a short queue; `depth_for` is asked when a colour frame is
    processed (after segmentation, so a depth image arriving a little later than its
    colour image is still found)."""

    uses_message_filters = False

    def __init__(self, slop_s: float = 0.05, queue_size: int = 10):
        self.slop_s = float(slop_s)
        self._queue: deque[tuple[int, Any]] = deque(maxlen=max(1, int(queue_size)))
        self._lock = threading.Lock()

    def add_colour(self, msg: Any) -> None:  # the stamp is all we need, given at lookup
        pass

    def add_depth(self, msg: Any) -> None:
        with self._lock:
            self._queue.append((stamp_to_ns(msg.header.stamp), msg))

    def depth_for(self, stamp_ns: int) -> Any | None:
        slop_ns = int(round(self.slop_s * 1e9))
        best, best_dt = None, None
        with self._lock:
            for depth_ns, msg in reversed(self._queue):
                dt = abs(depth_ns - stamp_ns)
                if dt <= slop_ns and (best_dt is None or dt < best_dt):
                    best, best_dt = msg, dt
        return best

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()


class ApproximateSyncPairer:
    """The same interface on top of message_filters.ApproximateTimeSynchronizer (fed from
    the node's own subscriptions through two SimpleFilters)."""

    uses_message_filters = True

    def __init__(self, slop_s: float = 0.05, queue_size: int = 10):
        import message_filters  # ImportError when not installed: use StampPairer

        self._colour = message_filters.SimpleFilter()
        self._depth = message_filters.SimpleFilter()
        self._sync = message_filters.ApproximateTimeSynchronizer(
            [self._colour, self._depth], max(1, int(queue_size)), float(slop_s))
        self._sync.registerCallback(self._paired)
        self._pairs: OrderedDict[int, Any] = OrderedDict()
        self._keep = max(1, int(queue_size)) * 2
        self._slop_s = float(slop_s)
        self._lock = threading.Lock()

    @property
    def slop_s(self) -> float:
        return self._slop_s

    @slop_s.setter
    def slop_s(self, value: float) -> None:
        from rclpy.duration import Duration

        self._slop_s = float(value)
        self._sync.slop = Duration(seconds=float(value))

    def add_colour(self, msg: Any) -> None:
        self._colour.signalMessage(msg)

    def add_depth(self, msg: Any) -> None:
        self._depth.signalMessage(msg)

    def _paired(self, colour: Any, depth: Any) -> None:
        with self._lock:
            self._pairs[stamp_to_ns(colour.header.stamp)] = depth
            while len(self._pairs) > self._keep:
                self._pairs.popitem(last=False)

    def depth_for(self, stamp_ns: int) -> Any | None:
        with self._lock:
            return self._pairs.get(int(stamp_ns))

    def clear(self) -> None:
        with self._lock:
            self._pairs.clear()


def make_pairer(slop_s: float = 0.05, queue_size: int = 10, use_message_filters: bool = True):
    """ApproximateSyncPairer when message_filters is importable (and wanted), else StampPairer."""
    if use_message_filters:
        try:
            return ApproximateSyncPairer(slop_s, queue_size)
        except ImportError:
            pass
    return StampPairer(slop_s, queue_size)
