"""LWL: per object, a linear target module fitted by the trained few-shot learner on a memory
of (features, mask) samples; its D-channel encoding is decoded into the object's mask.

First frame: the mask's labels and weights (E, W) and `init_iterations` steepest-descent
steps from tau = 0. Each later frame: the module's encoding is decoded (probabilities at
stride 4); frames with confident objects enter the memory with their predicted
probabilities, and `update_iterations` steps continue from the current module every
`update_interval` frames. Objects given by a box take their first mask from the network's box
encoder (bounded by the box) when it has one, age their samples faster and let the first
one go (paper Sec. 3.7). The loop itself is `tracker.Tracker`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ...backbone.features import Features
from ..base import FeatureExtractor, SegmentationMethod
from .params import LWLParams
from .tracker import Tracker
from .weights import check_channels, load

if TYPE_CHECKING:
    from ...config import EngineConfig


class LWLMethod(SegmentationMethod):
    aggregation = "soft"

    params: LWLParams  # config.lwl

    def __init__(self, config: "EngineConfig", extract: FeatureExtractor, device: torch.device):
        super().__init__(config, extract, device)
        self.tracker = Tracker(load(self.params.weights, config.backbone.name).to(device), self.params)
        self._checked = False
        self._predicted: list[int] = []

    def _levels(self, features: Features) -> dict[int, torch.Tensor]:
        if not self._checked:
            check_channels(self.tracker.net, self.params.weights, features.levels)
            self._checked = True
        return features.levels

    def add_object(self, object_id: int, image: torch.Tensor, features: Features,
                   mask: torch.Tensor) -> None:
        self.tracker.add(object_id, self._levels(features), mask)

    def add_object_from_box(self, object_id: int, image: torch.Tensor, features: Features,
                            mask: torch.Tensor, box: tuple[int, int, int, int]) -> None:
        levels = self._levels(features)
        encoded = self.tracker.box_mask(levels, box, tuple(mask.shape))
        self.tracker.add(object_id, levels, mask if encoded is None else encoded, from_box=True)

    def remove_object(self, object_id: int) -> None:
        self.tracker.remove(object_id)

    def predict(self, features: Features) -> dict[int, torch.Tensor]:
        self._predicted = list(self.tracker.targets)
        return self.tracker.predict(self._levels(features))

    def update(self, features: Features, probs: dict[int, torch.Tensor], masks: dict[int, torch.Tensor],
               confidence: dict[int, float]) -> None:
        threshold = self.params.memory_min_confidence
        stored = [i for i in self._predicted if confidence.get(i, 0.0) >= threshold and i in probs]
        self.tracker.update(self._levels(features), probs, stored)

    def memory_footprint(self) -> dict[int, int]:
        return self.tracker.memory_footprint()

    def reconfigure(self, config: "EngineConfig") -> None:
        super().reconfigure(config)
        self.tracker.params = self.params


Method = LWLMethod
