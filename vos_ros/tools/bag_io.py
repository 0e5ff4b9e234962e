"""rosbag2 in and out for `vos-ros segment` (MCAP and sqlite3, through `rosbags`).

In: one image topic, sensor_msgs/Image (any encoding the node takes) or
sensor_msgs/CompressedImage (jpeg/png). Out: a new bag with what vos_node would publish for
each frame (`<ns>/objects`, `<ns>/labels`, `<ns>/masks/object_<id>`), every message carrying
the source image's header and recorded at the source message's time, so `ros2 bag play`
of both bags lines them up. Messages are (de)serialised by rclpy (the generated classes the
node uses); `rosbags` only stores them, with our message types registered from their .msg
files so that `ros2 bag info/play` and MCAP readers know the schemas.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
OUR_TYPES = ("TrackedObject", "TrackedObjectArray")  # TrackedObject first: the array uses it
STORAGES = ("mcap", "sqlite3")


def is_bag(path: Path) -> bool:
    """A rosbag2 folder (metadata.yaml) or one of its .mcap/.db3 files."""
    path = Path(path)
    if path.is_dir():
        return (path / "metadata.yaml").is_file()
    return path.suffix in (".mcap", ".db3") and (path.parent / "metadata.yaml").is_file()


def _bag_dir(path: Path) -> Path:
    path = Path(path)
    return path if path.is_dir() else path.parent


def _msg_dir() -> Path:
    source = Path(__file__).resolve().parents[2] / "msg"
    if (source / "TrackedObject.msg").is_file():
        return source
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory("vos_ros")) / "msg"


def typestore():
    """The ROS 2 Kilted message types plus vos_ros/msg/TrackedObject(Array) from their .msg files."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    store = get_typestore(Stores.ROS2_KILTED)
    types: dict[str, Any] = {}
    for name in OUR_TYPES:
        text = (_msg_dir() / f"{name}.msg").read_text()
        types.update(get_types_from_msg(text, f"vos_ros/msg/{name}"))
    store.register(types)
    return store


@dataclass
class BagFrame:
    index: int
    log_time_ns: int  # when the source bag recorded it
    header: Any  # std_msgs/Header of the source image
    rgb: np.ndarray


def image_topics(path: Path) -> dict[str, str]:
    """{topic: type} of the image topics in the bag."""
    from rosbags.rosbag2 import Reader

    with Reader(_bag_dir(path)) as reader:
        return {c.topic: c.msgtype for c in reader.connections if c.msgtype in IMAGE_TYPES}


def storage_of(path: Path) -> str:
    import yaml

    info = yaml.safe_load((_bag_dir(path) / "metadata.yaml").read_text())
    ident = info.get("rosbag2_bagfile_information", {}).get("storage_identifier", "")
    return ident if ident in STORAGES else "mcap"


def read_frames(path: Path, topic: str | None) -> Iterator[BagFrame]:
    """The frames of `topic` (default: the bag's only image topic) as RGB, in bag order."""
    from rclpy.serialization import deserialize_message
    from rosbags.rosbag2 import Reader
    from sensor_msgs.msg import CompressedImage, Image

    from ..ros.image_conversions import compressed_to_rgb, image_to_rgb

    topics = image_topics(path)
    if topic is None:
        if len(topics) != 1:
            raise ValueError(f"{path} has {len(topics)} image topics {sorted(topics)}: choose one with --topic")
        topic = next(iter(topics))
    if topic not in topics:
        raise ValueError(f"{path} has no image topic {topic!r}; image topics: {sorted(topics) or 'none'}")
    compressed = topics[topic].endswith("CompressedImage")
    msg_type, convert = (CompressedImage, compressed_to_rgb) if compressed else (Image, image_to_rgb)
    with Reader(_bag_dir(path)) as reader:
        connections = [c for c in reader.connections if c.topic == topic]
        for index, (_conn, log_time, raw) in enumerate(reader.messages(connections=connections)):
            msg = deserialize_message(raw, msg_type)
            try:
                rgb = convert(msg)
            except ValueError as err:
                raise ValueError(f"{topic} message {index}: {err}") from None
            yield BagFrame(index, int(log_time), msg.header, rgb)


class ResultBagWriter:
    """Writes vos_node's outputs for each frame into a new bag at `path`."""

    def __init__(self, path: Path, storage: str = "mcap", namespace: str = "/vos", method: str = ""):
        from rosbags.rosbag2 import StoragePlugin, Writer

        if storage not in STORAGES:
            raise ValueError(f"storage must be one of {', '.join(STORAGES)}, got {storage!r}")
        path = Path(path)
        if path.exists():
            raise ValueError(f"output bag {path} exists already: choose a new path")
        self._store = typestore()
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self._writer = Writer(path, version=9, storage_plugin=plugin)
        self._writer.open()
        self.path, self.namespace, self.method = path, namespace.rstrip("/"), method
        self._connections: dict[str, Any] = {}
        self._ages: dict[int, list[int]] = {}  # id -> [age, frames_since_visible]

    def _connection(self, topic: str, msgtype: str):
        conn = self._connections.get(topic)
        if conn is None:
            conn = self._connections[topic] = self._writer.add_connection(topic, msgtype, typestore=self._store)
        return conn

    def _write(self, topic: str, msgtype: str, msg: Any, time_ns: int) -> None:
        from rclpy.serialization import serialize_message

        self._writer.write(self._connection(topic, msgtype), time_ns, serialize_message(msg))

    def write(self, frame: BagFrame, result: Any, labels_by_id: dict[int, str] | None = None) -> None:
        """The outputs of one frame (`result`: the engine's FrameResult)."""
        from vos_ros.msg import TrackedObjectArray

        from ..ros import messages

        labels_by_id = labels_by_id or {}
        ids = sorted(result.objects)
        out = TrackedObjectArray(header=frame.header, method=self.method, latency_ms=0.0)
        for object_id in ids:
            res = result.objects[object_id]
            age = self._ages.setdefault(object_id, [0, 0])
            age[0] += 1
            age[1] = 0 if res.visible else age[1] + 1
            topic = messages.MASK_TOPIC.format(object_id)
            out.objects.append(messages.object_message(object_id, labels_by_id.get(object_id, ""), topic,
                                                       age[0], age[1], res))
            self._write(f"{self.namespace}/{topic}", "sensor_msgs/msg/Image",
                        messages.mask_image(res.mask, frame.rgb.shape[:2], frame.header), frame.log_time_ns)
        self._write(f"{self.namespace}/labels", "sensor_msgs/msg/Image",
                    messages.labels_image(result.labels, max(ids, default=0), frame.header), frame.log_time_ns)
        self._write(f"{self.namespace}/objects", "vos_ros/msg/TrackedObjectArray", out, frame.log_time_ns)

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> "ResultBagWriter":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def parse_at(value: str) -> tuple[str, int]:
    """`--at`: a frame index ("12") or a stamp ("1718000000.533000000", as `ros2 topic echo`
    shows it) -> ("index", n) or ("stamp", ns)."""
    text = value.strip()
    try:
        if "." in text:
            sec, frac = text.split(".", 1)
            if not frac.isdigit() or len(frac) > 9:
                raise ValueError
            return "stamp", int(sec) * 1_000_000_000 + int(frac.ljust(9, "0"))
        index = int(text)
    except ValueError:
        raise ValueError(f"--at must be a frame index (e.g. 12) or a stamp sec.nanosec "
                         f"(e.g. 1718000000.533000000), got {value!r}") from None
    if index < 0:
        raise ValueError(f"--at index must be >= 0, got {index}")
    return "index", index
