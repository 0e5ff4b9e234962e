"""The worker thread of `vos_node`: segments the newest frame and publishes every result.

`WorkerMixin` is one part of `VOSNode` (vos_ros/ros/node.py holds the wiring and the
mailbox the image callbacks fill); it uses the node's `_mailbox`, `_pending`, `_stopping`,
`_lock`, `_segmenter`, `_objects`, publishers, `_pairer`, `_camera_info` and `_values`.
"""
from __future__ import annotations

import time
from typing import Any

import numpy as np

from vos_ros.msg import TrackedObjectArray

from ..viz import draw_overlay
from . import depth as depth_mod
from . import messages
from .frame_buffer import BufferedFrame, format_stamp, stamp_to_ns
from .image_conversions import depth_image_to_numpy, numpy_to_image

# overlay colours (RGB) per object id, cycled

class WorkerMixin:
    """Segmentation and publishing, one frame at a time."""

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
                size, (h, w) = self._tracked_size, entry.frame.shape[:2]
                if self._objects and size is not None and (h, w) != size:
                    why = (f"it is {w}x{h} but the objects are tracked on {size[1]}x{size[0]} frames; "
                           f"tracking resumes with the next {size[1]}x{size[0]} frame (reset to track "
                           f"at {w}x{h} instead)")
                else:
                    why = str(exc)
                self.get_logger().error(f"cannot segment frame {format_stamp(entry.stamp_ns)}: {why}",
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
                out.objects.append(messages.object_message(state.object_id, state.label, state.topic, state.age,
                                                           state.frames_since_visible, res,
                                                           positions.get(object_id)))
                state.publisher.publish(messages.mask_image(res.mask if res is not None else None,
                                                            entry.frame.shape[:2], header))

            self._labels_pub.publish(messages.labels_image(result.labels, max(ids, default=0), header))
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

    def _positions(self, entry: BufferedFrame, result: Any) -> dict[int, depth_mod.DepthEstimate]:
        visible = {i: r for i, r in result.objects.items() if r.visible}
        if not visible or self._pairer is None:
            return {}
        depth_msg = entry.depth if entry.depth is not None else self._pairer.depth_for(entry.stamp_ns)
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
        size = entry.frame.shape[:2]
        try:
            depth_m = depth_mod.depth_to_metres(depth_image_to_numpy(depth_msg), float(self._values["depth_scale"]))
            depth_m = depth_mod.match_size(depth_m, size)
            intr = depth_mod.intrinsics_from_camera_info(info, size)
        except ValueError as exc:
            self.get_logger().error(f"depth not used: {exc}", throttle_duration_sec=10.0)
            return {}
        self._count(depth_paired=1)
        if not np.isfinite(depth_m).any():
            self.get_logger().warning(
                f"depth image {format_stamp(stamp_to_ns(depth_msg.header.stamp))} on {self._depth_sub.topic_name} "
                f"has no valid sample (all 0, NaN, inf or negative): positions unknown",
                throttle_duration_sec=10.0)
            return {}
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
