"""What the session returns: per-object results and the frame's label map, and how they are
made from the working-resolution label map (`describe_objects`)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from ..config import VisibilityConfig
from .label_upscale import NearestUpscale


@dataclass
class ObjectResult:
    """One object in one frame, at the frame's resolution."""

    object_id: int
    mask: np.ndarray  # (H, W) bool; all False when not visible
    score: float  # calibrated: the mask's estimated IoU with the truth, in [0, 1] (pipeline/evidence.py)
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


class FrameDescriber:
    """Working-resolution labels and probabilities -> per-object results at frame size
    (the label upscaler is kept while the sizes stay)."""

    def __init__(self) -> None:
        self._upscale: NearestUpscale | None = None

    def __call__(self, ids: list[int], agg: torch.Tensor, labels_p: np.ndarray,
                 masks: dict[int, torch.Tensor], frame_size: tuple[int, int], vis: VisibilityConfig,
                 calibrate: Callable[[int, float], float], lost: set[int] = frozenset()
                 ) -> tuple[dict[int, ObjectResult], dict[int, float], np.ndarray]:
        """Per-object results, confidences and the (H, W) uint16 id map at frame size from
        the working-resolution label map (index k+1 = ids[k]) and each object's pixels of it
        (`masks`, on agg's device). `calibrate(id, mean probability)` gives the calibrated
        score; an object is visible when its area and that score reach the thresholds
        (`vis.regain_score` instead of `vis.min_score` for the objects in `lost`). The
        confidence of a visible object is its mean probability (0 when not visible). Boxes,
        areas and centroids are those of the frame-size masks, computed exactly on the
        working grid."""
        ph, pw = labels_p.shape
        if self._upscale is None or self._upscale.grid_size != (ph, pw) \
                or self._upscale.frame_size != frame_size:
            self._upscale = NearestUpscale((ph, pw), frame_size)
        counts = np.bincount(labels_p.ravel(), minlength=len(ids) + 1)
        lookup = np.zeros(len(ids) + 1, np.uint16)
        scores: dict[int, float] = {}
        confidence: dict[int, float] = {}
        for k, object_id in enumerate(ids):
            area_p = int(counts[k + 1])
            mean_p = float((agg[k + 1] * masks[object_id]).sum()) / area_p if area_p else 0.0
            scores[object_id] = calibrate(object_id, mean_p) if area_p else 0.0
            least = vis.regain_score if object_id in lost else vis.min_score
            visible = area_p >= vis.min_area_fraction * ph * pw and scores[object_id] >= least
            confidence[object_id] = mean_p if visible else 0.0
            lookup[k + 1] = object_id if visible else 0
        labels = self._upscale.upscale(lookup[labels_p])
        results = {}
        for k, object_id in enumerate(ids):
            stats = self._upscale.stats(labels_p == k + 1) if lookup[k + 1] else None
            if stats is None or stats.area == 0:
                results[object_id] = ObjectResult.hidden(object_id, frame_size, scores[object_id])
            else:
                results[object_id] = ObjectResult(object_id, labels == object_id, scores[object_id], True,
                                                  stats.box, stats.area, stats.centroid)
        return results, confidence, labels
