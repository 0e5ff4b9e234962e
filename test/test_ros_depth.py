"""3D positions from depth: known planes through a known camera, 16UC1 mm and 32FC1 m,
invalid samples (NaN, 0, inf), erosion at depth edges, size mismatches, camera_info at
another resolution, and stamp pairing of depth with colour."""
from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from sensor_msgs.msg import CameraInfo

from vos_ros.ros.depth import (ApproximateSyncPairer, DepthEstimate, Intrinsics, StampPairer, depth_to_metres,
                               estimate_position, intrinsics_from_camera_info, make_pairer, match_size)
from vos_ros.ros.image_conversions import depth_image_to_numpy, numpy_to_image

W, H = 640, 480
FX, FY, CX, CY = 525.0, 520.0, 319.5, 239.5


def camera_info(width: int = W, height: int = H, scale: float = 1.0) -> CameraInfo:
    info = CameraInfo(width=int(width), height=int(height))
    info.k = [FX * scale, 0.0, (CX + 0.5) * scale - 0.5, 0.0, FY * scale, (CY + 0.5) * scale - 0.5, 0.0, 0.0, 1.0]
    return info


def box_mask(y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[y0:y1, x0:x1] = True
    return mask


def expected_at_centroid(mask: np.ndarray, z: float) -> tuple[float, float, float]:
    ys, xs = np.nonzero(mask)
    return ((xs.mean() - CX) * z / FX, (ys.mean() - CY) * z / FY, z)


@pytest.mark.parametrize("mode", ["centroid", "median"])
def test_plane_16uc1_millimetres(mode):
    depth = np.full((H, W), 1500, np.uint16)  # a wall 1.5 m away
    msg = numpy_to_image(depth, "16UC1")
    depth_m = depth_to_metres(depth_image_to_numpy(msg), 0.001)
    mask = box_mask(200, 260, 400, 480)
    est = estimate_position(depth_m, mask, intrinsics_from_camera_info(camera_info()), erode_px=2, mode=mode)
    assert est.valid
    np.testing.assert_allclose(est.position, expected_at_centroid(mask, 1.5), atol=2e-3)
    # by hand: centroid (439.5, 229.5) px -> x = 120 px * 1.5 m / 525 px, y = -10 px * 1.5 m / 520 px
    np.testing.assert_allclose(est.position, (0.342857, -0.028846, 1.5), atol=1e-5)
    assert est.spread == pytest.approx(0.0, abs=1e-6)
    assert est.samples == 56 * 76  # eroded by 2 px on each side


def test_plane_32fc1_metres_and_spread_of_a_tilted_plane():
    us = np.arange(W, dtype=np.float32)
    depth = np.broadcast_to(1.0 + 0.002 * us, (H, W)).astype(np.float32)  # tilted: 1 m .. 2.28 m
    mask = box_mask(100, 300, 100, 300)
    est = estimate_position(depth_to_metres(depth), mask, Intrinsics(FX, FY, CX, CY), erode_px=0)
    z = depth[mask]
    assert est.samples == mask.sum()
    assert est.position[2] == pytest.approx(float(np.median(z)), abs=1e-5)
    q25, q75 = np.percentile(z, [25, 75])
    assert est.spread == pytest.approx(q75 - q25, abs=1e-5)
    assert est.spread == pytest.approx(0.2, abs=0.01)  # half of the 200 px span x 0.002 m/px
    median = estimate_position(depth_to_metres(depth), mask, Intrinsics(FX, FY, CX, CY), erode_px=0, mode="median")
    xs = (np.nonzero(mask)[1] - CX) * z / FX
    assert median.position[0] == pytest.approx(float(np.median(xs)), abs=1e-4)


def test_invalid_samples_are_ignored():
    depth = np.full((H, W), 2000, np.uint16)
    mask = box_mask(100, 200, 100, 200)
    depth[100:150, 100:200] = 0  # half the object: no return
    est = estimate_position(depth_to_metres(depth), mask, Intrinsics(FX, FY, CX, CY), erode_px=0)
    assert est.samples == 50 * 100 and est.position[2] == pytest.approx(2.0)
    # centroid mode: x/y come from the whole mask's centroid, z from the valid samples
    np.testing.assert_allclose(est.position, expected_at_centroid(mask, 2.0), atol=1e-6)

    f = np.full((H, W), 0.8, np.float32)
    f[100:120, 100:200] = np.nan
    f[120:130, 100:200] = np.inf
    f[130:135, 100:200] = -1.0
    f[135:140, 100:200] = 0.0
    est = estimate_position(depth_to_metres(f), mask, Intrinsics(FX, FY, CX, CY), erode_px=0)
    assert est.samples == 60 * 100 and est.position[2] == pytest.approx(0.8)


def test_all_nan_in_mask_gives_unknown_position():
    depth = np.full((H, W), np.nan, np.float32)
    est = estimate_position(depth_to_metres(depth), box_mask(10, 50, 10, 50), Intrinsics(FX, FY, CX, CY))
    assert not est.valid and est.samples == 0
    assert all(math.isnan(v) for v in est.position) and math.isnan(est.spread)
    # no camera model or an empty mask: unknown too
    ok = depth_to_metres(np.full((H, W), 1000, np.uint16))
    assert estimate_position(ok, box_mask(10, 50, 10, 50), None) == DepthEstimate()
    assert not estimate_position(ok, np.zeros((H, W), bool), Intrinsics(FX, FY, CX, CY)).valid
    # fewer valid samples than required
    sparse = np.full((H, W), np.nan, np.float32)
    sparse[20, 20:25] = 1.0
    assert not estimate_position(sparse, box_mask(10, 50, 10, 50), Intrinsics(FX, FY, CX, CY),
                                 min_samples=10).valid
    assert estimate_position(sparse, box_mask(10, 50, 10, 50), Intrinsics(FX, FY, CX, CY),
                             min_samples=5).samples == 5


def test_erosion_removes_background_seen_at_the_mask_border():
    depth = np.full((H, W), 3.0, np.float32)  # background at 3 m
    depth[200:240, 300:340] = 1.0  # a 40x40 px object at 1 m
    mask = box_mask(196, 244, 296, 344)  # a mask 4 px too large on each side
    rough = estimate_position(depth, mask, Intrinsics(FX, FY, CX, CY), erode_px=0)
    eroded = estimate_position(depth, mask, Intrinsics(FX, FY, CX, CY), erode_px=5)
    assert rough.spread > 1.0  # 30 % of the samples are background
    assert eroded.position[2] == pytest.approx(1.0) and eroded.spread == pytest.approx(0.0)
    # a thin object vanishes under erosion: the whole mask is used instead
    thin = box_mask(200, 203, 300, 340)
    est = estimate_position(depth, thin, Intrinsics(FX, FY, CX, CY), erode_px=5)
    assert est.samples == 3 * 40 and est.position[2] == pytest.approx(1.0)


def test_depth_of_another_size():
    small = np.full((H // 2, W // 2), 1200, np.uint16)
    resized = match_size(depth_to_metres(small), (H, W))
    assert resized.shape == (H, W) and np.allclose(resized, 1.2)
    with pytest.raises(ValueError, match="different aspect ratio.*registered to the colour camera"):
        match_size(depth_to_metres(np.full((480, 480), 1000, np.uint16)), (H, W))
    same = depth_to_metres(np.full((H, W), 1000, np.uint16))
    assert match_size(same, (H, W)) is same


def test_camera_info_of_another_resolution_is_scaled():
    full = intrinsics_from_camera_info(camera_info(W * 2, H * 2, scale=2.0), (H, W))
    assert full.fx == pytest.approx(FX) and full.fy == pytest.approx(FY)
    assert full.cx == pytest.approx(CX) and full.cy == pytest.approx(CY)
    assert intrinsics_from_camera_info(camera_info(), (H, W)) == Intrinsics(FX, FY, CX, CY)
    with pytest.raises(ValueError, match="uncalibrated"):
        intrinsics_from_camera_info(CameraInfo(width=W, height=H), (H, W))


def test_depth_conversion_errors():
    with pytest.raises(ValueError, match="uint16 \\(16UC1\\) or float32 \\(32FC1\\)"):
        depth_to_metres(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="scale must be > 0"):
        depth_to_metres(np.zeros((4, 4), np.uint16), 0.0)
    with pytest.raises(ValueError, match="position mode"):
        estimate_position(np.ones((4, 4), np.float32), np.ones((4, 4), bool), Intrinsics(1, 1, 0, 0), mode="mean")
    with pytest.raises(ValueError, match="differ in size"):
        estimate_position(np.ones((4, 4), np.float32), np.ones((5, 4), bool), Intrinsics(1, 1, 0, 0))


class _Stamped:
    def __init__(self, ns: int):
        self.header = type("H", (), {})()
        self.header.stamp = Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def test_stamp_pairer_nearest_within_slop():
    pairer = StampPairer(slop_s=0.01, queue_size=4)
    depths = [_Stamped(1_000_000_000 + i * 33_000_000) for i in range(6)]
    for d in depths:
        pairer.add_depth(d)
    assert pairer.depth_for(1_000_000_000 + 5 * 33_000_000 + 4_000_000) is depths[5]
    assert pairer.depth_for(1_000_000_000 + 4 * 33_000_000 - 9_000_000) is depths[4]
    assert pairer.depth_for(1_000_000_000 + 4 * 33_000_000 + 16_000_000) is None  # between frames
    assert pairer.depth_for(1_000_000_000) is None  # evicted (queue of 4)
    pairer.slop_s = 0.02
    assert pairer.depth_for(1_000_000_000 + 4 * 33_000_000 + 16_000_000) is depths[4]
    pairer.clear()
    assert pairer.depth_for(1_000_000_000 + 5 * 33_000_000) is None


def test_make_pairer_falls_back_without_message_filters():
    pairer = make_pairer(0.02, 5)
    has_mf = importlib.util.find_spec("message_filters") is not None
    assert isinstance(pairer, ApproximateSyncPairer if has_mf else StampPairer)
    assert isinstance(make_pairer(0.02, 5, use_message_filters=False), StampPairer)


def test_approximate_sync_pairer():
    pytest.importorskip("message_filters", reason="message_filters is not installed here (optional)")
    pairer = ApproximateSyncPairer(slop_s=0.01, queue_size=5)
    colour = [_Stamped(2_000_000_000 + i * 33_000_000) for i in range(3)]
    depth = [_Stamped(2_000_000_000 + i * 33_000_000 + 3_000_000) for i in range(3)]
    for c, d in zip(colour, depth):
        pairer.add_colour(c)
        pairer.add_depth(d)
    for i, c in enumerate(colour):
        assert pairer.depth_for(2_000_000_000 + i * 33_000_000) is depth[i]
