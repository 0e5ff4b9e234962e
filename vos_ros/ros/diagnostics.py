"""/diagnostics of `vos_node`: the counters (`Stats`) and the 1 Hz status report.

`DiagnosticsMixin` is one part of `VOSNode` (vos_ros/ros/node.py holds the wiring); it uses
the node's `_stats`, `_objects`, `_image_topic`, `_segmenter`, `_method` and `_diag_pub`.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue


@dataclass
class Stats:
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


class DiagnosticsMixin:
    """Counting and reporting."""

    def _count(self, **increments: int) -> None:
        with self._stats.lock:
            for key, inc in increments.items():
                setattr(self._stats, key, getattr(self._stats, key) + inc)

    def statistics(self) -> dict[str, int]:
        """Counters since start: received, processed, dropped, bad_input, errors, depth_paired."""
        s = self._stats
        with s.lock:
            return {"received": s.received, "processed": s.processed, "dropped": s.dropped,
                    "bad_input": s.bad_input, "errors": s.errors, "depth_paired": s.depth_paired}

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
