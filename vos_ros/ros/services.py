"""The services of `vos_node`: init_object, remove_object, reset; every answer is logged.

`ServicesMixin` is one part of `VOSNode` (vos_ros/ros/node.py holds the wiring); it uses
the node's `_lock`, `_segmenter`, `_objects`, `_buffer`, `_values`, `_tracked_size`, the
image subscriptions and `_out_qos`.
"""
from __future__ import annotations

import ctypes
import time
from dataclasses import dataclass
from typing import Any

from rclpy.exceptions import InvalidHandle
from sensor_msgs.msg import Image
from std_srvs.srv import Trigger

from vos_ros.srv import InitObject, RemoveObject

from . import messages
from .frame_buffer import format_stamp, stamp_to_ns
from .image_conversions import image_to_mask

#: init_object's wait for a frame in transit polls the image subscriptions this often (s)
TAKE_POLL_S = 0.005


def release_freed_memory() -> bool:
    """Give the heap memory freed by removed objects back to the system (glibc malloc_trim;
    the engine makes glibc keep freed memory otherwise, see docs/ROS_NODE.md). Measured at
    640x480, resolution 480: 16 objects 1714 MB RSS, 15 removed 1714 MB, trimmed 501 MB.
    False where there is no glibc."""
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim
        except (OSError, AttributeError):
            _LIBC = False
    return bool(_LIBC) and bool(_LIBC.malloc_trim(0))


_LIBC: Any = None


@dataclass
class Tracked:
    """Node-side state of one tracked object."""

    object_id: int
    label: str
    topic: str
    publisher: Any
    init_stamp_ns: int
    age: int = 0
    frames_since_visible: int = 0


