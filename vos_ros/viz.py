"""One overlay and one palette for everything that draws results: the node's debug image,
`vos-ros segment`'s overlay.mp4 and the demo. An object id has the same colour everywhere:
the PASCAL VOC / DAVIS palette (that of DAVIS annotation PNGs)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np


def label_colour(object_id: int) -> tuple[int, int, int]:
    """RGB colour of an object id (the PASCAL VOC / DAVIS palette)."""
    r = g = b = 0
    c = object_id
    for bit in range(8):
        r |= ((c >> 0) & 1) << (7 - bit)
        g |= ((c >> 1) & 1) << (7 - bit)
        b |= ((c >> 2) & 1) << (7 - bit)
        c >>= 3
    return r, g, b


def draw_overlay(frame: np.ndarray, objects: Mapping[int, Any], captions: Mapping[int, str] | None = None,
                 alpha: float = 0.5) -> np.ndarray:
    """RGB frame with each visible object's mask tinted, its box drawn and its caption (default:
    its id) written. `objects`: id -> anything with `visible`, `mask` (bool, frame size) and
    `box` (x, y, w, h), e.g. the engine's ObjectResult."""
    out = frame.copy()
    for object_id, obj in objects.items():
        if not obj.visible:
            continue
        colour = np.array(label_colour(object_id), np.float32)
        out[obj.mask] = (out[obj.mask] * (1.0 - alpha) + colour * alpha).astype(np.uint8)
        x, y, w, h = obj.box
        rgb = tuple(int(v) for v in colour)
        cv2.rectangle(out, (x, y), (x + w - 1, y + h - 1), rgb, 2)
        text = captions.get(object_id, str(object_id)) if captions else str(object_id)
        cv2.putText(out, text, (x + 2, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, rgb, 1, cv2.LINE_AA)
    return out
