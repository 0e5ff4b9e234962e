"""`vos-ros segment` on rosbag2 input: a bag of real frames in (MCAP and sqlite3, raw and
compressed), a bag with the node's topics out, read back with rosbags."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from conftest import davis_sequence
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from vos_ros.cli import main
from vos_ros.engine.config import EngineConfig
from vos_ros.engine.segmenter import Segmenter
from vos_ros.evaluation.metrics import region_similarity
from vos_ros.msg import TrackedObjectArray
from vos_ros.ros.frame_buffer import stamp_to_ns
from vos_ros.ros.image_conversions import compressed_to_rgb, image_to_numpy, rgb_to_compressed, rgb_to_image
from vos_ros.tools import bag_io

pytest.importorskip("rosbags")
from rosbags.rosbag2 import Reader, StoragePlugin, Writer  # noqa: E402

LIGHT = ["--device", "cpu", "--resolution", "136", "--set", "frtm.augment_samples=1"]
STRIPE_BOX = (200, 0, 250, 272)  # bikes.mp4's first shot: the white stripe
T0 = 1_700_000_000 * 10**9


def header(index: int) -> Header:
    ns = T0 + index * 40_000_000
    return Header(stamp=Time(sec=ns // 10**9, nanosec=ns % 10**9), frame_id="camera")


def write_bag(path: Path, frames: list[np.ndarray], storage: str, compressed: bool) -> str:
    """A camera bag: one image topic plus an unrelated one; recorded 5 ms after each stamp."""
    store = bag_io.typestore()
    topic = "/camera/image" + ("/compressed" if compressed else "")
    msgtype = "sensor_msgs/msg/CompressedImage" if compressed else "sensor_msgs/msg/Image"
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        conn = writer.add_connection(topic, msgtype, typestore=store)
        other = writer.add_connection("/camera/depth", "sensor_msgs/msg/Image", typestore=store)
        for i, frame in enumerate(frames):
            h = header(i)
            msg = rgb_to_compressed(frame, "jpeg", h) if compressed else rgb_to_image(frame, h)
            writer.write(conn, stamp_to_ns(h.stamp) + 5_000_000, serialize_message(msg))
            depth = Image(header=h, height=1, width=1, encoding="16UC1", step=2, data=[0, 0])
            writer.write(other, stamp_to_ns(h.stamp) + 6_000_000, serialize_message(depth))
    return topic


def read_outputs(path: Path) -> dict[str, list[tuple[int, object]]]:
    """{topic: [(log time, message)]} of the output bag, deserialised by rclpy, after checking
    that rosbags' own deserialiser (from the registered .msg schemas) reads the same."""
    store = bag_io.typestore()
    types = {"vos_ros/msg/TrackedObjectArray": TrackedObjectArray, "sensor_msgs/msg/Image": Image}
    out: dict[str, list] = {}
    with Reader(path) as reader:
        for conn, log_time, raw in reader.messages():
            msg = deserialize_message(raw, types[conn.msgtype])
            mirror = store.deserialize_cdr(raw, conn.msgtype)
            assert stamp_to_ns(msg.header.stamp) == mirror.header.stamp.sec * 10**9 + mirror.header.stamp.nanosec
            if conn.msgtype.endswith("TrackedObjectArray"):
                assert [o.id for o in mirror.objects] == [o.id for o in msg.objects]
            out.setdefault(conn.topic, []).append((log_time, (conn.msgtype, msg)))
    return out


