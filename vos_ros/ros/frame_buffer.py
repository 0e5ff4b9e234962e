"""A ring buffer of the most recent camera frames, so an object can be initialised on the
frame a user (or a detector) drew its mask/box on, identified by the image stamp.

Lookup rules (`FrameBuffer.get`):
- stamp 0 -> the latest frame;
- otherwise the frame whose stamp equals it, or lies within `tolerance_ns` of it (the
  closest one; ties -> the newer).
Thread-safe: the image callback adds, service callbacks look up.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_TOLERANCE_NS = 1_000_000  # 1 ms


def stamp_to_ns(stamp: Any) -> int:
    """builtin_interfaces/Time (or anything with sec/nanosec) -> integer nanoseconds."""
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


def format_stamp(ns: int) -> str:
    """Nanoseconds as `sec.nanosec` (the way `ros2 topic echo` shows a stamp)."""
    sec, nsec = divmod(int(ns), 1_000_000_000)
    return f"{sec}.{nsec:09d}"


@dataclass
class BufferedFrame:
    """One received colour frame (RGB uint8) and what came with it."""

    stamp_ns: int
    frame: np.ndarray
    header: Any = None  # std_msgs/Header of the source image
    depth: Any = None  # paired depth (any object; the node stores a sensor_msgs/Image)
    receipt_time: float = 0.0  # time.monotonic() at arrival
    extra: dict = field(default_factory=dict)


class FrameBuffer:
    """The last `capacity` frames in arrival order."""

    def __init__(self, capacity: int = 30, tolerance_ns: int = DEFAULT_TOLERANCE_NS):
        if capacity < 1:
            raise ValueError(f"frame buffer capacity must be >= 1, got {capacity}")
        if tolerance_ns < 0:
            raise ValueError(f"stamp tolerance must be >= 0 ns, got {tolerance_ns}")
        self._frames: deque[BufferedFrame] = deque(maxlen=int(capacity))
        self._lock = threading.Lock()
        self.tolerance_ns = int(tolerance_ns)

    @property
    def capacity(self) -> int:
        return self._frames.maxlen or 0

    def __len__(self) -> int:
        with self._lock:
            return len(self._frames)

    def add(self, stamp_ns: int, frame: np.ndarray, header: Any = None, depth: Any = None,
            receipt_time: float = 0.0) -> BufferedFrame:
        entry = BufferedFrame(int(stamp_ns), frame, header, depth, receipt_time)
        with self._lock:
            self._frames.append(entry)
        return entry

    def latest(self) -> BufferedFrame | None:
        with self._lock:
            return self._frames[-1] if self._frames else None

    def get(self, stamp_ns: int, tolerance_ns: int | None = None) -> BufferedFrame | None:
        """The frame for `stamp_ns` (0 = latest), or None when it is not (or no longer) held.
        `tolerance_ns`: this lookup's tolerance instead of the buffer's."""
        stamp_ns = int(stamp_ns)
        tolerance = self.tolerance_ns if tolerance_ns is None else int(tolerance_ns)
        with self._lock:
            if not self._frames:
                return None
            if stamp_ns == 0:
                return self._frames[-1]
            best, best_dt = None, None
            for entry in reversed(self._frames):  # newest first: ties go to the newer
                dt = abs(entry.stamp_ns - stamp_ns)
                if dt <= tolerance and (best_dt is None or dt < best_dt):
                    best, best_dt = entry, dt
                    if dt == 0:
                        break
            return best

    def stamp_range(self) -> tuple[int, int] | None:
        """(oldest, newest) stamp held, or None when empty."""
        with self._lock:
            if not self._frames:
                return None
            stamps = [e.stamp_ns for e in self._frames]
            return min(stamps), max(stamps)

    def describe(self) -> str:
        """What the buffer holds, for error messages."""
        rng = self.stamp_range()
        if rng is None:
            return "the frame buffer is empty"
        n = len(self)
        return (f"the frame buffer holds {n} frame{'s' if n != 1 else ''} with stamps "
                f"{format_stamp(rng[0])} .. {format_stamp(rng[1])}")

    def resize(self, capacity: int) -> None:
        """Change the capacity, keeping the newest frames."""
        if capacity < 1:
            raise ValueError(f"frame buffer capacity must be >= 1, got {capacity}")
        with self._lock:
            self._frames = deque(self._frames, maxlen=int(capacity))

    def clear(self) -> None:
        with self._lock:
            self._frames.clear()
