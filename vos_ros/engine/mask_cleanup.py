"""Clean-up of each object's mask in the label map: drop specks, fill small holes.

A component far smaller than the object's largest one is almost always a false positive
(a speck of similar texture); a hole much smaller than the object is almost always a missed
region (a window of a car, a shadowed patch). Both are judged relative to the object's own
size, so large real holes (a mug handle) and real multi-part objects survive.
"""
from __future__ import annotations

import cv2
import numpy as np


def clean_object_mask(mask: np.ndarray, min_component_fraction: float,
                      max_hole_fraction: float) -> np.ndarray:
    """mask (H, W) bool -> cleaned bool mask. Components smaller than
    `min_component_fraction` x the largest are removed; background regions enclosed by the
    mask and smaller than `max_hole_fraction` x the mask area are filled."""
    m = mask.astype(np.uint8)
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if n <= 1:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    if min_component_fraction > 0 and n > 2:  # more than one component
        keep = np.flatnonzero(areas >= min_component_fraction * areas.max()) + 1
        m = np.isin(lab, keep).astype(np.uint8)
    if max_hole_fraction > 0:
        nh, hlab, hstats, _ = cv2.connectedComponentsWithStats(1 - m, connectivity=4)
        h, w = m.shape
        x, y, bw, bh, area = (hstats[1:, i] for i in range(5))
        inner = (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h)
        holes = np.flatnonzero(inner & (area <= max_hole_fraction * m.sum())) + 1
        if len(holes):
            m[np.isin(hlab, holes)] = 1
    return m.astype(bool)
