"""Clean-up of each object's mask in the label map: drop specks, fill small holes.

A component far smaller than the object's largest one is almost always a false positive
(a speck of similar texture); a hole much smaller than the object is almost always a missed
region (a window of a car, a shadowed patch). Both are judged relative to the object's own
size, so large real holes (a mug handle) and real multi-part objects survive.
"""
from __future__ import annotations

import cv2
import numpy as np


def clean_object_region(mask: np.ndarray, min_component_fraction: float, max_hole_fraction: float
                        ) -> tuple[tuple[slice, slice], np.ndarray]:
    """Clean one object's mask (H, W) bool. Components smaller than `min_component_fraction`
    x the largest are removed; background regions enclosed by the mask and smaller than
    `max_hole_fraction` x the mask area are filled. Nothing changes outside the mask's
    bounding box, so the result is the (rows, columns) window of the box plus a 1-pixel
    margin (clipped) and the cleaned bool mask inside it; an empty mask gives an empty
    window."""
    full = mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8)
    x0, y0, bw, bh = cv2.boundingRect(full)
    if bw == 0:
        return (slice(0, 0), slice(0, 0)), np.zeros((0, 0), bool)
    # work on the bounding box plus a 1-pixel background margin: background touching the
    # crop's border is connected to the outside, so holes are judged exactly as on the image
    y0, x0, y1, x1 = max(0, y0 - 1), max(0, x0 - 1), min(full.shape[0], y0 + bh + 1), min(full.shape[1], x0 + bw + 1)
    m = full[y0:y1, x0:x1].copy()
    n, lab, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    if min_component_fraction > 0 and n > 2:  # more than one component
        keep = np.concatenate([[0], areas >= min_component_fraction * areas.max()]).astype(np.uint8)
        m = keep[lab]
    if max_hole_fraction > 0:
        nh, hlab, hstats, _ = cv2.connectedComponentsWithStats(1 - m, connectivity=4)
        h, w = m.shape
        hx, hy, hw, hh, area = (hstats[1:, i] for i in range(5))
        inner = (hx > 0) & (hy > 0) & (hx + hw < w) & (hy + hh < h)
        holes = inner & (area <= max_hole_fraction * np.count_nonzero(m))
        if holes.any():
            m[np.concatenate([[False], holes])[hlab]] = 1
    return (slice(y0, y1), slice(x0, x1)), m.astype(bool)


def clean_labels(labels: np.ndarray, min_component_fraction: float, max_hole_fraction: float) -> np.ndarray:
    """Per-object clean-up of an (H, W) uint8 label map: specks removed, small holes
    filled (with background pixels only)."""
    if min_component_fraction <= 0 and max_hole_fraction <= 0:
        return labels
    out = labels.copy()
    for k in np.flatnonzero(np.bincount(labels.ravel()))[1:]:
        mask = labels == k
        window, kept = clean_object_region(mask, min_component_fraction, max_hole_fraction)
        region, was_background = out[window], labels[window] == 0
        region[mask[window] & ~kept] = 0
        region[kept & was_background] = k
    return out
