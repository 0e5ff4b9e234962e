"""vos_node as a separate process over real DDS (loopback): clean stop on SIGINT/SIGTERM
at any moment, and delivery of camera-sized images with the default configuration.

The test process plays the camera: it publishes reliably (as drivers do, REP-2003) with
the Fast DDS profile the docs tell the camera side to use (conftest sets it); the node
subprocess applies the profile itself (its environment has none set).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from builtin_interfaces.msg import Time
from conftest import REPO, ros_environment
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from vos_ros.msg import TrackedObjectArray
from vos_ros.ros.frame_buffer import stamp_to_ns
from vos_ros.ros.image_conversions import numpy_to_image
from vos_ros.ros.transport import USER_PROFILE_ENV
from vos_ros.srv import InitObject

RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
STRIPE_BOX = (200, 0, 250, 272)  # bikes.mp4's first shot: the white stripe
LIGHT = ["-p", "device:=cpu", "-p", "resolution:=120", "-p", "frtm.augment_samples:=1", "-p", "threads:=1"]


class NodeProcess:
    """`vos-ros node` in its own session (signals reach it alone), output to a file."""

    def __init__(self, namespace: str, params: list[str] = LIGHT):
        env = ros_environment()
        for name in USER_PROFILE_ENV:  # the node must apply the shipped profile itself
            env.pop(name, None)
        self.log_path = Path(tempfile.mkstemp(prefix="vos_node_", suffix=".log")[1])
        self._log = open(self.log_path, "w")
        cmd = [sys.executable, "-m", "vos_ros", "node", "--ros-args", "-r", f"__ns:={namespace}", *params]
        self.proc = subprocess.Popen(cmd, env=env, cwd=str(REPO), stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
        self.log_path.unlink(missing_ok=True)


@pytest.fixture
def node_process():
    started: list[NodeProcess] = []

    def start(namespace: str, params: list[str] = LIGHT) -> NodeProcess:
        started.append(NodeProcess(namespace, params))
        return started[-1]

    yield start
    for proc in started:
        proc.close()


class Stream:
    """Publishes frames at `rate_hz` from a thread (stamps 1000 s + i / rate)."""

    def __init__(self, ros, topic: str, frames: list[np.ndarray], rate_hz: float, encoding: str = "rgb8"):
        self.pub = ros.node.create_publisher(Image, topic, RELIABLE)
        self.frames, self.rate_hz, self.encoding = frames, rate_hz, encoding
        self.sent: list[int] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def header(self, index: int) -> Header:
        ns = 1_000 * 10**9 + int(index * 1e9 / self.rate_hz)
        return Header(stamp=Time(sec=ns // 10**9, nanosec=ns % 10**9), frame_id="camera")

    def publish(self, index: int) -> int:
        msg = numpy_to_image(self.frames[index % len(self.frames)], self.encoding, self.header(index))
        self.pub.publish(msg)
        self.sent.append(stamp_to_ns(msg.header.stamp))
        return self.sent[-1]

    def run(self, count: int | None = None) -> None:
        start = time.monotonic()
        index = 0
        while not self._stop.is_set() and (count is None or index < count):
            self.publish(index)
            index += 1
            self._stop.wait(max(0.0, start + index / self.rate_hz - time.monotonic()))

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)


def _tracking(ros, node: NodeProcess, ns: str, frames: list[np.ndarray]) -> Stream:
    """Start the node's stream at 10 Hz and one tracked object; returns the running stream."""
    objects = ros.collector(TrackedObjectArray, f"{ns}/objects", RELIABLE)
    stream = Stream(ros, f"{ns}/image", frames, 10.0)
    ros.wait_for_subscribers(stream.pub, timeout=90.0)
    stream.start()
    objects.wait(lambda ms: len(ms) > 0, timeout=60.0)
    resp = ros.call(InitObject, f"{ns}/init_object",
                    InitObject.Request(box=_roi(STRIPE_BOX)), timeout=60.0)
    assert resp.success, resp.message + "\n" + node.output()
    objects.wait(lambda ms: any(m.objects and m.objects[0].visible for m in ms), timeout=30.0)
    return stream


def _roi(box):
    from sensor_msgs.msg import RegionOfInterest

    x, y, w, h = box
    return RegionOfInterest(x_offset=x, y_offset=y, width=w, height=h)


def _assert_clean_exit(node: NodeProcess, sent_at: float, grace_s: float = 5.0) -> None:
    code = node.wait(timeout=20.0)
    elapsed = time.monotonic() - sent_at
    out = node.output()
    assert code == 0, f"exit status {code}\n{out}"
    assert elapsed < grace_s, f"took {elapsed:.1f} s to stop\n{out}"
    assert "Traceback" not in out and "terminate called" not in out, out
    print(f"stopped with exit status 0 in {elapsed:.2f} s")


@pytest.mark.parametrize("signals", [(signal.SIGINT, signal.SIGINT), (signal.SIGTERM,),
                                     (signal.SIGINT, signal.SIGTERM, signal.SIGINT)],
                         ids=["sigint-twice", "sigterm", "int-term-int"])