class ServicesMixin:
    """The service callbacks."""

    def _on_init_object(self, request: InitObject.Request, response: InitObject.Response) -> InitObject.Response:
        response.success, response.object_id = False, 0
        try:
            stamp_ns = stamp_to_ns(request.stamp)
            newest = self._buffer.stamp_range()
            wait_s = float(self._values["init_wait_s"])
            if stamp_ns and newest is not None and stamp_ns > newest[1] and wait_s > 0:
                self._take_images_until(stamp_ns, wait_s)
            response.message = self._init_object(request, response)
        except Exception as exc:  # an engine failure must not take the executor down
            response.success, response.object_id = False, 0
            response.message = f"internal error, object not added: {type(exc).__name__}: {exc}"
        self._log_answer("init_object", response.success, response.message,
                         internal=response.message.startswith("internal error"))
        return response

    def _log_answer(self, service: str, success: bool, message: str, internal: bool = False) -> None:
        """Every service answer goes to the log: successes at INFO, refusals at WARN."""
        log = self.get_logger()
        if success:
            log.info(f"{service}: {message}")
        elif internal:
            log.error(f"{service} refused: {message}")
        else:
            log.warning(f"{service} refused: {message}")

    def _take_images_until(self, stamp_ns: int, timeout_s: float) -> None:
        """Wait up to `timeout_s` for a frame stamped `stamp_ns` or later (a client may ask for
        a frame still in transit). This runs in a service callback, where the executor does
        not run the image callbacks (a SingleThreadedExecutor runs one callback at a time, and
        an awaiting coroutine callback starves the others in rclpy), so the waiting loop takes
        the images from the subscriptions itself, as the executor would, and hands them to
        the same callbacks."""
        deadline = time.monotonic() + timeout_s
        subs = [s for s in (self._image_sub, self._compressed_sub) if s is not None]
        while True:
            newest = self._buffer.stamp_range()
            if newest is not None and newest[1] >= stamp_ns:
                return
            took = False
            for sub in subs:
                try:
                    with sub.handle:
                        taken = sub.handle.take_message(sub.msg_type, sub.raw)
                except InvalidHandle:
                    continue
                if taken is not None:
                    took = True
                    sub.callback(taken[0])
            if time.monotonic() >= deadline:
                return
            if not took:
                time.sleep(TAKE_POLL_S)

    def _init_object(self, request: InitObject.Request, response: InitObject.Response) -> str:
        if self._buffer.latest() is None:
            return f"no image received yet on {self._image_topic}"
        stamp_ns = stamp_to_ns(request.stamp)
        entry = self._buffer.get(stamp_ns)
        if entry is None:
            waited = float(self._values["init_wait_s"])
            return (f"no frame with stamp {format_stamp(stamp_ns)} in the frame buffer ("
                    f"{self._buffer.describe()}"
                    + (f"; waited {waited:g} s (parameter init_wait_s) for a newer one" if waited > 0 else "")
                    + "); send a stamp in that range, or zero for the latest frame")
        height, width = entry.frame.shape[:2]
        with self._lock:
            size = self._tracked_size if self._objects else None
        if size is not None and (height, width) != size:
            return (f"frame {format_stamp(entry.stamp_ns)} is {width}x{height} but the tracked objects "
                    f"{self.tracked_ids()} are on {size[1]}x{size[0]} frames: send the stamp of a "
                    f"{size[1]}x{size[0]} frame ({self._buffer.describe()}), or reset to track at {width}x{height}")
        height, width = entry.frame.shape[:2]
        mask = box = None
        points = [(float(p.x), float(p.y)) for p in request.points]
        negative = [(float(p.x), float(p.y)) for p in request.negative_points]
        m = request.mask
        if m.width > 0 or m.height > 0 or len(m.data) > 0:
            try:
                mask = image_to_mask(m, (height, width))
            except ValueError as exc:
                return f"invalid mask: {exc}"
            source = "mask"
        else:
            b = request.box
            if b.width == 0 and b.height == 0 and not points and not negative:
                return ("mask, box and points are all empty: send a mono8 mask of the frame's size "
                        f"({width}x{height}, nonzero = object), a box with width and height > 0, "
                        "or points (x, y) on the object")
            if b.width or b.height:
                box = (int(b.x_offset), int(b.y_offset), int(b.width), int(b.height))
            parts = ([f"box {box}"] if box else []) + ([f"{len(points)} point(s)"] if points else []) \
                + ([f"{len(negative)} negative point(s)"] if negative else [])
            source = " + ".join(parts)
        with self._lock:
            registry = self._segmenter.objects  # the engine's registry: ids, limit, next free id
            object_id = int(request.object_id) or registry.next_free_id()
            reason = registry.room_for(object_id)
            if reason:
                return f"{reason} (parameter max_objects): remove one first; tracking {registry.ids}"
            try:
                initial = self._segmenter.add_object(object_id, entry.frame, mask=mask, box=box,
                                                     points=points if mask is None else (),
                                                     negative_points=negative if mask is None else ())
            except ValueError as exc:
                return f"object not added: {exc}"
            state = self._objects.get(object_id)
            if state is None:
                topic = messages.MASK_TOPIC.format(object_id)
                publisher = self.create_publisher(Image, topic, self._out_qos)
                state = self._objects[object_id] = Tracked(object_id, request.label, topic, publisher, entry.stamp_ns)
                verb = "tracking"
            else:
                state.label, state.init_stamp_ns = request.label, entry.stamp_ns
                state.age = state.frames_since_visible = 0
                verb = "re-initialised"
            self._tracked_size = (height, width)
        response.success, response.object_id = True, object_id
        return (f"{verb} object {object_id}{f' ({request.label})' if request.label else ''} from its "
                f"{source} on frame {format_stamp(entry.stamp_ns)} (initial area {initial.area} px); "
                f"masks on {state.publisher.topic_name}")

    def _on_remove_object(self, request: RemoveObject.Request,
                          response: RemoveObject.Response) -> RemoveObject.Response:
        object_id = int(request.object_id)
        with self._lock:
            if object_id not in self._objects:
                response.success = False
                response.message = (f"unknown object id {object_id}; tracking "
                                    f"{sorted(self._objects) if self._objects else 'no objects'}")
                self._log_answer("remove_object", False, response.message)
                return response
            self._segmenter.remove_object(object_id)
            state = self._objects.pop(object_id)
            self.destroy_publisher(state.publisher)
            left = sorted(self._objects)
            release_freed_memory()
        response.success = True
        response.message = f"removed object {object_id}; tracking {left if left else 'no objects'}"
        self._log_answer("remove_object", True, response.message)
        return response

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        with self._lock:
            removed = sorted(self._objects)
            self._segmenter.reset()
            for state in self._objects.values():
                self.destroy_publisher(state.publisher)
            self._objects.clear()
            release_freed_memory()
        response.success = True
        response.message = f"reset: removed {len(removed)} object(s) {removed}"
        self._log_answer("reset", True, response.message)
        return response
