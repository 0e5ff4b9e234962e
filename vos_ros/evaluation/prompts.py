"""The prompts a user would give, derived from a true mask (evaluation, measurement, training)."""
from __future__ import annotations

import cv2
import numpy as np


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Bounding box (x, y, width, height) of a non-empty mask."""
    return tuple(int(v) for v in cv2.boundingRect(mask.astype(np.uint8)))


def interior_point(mask: np.ndarray) -> tuple[float, float]:
    """The object pixel farthest from the object's boundary, (x, y) at the pixel centre."""
    dist = cv2.distanceTransform(np.pad(mask.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return float(x) + 0.5, float(y) + 0.5
