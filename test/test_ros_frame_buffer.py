"""FrameBuffer: lookup by exact stamp, within the 1 ms tolerance, zero = latest, eviction,
the description used in init_object errors, resizing and concurrent use."""
from __future__ import annotations

import threading

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from std_msgs.msg import Header

from vos_ros.ros.frame_buffer import FrameBuffer, format_stamp, stamp_to_ns

SEC = 1_000_000_000


def header_at(sec: int, nanosec: int) -> Header:
    return Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id="cam")


@pytest.fixture
def frames(bikes_frames) -> list[np.ndarray]:
    return [f[:64, :96].copy() for f in bikes_frames[:8]]


def test_stamp_helpers():
    assert stamp_to_ns(Time(sec=12, nanosec=5)) == 12 * SEC + 5
    assert format_stamp(12 * SEC + 5) == "12.000000005"
    assert format_stamp(0) == "0.000000000"


def test_exact_tolerance_latest_and_eviction(frames):
    buf = FrameBuffer(capacity=5)
    assert buf.latest() is None and buf.get(0) is None and buf.stamp_range() is None
    assert buf.describe() == "the frame buffer is empty"
    stamps = [100 * SEC + i * 33_333_333 for i in range(8)]  # 30 Hz
    for stamp, frame in zip(stamps, frames):
        h = header_at(*divmod(stamp, SEC))
        entry = buf.add(stamp_to_ns(h.stamp), frame, h, receipt_time=1.0)
        assert entry.header.frame_id == "cam"
    assert len(buf) == 5 and buf.capacity == 5
    # the three oldest are gone
    for stamp in stamps[:3]:
        assert buf.get(stamp) is None
    for stamp, frame in zip(stamps[3:], frames[3:]):
        entry = buf.get(stamp)
        assert entry.stamp_ns == stamp and entry.frame is frame
    # zero = latest
    assert buf.get(0).stamp_ns == stamps[-1] and buf.latest().frame is frames[-1]
    # within 1 ms matches, beyond does not
    assert buf.get(stamps[4] + 999_999).stamp_ns == stamps[4]
    assert buf.get(stamps[4] - 1_000_000).stamp_ns == stamps[4]
    assert buf.get(stamps[4] + 1_000_001) is None
    assert buf.stamp_range() == (stamps[3], stamps[7])
    assert buf.describe() == (f"the frame buffer holds 5 frames with stamps "
                              f"{format_stamp(stamps[3])} .. {format_stamp(stamps[7])}")


def test_closest_within_tolerance_and_duplicates(frames):
    buf = FrameBuffer(capacity=10, tolerance_ns=2_000_000)
    buf.add(SEC, frames[0])
    buf.add(SEC + 1_500_000, frames[1])
    assert buf.get(SEC + 600_000).frame is frames[0]
    assert buf.get(SEC + 900_000).frame is frames[1]
    buf.add(SEC, frames[2])  # same stamp again (e.g. a camera repeating stamps): newest wins
    assert buf.get(SEC).frame is frames[2]


def test_resize_keeps_newest_and_clear(frames):
    buf = FrameBuffer(capacity=8)
    for i, frame in enumerate(frames):
        buf.add((i + 1) * SEC, frame)
    buf.resize(3)
    assert len(buf) == 3 and buf.stamp_range() == (6 * SEC, 8 * SEC)
    buf.resize(10)
    buf.add(9 * SEC, frames[0])
    assert len(buf) == 4
    buf.clear()
    assert len(buf) == 0 and buf.latest() is None


def test_invalid_capacity():
    with pytest.raises(ValueError, match=">= 1"):
        FrameBuffer(0)
    with pytest.raises(ValueError, match=">= 1"):
        FrameBuffer(3).resize(0)


def test_concurrent_add_and_get(frames):
    buf = FrameBuffer(capacity=16)
    errors = []

    def writer():
        for i in range(2000):
            buf.add(i + 1, frames[i % len(frames)])

    def reader():
        try:
            for _ in range(2000):
                entry = buf.get(0)
                rng = buf.stamp_range()
                if entry is not None:
                    assert rng[0] <= entry.stamp_ns <= rng[1] or entry.stamp_ns < rng[0]
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(buf) == 16 and buf.latest().stamp_ns == 2000
