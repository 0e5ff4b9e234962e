"""The upsample stage: each object's coarse score map -> its probability map on the output
grid, where labels are decided (then resized to the frame by pipeline/label_upscale).

This is the place of a mask decoder. `MaskUpsampler` is the interface: it gets the
per-object maps of the method and the frame (`ProcessedFrame`: the image tensor, the
backbone's multi-scale `Features` and the RGB guide) and returns (K, h, w) probabilities in
[0, 1] at one resolution with the frame's aspect (the processing resolution or below). A
learned decoder implements it and is chosen in `build_upsampler`. The default,
`GuidedUpsample`, edge-refines the maps with a guided filter (pipeline/edge_refine.py).
Maps that already are at processing resolution (a method with its own decoder) pass through.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch
import torch.nn.functional as F

from ..config import RefineConfig
from ..frames import ProcessedFrame
from .edge_refine import GuidedRefiner


class MaskUpsampler(ABC):
    """Per-object coarse maps + the frame -> (K, h, w) output probabilities."""

    def __call__(self, scores: list[torch.Tensor], frame: ProcessedFrame) -> torch.Tensor:
        size = frame.size
        if all(tuple(p.shape[-2:]) == size for p in scores):
            return torch.stack([p.float() for p in scores])
        return self.upsample(torch.stack([p.reshape(p.shape[-2:]).float() for p in scores]), frame)

    @abstractmethod
    def upsample(self, coarse: torch.Tensor, frame: ProcessedFrame) -> torch.Tensor:
        """(K, h', w') coarse probabilities -> (K, h, w) output probabilities."""

    def reconfigure(self, config: RefineConfig) -> None:
        """Adopt changed run-time settings."""


class GuidedUpsample(MaskUpsampler):
    """Guided-filter edge refinement, kept at the filter's working resolution (height
    `guided_height`); without the filter, bilinear upsampling to processing resolution."""

    def __init__(self, config: RefineConfig):
        self.config = config

    def reconfigure(self, config: RefineConfig) -> None:
        self.config = config

    def upsample(self, coarse: torch.Tensor, frame: ProcessedFrame) -> torch.Tensor:
        rc, size = self.config, frame.size
        if rc.guided_filter:
            scale = min(1.0, rc.guided_height / size[0]) if rc.guided_height > 0 else 1.0
            refiner = GuidedRefiner(frame.guide, rc.guided_radius, rc.guided_eps, scale, rc.guided_gray,
                                    rc.guided_floor)
            return refiner.refine(coarse, full_size=False)
        return F.interpolate(coarse[None], size=size, mode="bilinear", align_corners=False)[0]


def build_upsampler(config: RefineConfig) -> MaskUpsampler:
    """The upsample stage the settings describe (a learned decoder plugs in here)."""
    return GuidedUpsample(config)
