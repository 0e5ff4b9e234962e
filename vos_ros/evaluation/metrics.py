"""DAVIS video object segmentation metrics: region similarity J and boundary F-measure F.

Definitions follow Perazzi et al., "A Benchmark Dataset and Evaluation Methodology for
Video Object Segmentation" (CVPR 2016):

* J is the intersection-over-union of the predicted and ground-truth masks.
* F is the F-measure of boundary precision and recall. Boundaries are 1-pixel-wide maps
  (the `seg2bmap` definition, at the image size); a boundary pixel counts as matched when
  the other boundary lies within ``ceil(bound_th * image diagonal)`` pixels of it
  (a disk-shaped dilation).

Masks are arrays where any nonzero value is the object, unless `sequence_scores` is given
multi-object label maps (see there).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np


def _as_bool(mask: np.ndarray) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    return mask.astype(bool)


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = _as_bool(pred), _as_bool(gt)
    if pred.shape != gt.shape:
        raise ValueError(f"mask shapes differ: prediction {pred.shape}, ground truth {gt.shape}")
    return pred, gt


def region_similarity(pred: np.ndarray, gt: np.ndarray) -> float:
    """J: intersection over union of two masks; 1.0 when both are empty."""
    pred, gt = _check_pair(pred, gt)
    union = np.count_nonzero(pred | gt)
    if union == 0:
        return 1.0
    return np.count_nonzero(pred & gt) / union


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """1-pixel-wide boundary of a mask (DAVIS `seg2bmap` at the image size).

    A pixel is boundary when it differs from its right, bottom or bottom-right neighbour.
    In the last row only the right neighbour is compared, in the last column only the
    bottom one, and the bottom-right corner is never boundary.
    """
    seg = _as_bool(mask)
    right = np.zeros_like(seg)
    bottom = np.zeros_like(seg)
    bottom_right = np.zeros_like(seg)
    right[:, :-1] = seg[:, 1:]
    bottom[:-1, :] = seg[1:, :]
    bottom_right[:-1, :-1] = seg[1:, 1:]
    bmap = (seg ^ right) | (seg ^ bottom) | (seg ^ bottom_right)
    bmap[-1, :] = seg[-1, :] ^ right[-1, :]
    bmap[:, -1] = seg[:, -1] ^ bottom[:, -1]
    bmap[-1, -1] = False
    return bmap


def _disk(radius: int) -> np.ndarray:
    """Structuring element of the pixels with x^2 + y^2 <= radius^2 (skimage's `disk`)."""
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius**2).astype(np.uint8)


def boundary_f_measure(pred: np.ndarray, gt: np.ndarray, bound_th: float = 0.008) -> float:
    """F: boundary F-measure with a tolerance of ``ceil(bound_th * diagonal)`` pixels.

    Both boundaries empty gives precision = recall = 1; an empty predicted boundary against
    a non-empty one gives P = 1, R = 0; the reverse gives P = 0, R = 1; P + R == 0 gives 0.
    """
    pred, gt = _check_pair(pred, gt)
    pred_b, gt_b = boundary_map(pred), boundary_map(gt)
    n_pred, n_gt = np.count_nonzero(pred_b), np.count_nonzero(gt_b)
    if n_pred == 0 and n_gt == 0:
        precision, recall = 1.0, 1.0
    elif n_pred == 0:
        precision, recall = 1.0, 0.0
    elif n_gt == 0:
        precision, recall = 0.0, 1.0
    else:
        radius = math.ceil(bound_th * math.hypot(*pred.shape))
        disk = _disk(radius)
        pred_near = cv2.dilate(pred_b.view(np.uint8), disk).view(bool)
        gt_near = cv2.dilate(gt_b.view(np.uint8), disk).view(bool)
        precision = np.count_nonzero(pred_b & gt_near) / n_pred
        recall = np.count_nonzero(gt_b & pred_near) / n_gt
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def _object_ids(first_gt: np.ndarray) -> list[int] | None:
    """Object ids of a multi-object label map, or None for a binary mask."""
    first_gt = np.asarray(first_gt)
    if first_gt.dtype == bool:
        return None
    ids = [int(v) for v in np.unique(first_gt) if v != 0]
    return ids if len(ids) > 1 else None


def sequence_scores(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray]) -> dict[str, Any]:
    """J and F of one sequence, averaged over frames 1..N-1 (frame 0 is the given mask).

    Binary masks (any nonzero value is the object) are the common case. When the first
    ground-truth frame is an integer label map with several nonzero ids, each id present
    there is scored separately (``pred == id`` against ``gt == id``) and the per-frame J
    and F are the mean over those objects. (davis2017-evaluation instead treats every
    object as its own entry in the final mean over the dataset.)
    """
    if len(preds) != len(gts):
        raise ValueError(f"{len(preds)} predictions for {len(gts)} ground-truth frames")
    if len(gts) < 2:
        raise ValueError("a sequence needs at least 2 frames (frame 0 is not scored)")
    ids = _object_ids(gts[0])
    j_per_frame: list[float] = []
    f_per_frame: list[float] = []
    for pred, gt in zip(preds[1:], gts[1:]):
        pred, gt = np.asarray(pred), np.asarray(gt)
        pairs = [(pred, gt)] if ids is None else [(pred == k, gt == k) for k in ids]
        j_per_frame.append(float(np.mean([region_similarity(p, g) for p, g in pairs])))
        f_per_frame.append(float(np.mean([boundary_f_measure(p, g) for p, g in pairs])))
    j, f = float(np.mean(j_per_frame)), float(np.mean(f_per_frame))
    return {
        "J": j,
        "F": f,
        "JF": (j + f) / 2,
        "J_per_frame": j_per_frame,
        "F_per_frame": f_per_frame,
        "frames": len(j_per_frame),
    }


def summarize(per_sequence: dict[str, dict[str, Any]]) -> dict[str, float | int]:
    """Dataset means of J, F and J&F: the mean of per-sequence means (DAVIS protocol)."""
    if not per_sequence:
        raise ValueError("no sequences to summarize")
    j = float(np.mean([s["J"] for s in per_sequence.values()]))
    f = float(np.mean([s["F"] for s in per_sequence.values()]))
    return {"J": j, "F": f, "JF": (j + f) / 2, "sequences": len(per_sequence)}
