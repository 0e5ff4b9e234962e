"""Appearance evidence of a predicted mask and the calibrated object score.

Per object, a reference appearance: the mean L2-normalised stride-16 backbone feature
inside its mask on the frame it was added on, plus the same for its last confirmed frame
(one whose calibrated score reached `CONFIRM_SCORE`). A predicted mask's evidence is the
cosine similarity of its own mean feature to the closer of the two. Look-alikes on frames
where the object is not in view match a method's model (high mean probability) but not
the object's appearance (docs/RESULTS.md, "Robust tracking").

The calibrated score is an estimate of the mask's IoU with the truth:
sigmoid(w0 + w1 * mean probability inside the mask + w2 * appearance similarity), with
coefficients fitted per method on the training set (a method's `score_calibration`).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..backbone.features import Features

#: the backbone level the appearance is read from
EVIDENCE_STRIDE = 16
#: the calibrated score at which a mask's appearance becomes the object's recent reference
CONFIRM_SCORE = 0.6


def _prototype(level: torch.Tensor, mask: torch.Tensor) -> torch.Tensor | None:
    """Unit mean feature of (C, h, w) unit features under a (H, W) mask; None if empty."""
    weight = F.adaptive_avg_pool2d(mask.float()[None, None], level.shape[-2:])[0, 0]
    total = float(weight.sum())
    if total <= 1e-6:
        return None
    return F.normalize((level * weight).sum((1, 2)) / total, dim=0)


def calibrated_score(probability: float, similarity: float, weights: tuple[float, float, float]) -> float:
    """Estimated IoU of a mask from its mean probability and appearance similarity."""
    w0, w1, w2 = weights
    return 1.0 / (1.0 + math.exp(-(w0 + w1 * probability + w2 * similarity)))


class AppearanceEvidence:
    """Reference appearances of the objects and the similarity of new masks to them."""

    def __init__(self) -> None:
        self._first: dict[int, torch.Tensor] = {}
        self._recent: dict[int, torch.Tensor] = {}
        self._level: tuple[Features, torch.Tensor] | None = None

    def _unit_level(self, features: Features) -> torch.Tensor:
        if self._level is None or self._level[0] is not features:
            self._level = (features, F.normalize(features.levels[EVIDENCE_STRIDE][0].float(), dim=0))
        return self._level[1]

    def add(self, object_id: int, features: Features, mask: torch.Tensor) -> None:
        """Learn an object's reference from its (H, W) mask (any resolution)."""
        proto = _prototype(self._unit_level(features), mask)
        if proto is None:
            raise ValueError("the object's mask is empty")
        self._first[object_id] = proto
        self._recent.pop(object_id, None)

    def remove(self, object_id: int) -> None:
        self._first.pop(object_id, None)
        self._recent.pop(object_id, None)

    def similarity(self, object_id: int, features: Features, mask: torch.Tensor) -> float:
        """Cosine similarity of the mask's mean feature to the object's closer reference
        (0 for an empty mask)."""
        proto = _prototype(self._unit_level(features), mask)
        if proto is None:
            return 0.0
        refs = [r for r in (self._first[object_id], self._recent.get(object_id)) if r is not None]
        return max(float(proto @ r) for r in refs)

    def confirm(self, object_id: int, features: Features, mask: torch.Tensor) -> None:
        """Remember the mask's appearance as the object's recent reference."""
        proto = _prototype(self._unit_level(features), mask)
        if proto is not None:
            self._recent[object_id] = proto
