"""`vos_node`: semi-supervised video object segmentation on a live camera stream.

Topics (relative to the node namespace):
  in   image                 sensor_msgs/Image (colour or grey; see image_conversions)
  in   image/compressed      sensor_msgs/CompressedImage (parameter use_compressed; the
                             topic is the resolved `image` topic + "/compressed")
  in   depth, camera_info    sensor_msgs/Image (16UC1 / 32FC1) + CameraInfo (use_depth)
  out  objects               vos_ros/TrackedObjectArray
  out  labels                sensor_msgs/Image mono8 (mono16 when an id >= 256); 0 = background
  out  masks/object_<id>     sensor_msgs/Image mono8 0/255, one per tracked object
  out  debug_image           sensor_msgs/Image rgb8 overlay (built only when subscribed or
                             publish_debug_image is true)
  out  /diagnostics          diagnostic_msgs/DiagnosticArray, 1 Hz
Services: init_object (vos_ros/InitObject), remove_object (vos_ros/RemoveObject),
reset (std_srvs/Trigger).

Threading: image callbacks only convert the image, store it in the frame buffer and put it
into a one-slot mailbox (a frame replaced there before the worker took it counts as
dropped). One worker thread segments the newest frame and publishes all results, holding
the engine lock, so latency stays bounded under bursts. Services take the same lock (init
waits for the frame in progress), so they answer while frames stream, and no message after
a successful remove_object/reset shows the removed objects.

`main` spins the node in a SingleThreadedExecutor: the callbacks are short, and rclpy's
MultiThreadedExecutor busy-loops on a ready image subscription here (Fast DDS, 0.5 MB
frames: ~1500 wake-ups/s for 30 images/s), holding the GIL the worker needs between
PyTorch operations; at 30 Hz that cut one object's throughput from 30 to 8-15 frames/s
(docs/RESULTS.md). The callback groups (Reentrant input, MutuallyExclusive services and
timer) keep the node correct in a multi-threaded executor too.
"""
from __future__ import annotations

import math
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, RegionOfInterest
from std_srvs.srv import Trigger

from vos_ros.msg import TrackedObject, TrackedObjectArray
from vos_ros.srv import InitObject, RemoveObject

from ..engine.session import Segmenter
from ..runtime import configure_process
from ..viz import draw_overlay
from . import depth as depth_mod
from .frame_buffer import BufferedFrame, FrameBuffer, format_stamp, stamp_to_ns
from .image_conversions import (compressed_to_rgb, depth_image_to_numpy, image_to_mask, image_to_rgb,
                                numpy_to_image)
from .parameters import SPECS, apply_engine_change, declare_parameters, engine_config_from_values, validate

NODE_NAME = "vos_node"
MASK_TOPIC = "masks/object_{}"
_NAN_POINT = (math.nan, math.nan, math.nan)
@dataclass
class _Tracked:
    """Node-side state of one tracked object."""

    object_id: int
    label: str
    topic: str
    publisher: Any
    init_stamp_ns: int
    age: int = 0
    frames_since_visible: int = 0


