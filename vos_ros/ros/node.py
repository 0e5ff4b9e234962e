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

Depth is paired with colour on arrival, whichever comes first (`_on_depth` attaches it to
the buffered frame, `_on_colour` takes one that came before), so an exact stamp always pairs.

Stopping: `main` installs its own SIGINT/SIGTERM handlers (vos_ros/ros/shutdown.py), each
signal only requests the stop and the spin loop polls for it: exit 0 however often and
whenever the signals come. Transport: `main` applies the package's Fast DDS profile
(vos_ros/ros/transport.py) before rclpy.init.

`main` spins the node in a SingleThreadedExecutor: the callbacks are short, and rclpy's
MultiThreadedExecutor busy-loops on a ready image subscription here (Fast DDS, 0.5 MB
frames: ~1500 wake-ups/s for 30 images/s), holding the GIL the worker needs between
PyTorch operations; at 30 Hz that cut one object's throughput from 30 to 8-15 frames/s
(docs/RESULTS.md). The callback groups (Reentrant input, MutuallyExclusive services and
timer) keep the node correct in a multi-threaded executor too.
"""
from __future__ import annotations

import signal
import sys
import threading
import time
from typing import Any, Callable

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_srvs.srv import Trigger

from vos_ros.msg import TrackedObjectArray
from vos_ros.srv import InitObject, RemoveObject

from ..engine.session import Segmenter
from ..runtime import configure_process
from . import depth as depth_mod
from . import shutdown, transport
from .frame_buffer import BufferedFrame, FrameBuffer, stamp_to_ns
from .image_conversions import compressed_to_rgb, image_to_rgb
from .diagnostics import DiagnosticsMixin, Stats
from .services import ServicesMixin, Tracked
from .worker import WorkerMixin
from .parameters import SPECS, apply_engine_change, declare_parameters, engine_config_from_values, validate

NODE_NAME = "vos_node"
#: the spin loop checks for a stop signal this often (s)
SPIN_POLL_S = 0.1
#: how long destroy_node waits for the frame in progress (s), within the stop grace
WORKER_JOIN_S = 3.0



class VOSNode(ServicesMixin, WorkerMixin, DiagnosticsMixin, Node):
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
        self._objects: dict[int, Tracked] = {}
        self._buffer = FrameBuffer(int(self._values["buffer_size"]))
        self._stats = Stats()
        self._mailbox = threading.Condition()
        self._pending: BufferedFrame | None = None
        self._stopping = False
        self._camera_info: CameraInfo | None = None
        self._pairer = None
        self._tracked_size: tuple[int, int] | None = None  # (h, w) the objects were initialised on

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

    def destroy_node(self) -> None:
        """Stop the worker (after the frame in progress), then destroy the node."""
        with self._mailbox:
            self._stopping = True
            self._pending = None
            self._mailbox.notify_all()
        if self._worker.is_alive() and threading.current_thread() is not self._worker:
            self._worker.join(timeout=WORKER_JOIN_S)
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
            entry.depth = self._pairer.depth_for(entry.stamp_ns)  # depth that came first
        with self._mailbox:
            replaced = self._pending is not None
            self._pending = entry
            self._mailbox.notify()
        with self._stats.lock:
            self._stats.received += 1
            self._stats.last_receipt = receipt
            self._stats.dropped += int(replaced)

    def _on_depth(self, msg: Image) -> None:
        """Queue the depth image and attach it to the buffered colour frame of the nearest
        stamp within sync_slop_s, if that one has no closer depth yet: a pair is made on
        arrival, whichever comes first, and kept with the frame until it is processed."""
        if self._pairer is None:
            return
        self._pairer.add_depth(msg)
        stamp_ns = stamp_to_ns(msg.header.stamp)
        entry = self._buffer.get(stamp_ns, tolerance_ns=int(round(float(self._values["sync_slop_s"]) * 1e9)))
        if entry is not None:
            old = entry.depth
            if old is None or abs(stamp_to_ns(old.header.stamp) - entry.stamp_ns) > abs(stamp_ns - entry.stamp_ns):
                entry.depth = msg

    def _on_camera_info(self, msg: CameraInfo) -> None:
        self._camera_info = msg

    # ------------------------------------------------------------------ parameters
    def _validate_parameters(self, params: list) -> SetParametersResult:
        for p in params:
            if p.name not in SPECS:
                continue
            reason = validate(p.name, p.value)
            if reason is None and p.name == "max_objects":
                with self._lock:
                    reason = self._segmenter.objects.check_limit(p.value)
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



def main(argv: list[str] | None = None) -> int:
    """Run vos_node until SIGINT/SIGTERM or ROS shutdown. `argv`: command line (ROS
    arguments after --ros-args), default sys.argv. Returns the exit status: 0 on a stop by
    signal (once or repeatedly, at any moment), 1 when the node cannot start.
    `--print-profile` prints the Fast DDS profile the camera side needs (docs/ROS_NODE.md)."""
    args = list(sys.argv if argv is None else argv)
    if "--print-profile" in args[:2]:
        print(transport.profile_path())
        return 0
    stop = shutdown.install()  # entry points install it earlier; here for direct callers
    transport.apply_large_data_profile()
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    node = executor = None
    try:
        if stop.requested:
            return 0
        try:
            node = VOSNode()
            configure_process(node._segmenter.config, node=True)  # threads, allocator, GIL interval
        except Exception as exc:  # invalid parameters, unknown backbone, missing weights, ...
            rclpy.logging.get_logger(NODE_NAME).fatal(f"cannot start: {type(exc).__name__}: {exc}")
            return 1
        executor = SingleThreadedExecutor()  # see the module docstring
        executor.add_node(node)
        while not stop.requested and rclpy.ok():
            executor.spin_once(timeout_sec=SPIN_POLL_S)
        if stop.requested:
            node.get_logger().info(f"stopping on {', '.join(signal.Signals(s).name for s in stop.received if s)}"
                                   if any(stop.received) else "stopping")
    except ExternalShutdownException:
        pass
    finally:
        if node is not None:
            node.destroy_node()
        if executor is not None:
            executor.shutdown(timeout_sec=1.0)
        rclpy.try_shutdown()
        stop.finished()
    return 0


if __name__ == "__main__":
    shutdown.install()
    sys.exit(main())
