"""The node's output messages from engine results, shared by `vos_node` and the bag writer
of `vos-ros segment` (so a bag holds exactly what the node would have published)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from geometry_msgs.msg import Point
from sensor_msgs.msg import Image, RegionOfInterest

from vos_ros.msg import TrackedObject

from . import depth as depth_mod
from .image_conversions import numpy_to_image

MASK_TOPIC = "masks/object_{}"
_NAN_POINT = (math.nan, math.nan, math.nan)


def object_message(object_id: int, label: str, mask_topic: str, age: int, frames_since_visible: int,
                   res: Any, estimate: depth_mod.DepthEstimate | None = None) -> TrackedObject:
    """TrackedObject for one object of a frame (`res`: the engine's ObjectResult or None)."""
    msg = TrackedObject()
    msg.id = int(object_id)
    msg.label = label
    msg.mask_topic = mask_topic
    msg.age = int(age)
    msg.frames_since_visible = int(frames_since_visible)
    msg.score = float(res.score) if res is not None else 0.0
    msg.visible = bool(res is not None and res.visible)
    if msg.visible and res.box is not None:
        x, y, w, h = (int(v) for v in res.box)
        msg.bbox = RegionOfInterest(x_offset=x, y_offset=y, width=w, height=h, do_rectify=False)
        msg.area = int(res.area)
        cx, cy = res.centroid
        msg.centroid = Point(x=float(cx), y=float(cy), z=0.0)
    est = estimate if (msg.visible and estimate is not None) else depth_mod.DepthEstimate()
    px, py, pz = est.position if est.valid else _NAN_POINT
    msg.position = Point(x=float(px), y=float(py), z=float(pz))
    msg.depth_samples = int(est.samples) if est.valid else 0
    msg.depth_spread = float(est.spread) if est.valid else math.nan
    return msg


def labels_image(labels: np.ndarray, max_id: int, header: Any) -> Image:
    """The label image: mono8, mono16 when an id >= 256 is tracked; 0 = background."""
    if max_id < 256:
        return numpy_to_image(labels.astype(np.uint8), "mono8", header)
    return numpy_to_image(labels.astype(np.uint16), "mono16", header)


def mask_image(mask: np.ndarray | None, shape: tuple[int, int], header: Any) -> Image:
    """One object's mask, mono8 0/255 (all zero when the engine returned none)."""
    mask = mask if mask is not None else np.zeros(shape, bool)
    return numpy_to_image(mask.astype(np.uint8) * 255, "mono8", header)