@dataclass
class _Stats:
    """Counters for /diagnostics (all under `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    received: int = 0
    processed: int = 0
    dropped: int = 0
    bad_input: int = 0
    errors: int = 0
    depth_paired: int = 0
    last_receipt: float | None = None
    latencies_ms: list = field(default_factory=list)
    processing_ms: list = field(default_factory=list)
    # values at the previous diagnostics report
    prev_time: float = field(default_factory=time.monotonic)
    prev_received: int = 0
    prev_processed: int = 0
    prev_errors: int = 0


class VOSNode(Node):
    """The segmentation node. Extra keyword arguments go to rclpy.node.Node (context,
    namespace, parameter_overrides, ...)."""

    def __init__(self, node_name: str = NODE_NAME, **kwargs: Any):
        super().__init__(node_name, **kwargs)
        try:
            self._setup()
        except BaseException:
            Node.destroy_node(self)  # nothing of ours runs yet (the worker starts last)
            raise

    def _setup(self) -> None:
        self._values = declare_parameters(self)  # ValueError on invalid enum values
        self._lock = threading.RLock()  # engine, tracked objects, mask publishers
        self._segmenter = Segmenter(engine_config_from_values(self._values))
        self._method = self._segmenter.config.method
        self._objects: dict[int, _Tracked] = {}
        self._buffer = FrameBuffer(int(self._values["buffer_size"]))
        self._stats = _Stats()
        self._mailbox = threading.Condition()
        self._pending: BufferedFrame | None = None
        self._stopping = False
        self._camera_info: CameraInfo | None = None
        self._pairer = None

        self._input_group = ReentrantCallbackGroup()
        self._service_group = MutuallyExclusiveCallbackGroup()
        self._timer_group = MutuallyExclusiveCallbackGroup()

        reliability = (ReliabilityPolicy.RELIABLE if self._values["image_qos_reliability"] == "reliable"
                       else ReliabilityPolicy.BEST_EFFORT)
        in_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=int(self._values["image_qos_depth"]),
                            reliability=reliability, durability=DurabilityPolicy.VOLATILE)
        self._image_sub = self.create_subscription(Image, "image", lambda m: self._on_colour(m, image_to_rgb),
                                                   in_qos, callback_group=self._input_group)
        self._image_topic = self._image_sub.topic_name
        self._compressed_sub = None
        if self._values["use_compressed"]:
            self._compressed_sub = self.create_subscription(
                CompressedImage, self._image_topic.rstrip("/") + "/compressed",
                lambda m: self._on_colour(m, compressed_to_rgb), in_qos, callback_group=self._input_group)
        self._depth_sub = self._info_sub = None
        if self._values["use_depth"]:
            self._pairer = depth_mod.make_pairer(float(self._values["sync_slop_s"]),
                                                 queue_size=max(5, 2 * int(self._values["image_qos_depth"])))
            self._depth_sub = self.create_subscription(Image, "depth", self._on_depth, in_qos,
                                                       callback_group=self._input_group)
            self._info_sub = self.create_subscription(CameraInfo, "camera_info", self._on_camera_info,
                                                      in_qos, callback_group=self._input_group)

        self._out_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                                   reliability=ReliabilityPolicy.RELIABLE)
        self._objects_pub = self.create_publisher(TrackedObjectArray, "objects", self._out_qos)
        self._labels_pub = self.create_publisher(Image, "labels", self._out_qos)
        self._debug_pub = self.create_publisher(Image, "debug_image", self._out_qos)
        self._diag_pub = self.create_publisher(DiagnosticArray, "/diagnostics", 10)

        self.create_service(InitObject, "init_object", self._on_init_object,
                            callback_group=self._service_group)
        self.create_service(RemoveObject, "remove_object", self._on_remove_object,
                            callback_group=self._service_group)
        self.create_service(Trigger, "reset", self._on_reset, callback_group=self._service_group)
        self._diag_timer = self.create_timer(1.0, self._publish_diagnostics, callback_group=self._timer_group)

        self.add_on_set_parameters_callback(self._validate_parameters)
        self.add_post_set_parameters_callback(self._apply_parameters)

        self._worker = threading.Thread(target=self._run_worker, name="vos_worker", daemon=True)
        self._worker.start()
        cfg = self._segmenter.config
        self.get_logger().info(
            f"ready: method {cfg.method}, backbone {cfg.backbone.name}, device {self._segmenter.device}, "
            f"resolution {cfg.resolution}, listening on {self._image_topic}"
            + (f" (+ {self._compressed_sub.topic_name})" if self._compressed_sub else "")
            + (f", depth {self._depth_sub.topic_name} + {self._info_sub.topic_name}"
               + (" (message_filters)" if self._pairer.uses_message_filters else "")
               if self._depth_sub else ""))

    # ------------------------------------------------------------------ public helpers
    @property
    def segmenter(self) -> Segmenter:
        return self._segmenter

    @property
    def frame_buffer(self) -> FrameBuffer:
        return self._buffer

    @property
    def image_topic(self) -> str:
        return self._image_topic

    def tracked_ids(self) -> list[int]:
        with self._lock:
            return sorted(self._objects)

    def statistics(self) -> dict[str, int]:
        """Counters since start: received, processed, dropped, bad_input, errors, depth_paired."""
        s = self._stats
        with s.lock:
            return {"received": s.received, "processed": s.processed, "dropped": s.dropped,
                    "bad_input": s.bad_input, "errors": s.errors, "depth_paired": s.depth_paired}

    def destroy_node(self) -> None:
        """Stop the worker (after the frame in progress), then destroy the node."""
        with self._mailbox:
            self._stopping = True
            self._pending = None
            self._mailbox.notify_all()
        if self._worker.is_alive() and threading.current_thread() is not self._worker:
            self._worker.join(timeout=10.0)
        super().destroy_node()

    # ------------------------------------------------------------------ input callbacks
    def _on_colour(self, msg: Image | CompressedImage, convert: Callable[[Any], np.ndarray]) -> None:
        """A colour frame, raw or compressed: convert it, buffer it and wake the worker."""
        receipt = time.monotonic()
        try:
            rgb = convert(msg)
        except ValueError as exc:
            self._count(bad_input=1)
            what = "compressed image" if isinstance(msg, CompressedImage) else f"image on {self._image_topic}"
            self.get_logger().error(f"dropping {what}: {exc}", throttle_duration_sec=5.0)
            return
        entry = self._buffer.add(stamp_to_ns(msg.header.stamp), rgb, msg.header, receipt_time=receipt)
        if self._pairer is not None:
            self._pairer.add_colour(msg)
        with self._mailbox:
            replaced = self._pending is not None
            self._pending = entry
            self._mailbox.notify()
        with self._stats.lock:
            self._stats.received += 1
            self._stats.last_receipt = receipt
            self._stats.dropped += int(replaced)

    def _on_depth(self, msg: Image) -> None:
        if self._pairer is not None:
            self._pairer.add_depth(msg)

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    def _count(self, **increments: int) -> None:
        with self._stats.lock:
            for key, inc in increments.items():
                setattr(self._stats, key, getattr(self._stats, key) + inc)

    # ------------------------------------------------------------------ worker
    def _run_worker(self) -> None:
        while True:
            with self._mailbox:
                while self._pending is None and not self._stopping:
                    self._mailbox.wait()
                if self._stopping:
                    return
                entry, self._pending = self._pending, None
            try:
                self._process(entry)
            except Exception as exc:  # keep the node alive; report
                self._count(errors=1)
                if self._stopping:
                    return
                self.get_logger().error(f"processing frame {format_stamp(entry.stamp_ns)} failed: "
                                        f"{type(exc).__name__}: {exc}", throttle_duration_sec=5.0)

    def _process(self, entry: BufferedFrame) -> None:
        with self._lock:
            if self._stopping:
                return
            start = time.monotonic()
            try:
                result = self._segmenter.step(entry.frame)
            except ValueError as exc:  # e.g. the camera changed resolution while tracking
                self._count(errors=1)
                self.get_logger().error(f"cannot segment frame {format_stamp(entry.stamp_ns)}: {exc}",
                                        throttle_duration_sec=5.0)
                return
            processing_ms = (time.monotonic() - start) * 1000.0
            header = entry.header
            ids = sorted(self._objects)
            positions = self._positions(entry, result) if self._depth_sub is not None else {}

            out = TrackedObjectArray()
            out.header = header
            out.method = self._method
            for object_id in ids:
                state = self._objects[object_id]
                res = result.objects.get(object_id)
                state.age += 1
                visible = bool(res is not None and res.visible)
                state.frames_since_visible = 0 if visible else state.frames_since_visible + 1
                out.objects.append(self._object_msg(state, res, positions.get(object_id)))
                mask = res.mask if res is not None else np.zeros(entry.frame.shape[:2], bool)
                state.publisher.publish(numpy_to_image(mask.astype(np.uint8) * 255, "mono8", header))

            max_id = max(ids, default=0)
            labels = result.labels
            self._labels_pub.publish(
                numpy_to_image(labels.astype(np.uint8), "mono8", header) if max_id < 256
                else numpy_to_image(labels.astype(np.uint16), "mono16", header))
            if self._values["publish_debug_image"] or self._debug_pub.get_subscription_count() > 0:
                self._debug_pub.publish(numpy_to_image(
                    self._overlay(entry.frame, result, ids), "rgb8", header))
            latency_ms = (time.monotonic() - entry.receipt_time) * 1000.0
            out.latency_ms = float(latency_ms)
            self._objects_pub.publish(out)
        with self._stats.lock:
            s = self._stats
            s.processed += 1
            s.latencies_ms.append(latency_ms)
            s.processing_ms.append(processing_ms)
            if len(s.latencies_ms) > 1000:
                del s.latencies_ms[:500], s.processing_ms[:500]

    def _object_msg(self, state: _Tracked, res: Any, estimate: depth_mod.DepthEstimate | None) -> TrackedObject:
        msg = TrackedObject()
        msg.id = state.object_id
        msg.label = state.label
        msg.mask_topic = state.topic
        msg.age = state.age
        msg.frames_since_visible = state.frames_since_visible
        msg.score = float(res.score) if res is not None else 0.0
        msg.visible = bool(res is not None and res.visible)
        if msg.visible and res.box is not None:
            x, y, w, h = (int(v) for v in res.box)
            msg.bbox = RegionOfInterest(x_offset=x, y_offset=y, width=w, height=h, do_rectify=False)
            msg.area = int(res.area)
            cx, cy = res.centroid
            msg.centroid = Point(x=float(cx), y=float(cy), z=0.0)
        est = estimate if (msg.visible and estimate is not None) else depth_mod.DepthEstimate()
        px, py, pz = est.position if est.valid else _NAN_POINT
        msg.position = Point(x=float(px), y=float(py), z=float(pz))
        msg.depth_samples = int(est.samples) if est.valid else 0
        msg.depth_spread = float(est.spread) if est.valid else math.nan
        return msg

    def _positions(self, entry: BufferedFrame, result: Any) -> dict[int, depth_mod.DepthEstimate]:
        visible = {i: r for i, r in result.objects.items() if r.visible}
        if not visible or self._pairer is None:
            return {}
        depth_msg = self._pairer.depth_for(entry.stamp_ns)
        if depth_msg is None:
            self.get_logger().warning(
                f"no depth image within {self._values['sync_slop_s']} s of frame "
                f"{format_stamp(entry.stamp_ns)} on {self._depth_sub.topic_name}: positions unknown",
                throttle_duration_sec=10.0)
            return {}
        info = self._camera_info
        if info is None:
            self.get_logger().warning(f"no camera_info received on {self._info_sub.topic_name}: "
                                   "positions unknown", throttle_duration_sec=10.0)
            return {}
        entry.depth = depth_msg
        size = entry.frame.shape[:2]
        try:
            depth_m = depth_mod.depth_to_metres(depth_image_to_numpy(depth_msg), float(self._values["depth_scale"]))
            depth_m = depth_mod.match_size(depth_m, size)
            intr = depth_mod.intrinsics_from_camera_info(info, size)
        except ValueError as exc:
            self.get_logger().error(f"depth not used: {exc}", throttle_duration_sec=10.0)
            return {}
        self._count(depth_paired=1)
        return {i: depth_mod.estimate_position(depth_m, r.mask, intr, int(self._values["depth_erode_px"]),
                                               self._values["depth_position"],
                                               int(self._values["depth_min_samples"]))
                for i, r in visible.items()}

    def _overlay(self, frame: np.ndarray, result: Any, ids: list[int]) -> np.ndarray:
        shown = {i: result.objects[i] for i in ids if i in result.objects}
        captions = {}
        for object_id, res in shown.items():
            label = self._objects[object_id].label
            captions[object_id] = f"{object_id}{' ' + label if label else ''} {res.score:.2f}"
        return draw_overlay(frame, shown, captions)

    # ------------------------------------------------------------------ services
    def _on_init_object(self, request: InitObject.Request, response: InitObject.Response) -> InitObject.Response:
        response.success, response.object_id = False, 0
        try:
            response.message = self._init_object(request, response)
        except Exception as exc:  # an engine failure must not take the executor down
            response.success, response.object_id = False, 0
            response.message = f"internal error, object not added: {type(exc).__name__}: {exc}"
            self.get_logger().error(f"init_object: {response.message}")
        return response

    def _init_object(self, request: InitObject.Request, response: InitObject.Response) -> str:
        if self._buffer.latest() is None:
            return f"no image received yet on {self._image_topic}"
        stamp_ns = stamp_to_ns(request.stamp)
        entry = self._buffer.get(stamp_ns)
        if entry is None:
            return (f"no frame with stamp {format_stamp(stamp_ns)} in the frame buffer ("
                    f"{self._buffer.describe()}); send a stamp in that range, or zero for the latest frame")
        height, width = entry.frame.shape[:2]
        mask = box = None
        m = request.mask
        if m.width > 0 or m.height > 0 or len(m.data) > 0:
            try:
                mask = image_to_mask(m, (height, width))
            except ValueError as exc:
                return f"invalid mask: {exc}"
            source = "mask"
        else:
            b = request.box
            if b.width == 0 and b.height == 0:
                return ("both mask and box are empty: send a mono8 mask of the frame's size "
                        f"({width}x{height}, nonzero = object) or a box with width and height > 0")
            box = (int(b.x_offset), int(b.y_offset), int(b.width), int(b.height))
            source = f"box {box}"
        with self._lock:
            object_id = int(request.object_id) or self._next_free_id()
            limit = self._segmenter.config.max_objects
            if object_id not in self._objects and len(self._objects) >= limit:
                return (f"already tracking the maximum of {limit} objects (parameter max_objects): "
                        f"remove one first; tracking {sorted(self._objects)}")
            try:
                initial = self._segmenter.add_object(object_id, entry.frame, mask=mask, box=box)
            except ValueError as exc:
                return f"object not added: {exc}"
            state = self._objects.get(object_id)
            if state is None:
                topic = MASK_TOPIC.format(object_id)
                publisher = self.create_publisher(Image, topic, self._out_qos)
                state = self._objects[object_id] = _Tracked(object_id, request.label, topic, publisher, entry.stamp_ns)
                verb = "tracking"
            else:
                state.label, state.init_stamp_ns = request.label, entry.stamp_ns
                state.age = state.frames_since_visible = 0
                verb = "re-initialised"
        response.success, response.object_id = True, object_id
        return (f"{verb} object {object_id}{f' ({request.label})' if request.label else ''} from its "
                f"{source} on frame {format_stamp(entry.stamp_ns)} (initial area {initial.area} px); "
                f"masks on {state.publisher.topic_name}")

    def _next_free_id(self) -> int:
        object_id = 1
        while object_id in self._objects:
            object_id += 1
        return object_id

    def _on_remove_object(self, request: RemoveObject.Request,
                          response: RemoveObject.Response) -> RemoveObject.Response:
        object_id = int(request.object_id)
        with self._lock:
            if object_id not in self._objects:
                response.success = False
                response.message = (f"unknown object id {object_id}; tracking "
                                    f"{sorted(self._objects) if self._objects else 'no objects'}")
                return response
            self._segmenter.remove_object(object_id)
            state = self._objects.pop(object_id)
            self.destroy_publisher(state.publisher)
            left = sorted(self._objects)
        response.success = True
        response.message = f"removed object {object_id}; tracking {left if left else 'no objects'}"
        return response

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self._lock:
            removed = sorted(self._objects)
            self._segmenter.reset()
            for state in self._objects.values():
                self.destroy_publisher(state.publisher)
            self._objects.clear()
        response.success = True
        response.message = f"reset: removed {len(removed)} object(s) {removed}"
        return response

    # ------------------------------------------------------------------ parameters
    def _validate_parameters(self, params: list) -> SetParametersResult:
        for p in params:
            if p.name not in SPECS:
                continue
            reason = validate(p.name, p.value)
            if reason is None and p.name == "max_objects":
                with self._lock:
                    n = len(self._objects)
                if p.value < n:
                    reason = f"max_objects {p.value} is below the {n} objects tracked now; remove some first"
            if reason is not None:
                return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    def _apply_parameters(self, params: list) -> None:
        with self._lock:
            for p in params:
                spec = SPECS.get(p.name)
                if spec is None:
                    continue
                self._values[p.name] = p.value
                if spec.engine_key is not None:
                    apply_engine_change(self._segmenter, p.name, p.value)
                elif p.name == "buffer_size":
                    self._buffer.resize(int(p.value))
                elif p.name == "sync_slop_s" and self._pairer is not None:
                    self._pairer.slop_s = float(p.value)
                self.get_logger().info(f"parameter {p.name} = {p.value!r}")

    # ------------------------------------------------------------------ diagnostics
    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        s = self._stats
        with s.lock:
            dt = max(1e-6, now - s.prev_time)
            input_rate = (s.received - s.prev_received) / dt
            processing_rate = (s.processed - s.prev_processed) / dt
            new_errors = s.errors - s.prev_errors
            lat = s.latencies_ms[:]
            proc = s.processing_ms[:]
            s.latencies_ms.clear()
            s.processing_ms.clear()
            s.prev_time, s.prev_received, s.prev_processed, s.prev_errors = now, s.received, s.processed, s.errors
            counts = (s.received, s.processed, s.dropped, s.bad_input, s.errors, s.depth_paired)
            last_receipt = s.last_receipt
        n_objects = len(self._objects)  # a snapshot; waiting for the frame in progress would stall
        level, message = DiagnosticStatus.OK, "ok"
        if last_receipt is None:
            level, message = DiagnosticStatus.WARN, f"no image received yet on {self._image_topic}"
        elif now - last_receipt > 3.0:
            level, message = DiagnosticStatus.WARN, f"no image for {now - last_receipt:.1f} s on {self._image_topic}"
        elif new_errors:
            level, message = DiagnosticStatus.WARN, f"{new_errors} frame(s) failed in the last {dt:.1f} s"
        status = DiagnosticStatus(level=level, name=f"{self.get_fully_qualified_name()}: segmentation",
                                  message=message, hardware_id=str(self._segmenter.device))
        values = {
            "input_rate_hz": f"{input_rate:.2f}",
            "processing_rate_hz": f"{processing_rate:.2f}",
            "latency_ms_mean": f"{np.mean(lat):.1f}" if lat else "nan",
            "latency_ms_max": f"{np.max(lat):.1f}" if lat else "nan",
            "processing_ms_mean": f"{np.mean(proc):.1f}" if proc else "nan",
            "frames_received": str(counts[0]),
            "frames_processed": str(counts[1]),
            "dropped_frames": str(counts[2]),
            "bad_input_frames": str(counts[3]),
            "processing_errors": str(counts[4]),
            "depth_paired_frames": str(counts[5]),
            "objects": str(n_objects),
            "device": str(self._segmenter.device),
            "method": self._method,
            "resolution": str(self._segmenter.config.resolution),
        }
        status.values = [KeyValue(key=k, value=v) for k, v in values.items()]
        msg = DiagnosticArray()
        msg.header.stamp = self.get_clock().now().to_msg()
        msg.status = [status]
        self._diag_pub.publish(msg)


def main(argv: list[str] | None = None) -> int:
    """Run vos_node until SIGINT/SIGTERM or ROS shutdown. `argv`: command line (ROS
    arguments after --ros-args), default sys.argv. Returns the exit status."""
    rclpy.init(args=argv)
    node = executor = None
    status = 0
    try:
        try:
            node = VOSNode()
            configure_process(node._segmenter.config, node=True)  # threads, allocator, GIL interval
        except Exception as exc:  # invalid parameters, unknown backbone, missing weights, ...
            rclpy.logging.get_logger(NODE_NAME).fatal(f"cannot start: {type(exc).__name__}: {exc}")
            return 1
        executor = SingleThreadedExecutor()  # see the module docstring
        executor.add_node(node)
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if executor is not None:
            executor.shutdown(timeout_sec=5.0)
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return status


if __name__ == "__main__":
    sys.exit(main())