@pytest.mark.parametrize("storage,compressed", [("mcap", True), ("sqlite3", False)])
def test_bag_round_trip(tmp_path: Path, bikes_frames, storage: str, compressed: bool) -> None:
    frames = bikes_frames[:8]
    bag = tmp_path / "camera"
    topic = write_bag(bag, frames, storage, compressed)
    out = tmp_path / "segmented"
    box = [str(v) for v in STRIPE_BOX]
    assert main(["segment", str(bag), "--topic", topic, "--at", "2", "--box", *box,
                 "--out", str(out)] + LIGHT) == 0
    assert bag_io.storage_of(out) == storage
    outputs = read_outputs(out)
    assert set(outputs) == {"/vos/objects", "/vos/labels", "/vos/masks/object_1"}
    stamps = [stamp_to_ns(header(i).stamp) for i in range(2, 8)]
    for topic_name, records in outputs.items():
        assert [stamp_to_ns(m.header.stamp) for _, (_, m) in records] == stamps, topic_name
        assert [t for t, _ in records] == [s + 5_000_000 for s in stamps]  # the source's record times
        assert all(m.header.frame_id == "camera" for _, (_, m) in records)
    objects = [m for _, (_, m) in outputs["/vos/objects"]]
    assert all(t == "vos_ros/msg/TrackedObjectArray" for _, (t, _) in outputs["/vos/objects"])
    assert [o.objects[0].age for o in objects] == list(range(1, 7)) and objects[0].method == "frtm"
    assert objects[0].objects[0].mask_topic == "masks/object_1"

    # the masks are what the engine gives for the same decoded frames
    decoded = [compressed_to_rgb(rgb_to_compressed(f, "jpeg")) if compressed else f for f in frames]
    seg = Segmenter(EngineConfig().replace(device="cpu", resolution=136, **{"frtm.augment_samples": 1}))
    expected = [seg.add_object(1, decoded[2], box=STRIPE_BOX).mask] + [seg.step(f).objects[1].mask
                                                                     for f in decoded[3:]]
    masks = [image_to_numpy(m) > 0 for _, (_, m) in outputs["/vos/masks/object_1"]]
    labels = [image_to_numpy(m) == 1 for _, (_, m) in outputs["/vos/labels"]]
    for got, lab, want in zip(masks, labels, expected):
        assert region_similarity(got, want) > 0.99 and np.array_equal(got, lab)
    assert region_similarity(masks[-1], expected[-1]) > 0.99 and masks[-1].sum() > 5000


def test_bag_davis_mask_at_stamp_iou(tmp_path: Path) -> None:
    frames, gt = davis_sequence("blackswan", 12)
    bag = tmp_path / "camera"
    write_bag(bag, frames, "mcap", compressed=False)
    mask_png = tmp_path / "first.png"
    import cv2

    cv2.imwrite(str(mask_png), gt[0].astype(np.uint8) * 255)
    stamp = header(0).stamp
    out = tmp_path / "segmented"
    assert main(["segment", str(bag), "--topic", "/camera/image", "--at", f"{stamp.sec}.{stamp.nanosec:09d}", "--mask", str(mask_png),
                 "--out", str(out), "--storage", "sqlite3", "--device", "cpu", "--resolution", "240"]) == 0
    outputs = read_outputs(out)
    masks = [image_to_numpy(m) > 0 for _, (_, m) in outputs["/vos/masks/object_1"]]
    assert len(masks) == 12
    ious = [region_similarity(m, g) for m, g in zip(masks[1:], gt[1:])]
    assert min(ious) > 0.7, ious


@pytest.mark.parametrize("argv,message", [
    (["--box", "1", "1", "50", "50", "--at", "99"], "has no frame 99"),
    (["--box", "1", "1", "50", "50", "--at", "1.5x"], "--at must be a frame index"),
    (["--box", "1", "1", "50", "50", "--topic", "/nope"], "no image topic '/nope'"),
    (["--point", "9999", "100"], "lies outside the"),
])
def test_bag_input_errors(tmp_path: Path, bikes_frames, capsys, argv, message) -> None:
    bag = tmp_path / "camera"
    write_bag(bag, bikes_frames[:3], "mcap", compressed=False)
    assert main(["segment", str(bag), "--topic", "/camera/image", "--out", str(tmp_path / "o")] + argv + LIGHT) == 1
    assert message in capsys.readouterr().err


def test_bag_options_need_a_bag(tmp_path: Path, bikes_frames, capsys) -> None:
    assert main(["segment", str(tmp_path), "--box", "1", "1", "5", "5", "--at", "3", "--out", str(tmp_path / "o")]) == 1
    assert "need a rosbag2 input" in capsys.readouterr().err
