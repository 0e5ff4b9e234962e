"""What the Segmenter returns: per-object results and the frame's label map."""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass
class ObjectResult:
    """One object in one frame, at the frame's resolution."""

    object_id: int
    mask: np.ndarray  # (H, W) bool; all False when not visible
    score: float  # mean foreground probability inside the mask, in [0, 1]
    visible: bool
    box: tuple[int, int, int, int] | None  # (x, y, width, height); None when not visible
    area: int
    centroid: tuple[float, float] | None  # (x, y) pixels; None when not visible

    @classmethod
    def hidden(cls, object_id: int, shape: tuple[int, int], score: float) -> "ObjectResult":
        """The object is not visible: empty mask, no box or centroid."""
        return cls(object_id, np.zeros(shape, dtype=bool), float(score), False, None, 0, None)


@dataclass
class FrameResult:
    """All objects of one frame plus the combined label map (0 = background, value = id)."""

    frame_index: int
    objects: dict[int, ObjectResult]
    labels: np.ndarray  # (H, W) uint16
    timings_ms: dict[str, float] = field(default_factory=dict)


def describe_mask(object_id: int, mask: np.ndarray, score: float, visible: bool) -> ObjectResult:
    """Fill box, area and centroid from a boolean mask."""
    m8 = mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8)
    moments = cv2.moments(m8, binaryImage=True)
    if not visible or moments["m00"] == 0:
        return ObjectResult.hidden(object_id, mask.shape, score)
    x, y, w, h = cv2.boundingRect(m8)
    area = moments["m00"]
    return ObjectResult(object_id, mask, float(score), True, (x, y, w, h), int(area),
                        (moments["m10"] / area, moments["m01"] / area))