def test_stop_signals_mid_stream_exit_0(ros, node_process, bikes_frames, signals):
    ns = f"/stop_{os.getpid()}_{len(signals)}_{signals[0]}"
    node = node_process(ns)
    stream = _tracking(ros, node, ns, bikes_frames)
    try:
        sent_at = time.monotonic()
        for sig in signals:
            node.signal(sig)
            time.sleep(0.05)
        _assert_clean_exit(node, sent_at)
    finally:
        stream.stop()
    out = node.output()
    assert "stopping on" in out
    assert "init_object: tracking object 1 from its box" in out  # answers are logged


def test_sigint_twice_during_init_object_exits_0(ros, node_process, bikes_frames):
    """Native 640x272 and 8 augmented samples: an initialisation takes a second or more
    here, so the signals arrive while it runs (the node answers it, then stops)."""
    ns = f"/stop_init_{os.getpid()}"
    node = node_process(ns, ["-p", "device:=cpu", "-p", "resolution:=0", "-p", "frtm.augment_samples:=8",
                             "-p", "threads:=1"])
    stream = _tracking(ros, node, ns, bikes_frames)
    client = ros.node.create_client(InitObject, f"{ns}/init_object")
    try:
        assert client.wait_for_service(timeout_sec=10.0)
        refused = ros.call(InitObject, f"{ns}/init_object", InitObject.Request(box=_roi((700, 10, 50, 50))))
        assert not refused.success
        future = client.call_async(InitObject.Request(box=_roi((0, 0, 150, 272))))  # left asphalt
        time.sleep(0.2)  # the request is in the node (waiting for the frame, or fitting)
        in_flight = not future.done()
        sent_at = time.monotonic()
        node.signal(signal.SIGINT)
        time.sleep(0.05)
        node.signal(signal.SIGINT)
        _assert_clean_exit(node, sent_at)
        assert in_flight, "the initialisation was over before the signals"
        out = node.output()
        assert "[WARN]" in out and "init_object refused: object not added: box (700, 10, 50, 50)" in out
    finally:
        stream.stop()
        ros.node.destroy_client(client)


def test_sigint_during_start_up_exits_0(node_process):
    node = node_process(f"/stop_start_{os.getpid()}")
    time.sleep(1.0)  # importing torch / building the engine
    sent_at = time.monotonic()
    node.signal(signal.SIGINT)
    node.signal(signal.SIGINT)
    _assert_clean_exit(node, sent_at)


# ------------------------------------------------------------------ transport of big images
def _diagnostic(ros, topic: str, name_part: str):
    values = {}

    def keep(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if name_part in status.name:
                values.clear()
                values.update({kv.key: kv.value for kv in status.values})
                values["_seen"] = time.monotonic()

    ros.node.create_subscription(DiagnosticArray, topic, keep, 10)
    return values


@pytest.mark.parametrize("size,depth", [((640, 480), None), ((1280, 720), None), ((640, 272), "32FC1")],
                         ids=["640x480", "1280x720", "640x272+32FC1-depth"])
def test_default_setup_receives_camera_sized_frames_across_processes(ros, node_process, bikes_frames, size, depth):
    """Transport only: frames counted on arrival at the node (frames_received in
    /diagnostics), before any processing; no object tracked. bgr8 at 30 Hz for 3 s; with
    depth, a registered 32FC1 image (0.7 MB at 640x272) of the same stamp for each frame."""
    ns = f"/tx_{os.getpid()}_{size[0]}_{depth}"
    params = ["-p", "device:=cpu", "-p", "threads:=1"]  # default QoS (best_effort) and transport
    if depth:
        params += ["-p", "use_depth:=true"]
    node = node_process(ns, params)
    diag = _diagnostic(ros, "/diagnostics", f"{ns}/vos_node")
    frames = [cv2.cvtColor(cv2.resize(f, size), cv2.COLOR_RGB2BGR) for f in bikes_frames[:10]]
    stream = Stream(ros, f"{ns}/image", frames, 30.0, encoding="bgr8")
    if depth:
        depth_pub = ros.node.create_publisher(Image, f"{ns}/depth", RELIABLE)
        depth_image = np.full(size[::-1], 1.5, np.float32)
        publish_colour = stream.publish

        def publish_both(index: int) -> int:
            depth_pub.publish(numpy_to_image(depth_image, depth, stream.header(index)))
            return publish_colour(index)

        stream.publish = publish_both
        ros.wait_for_subscribers(depth_pub, timeout=90.0)
    ros.wait_for_subscribers(stream.pub, timeout=90.0)
    deadline = time.monotonic() + 30.0
    while "frames_received" not in diag:  # the node is up and reporting
        assert time.monotonic() < deadline and node.proc.poll() is None, node.output()
        time.sleep(0.1)
    time.sleep(1.0)  # discovery settled (the first samples after matching can be lost)
    base = int(diag["frames_received"])
    count = 90
    stream.run(count)
    deadline = time.monotonic() + 10.0
    received, stable = -1, 0
    while stable < 2 and time.monotonic() < deadline:  # two equal 1 Hz reports in a row
        seen = diag.get("_seen")
        while diag.get("_seen") == seen and time.monotonic() < deadline:
            time.sleep(0.05)
        now = int(diag["frames_received"]) - base
        stable = stable + 1 if now == received else 0
        received = now
    out = node.output()
    assert diag.get("bad_input_frames") == "0", out
    assert received >= 0.95 * count, f"received {received} of {count} {size[0]}x{size[1]} frames\n{out}"
    node.signal(signal.SIGINT)
    assert node.wait(timeout=10.0) == 0, node.output()
