"""The upsample stage: each object's coarse score map -> its probability map on the output
grid, where labels are decided (then resized to the frame by pipeline/label_upscale).

This is the place of the mask decoder. `MaskUpsampler` is the interface: it gets the
per-object maps of the method and the frame (`ProcessedFrame`: the image tensor, the
backbone's multi-scale `Features` and the RGB guide) and returns (K, h, w) probabilities in
[0, 1] at one resolution with the frame's aspect (the processing resolution or below).
`DecodedUpsample` runs the learned decoder (`decoder` setting); the default,
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

    #: how its maps are combined into labels: None = the method's own aggregation; "soft" =
    #: they are independent per-object probabilities (soft aggregation, score threshold)
    aggregation: str | None = None

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


class DecodedUpsample(MaskUpsampler):
    """A learned mask decoder (engine/learned/decoder.py) over the backbone's features, each
    object decoded in its region (where its coarse score reaches `decoder_region_floor`, plus
    a margin); outputs at stride 4 of the processing resolution, 0 outside the region."""

    aggregation = "soft"

    def __init__(self, config: RefineConfig, decoder: torch.nn.Module):
        self.config = config
        self.decoder = decoder

    def reconfigure(self, config: RefineConfig) -> None:
        self.config = config

    def __call__(self, scores: list[torch.Tensor], frame: ProcessedFrame) -> torch.Tensor:
        return self.upsample(torch.stack([p.reshape(p.shape[-2:]).float() for p in scores]), frame)

    def upsample(self, coarse: torch.Tensor, frame: ProcessedFrame) -> torch.Tensor:
        levels = frame.features.levels
        h8, w8 = levels[8].shape[-2:]
        encoded = self.decoder.encode(levels)
        out = torch.zeros((coarse.shape[0], *levels[4].shape[-2:]), device=levels[4].device)
        for k in range(coarse.shape[0]):
            scores = F.interpolate(coarse[k][None, None], size=(h8, w8), mode="bilinear", align_corners=False)
            window = decoder_region(scores[0, 0] >= self.config.decoder_region_floor)
            if window is None:
                continue
            y0, y1, x0, x1 = window  # stride-8 cells, even (stride-16 aligned)
            crop = tuple(g[..., y0 * 8 // s:y1 * 8 // s, x0 * 8 // s:x1 * 8 // s]
                         for g, s in zip(encoded, (16, 8, 4)))
            logits = self.decoder.decode(crop, scores[..., y0:y1, x0:x1])[0, 0]
            out[k, 2 * y0:2 * y0 + logits.shape[0], 2 * x0:2 * x0 + logits.shape[1]] = torch.sigmoid(logits)
        return out


def decoder_region(active: torch.Tensor, margin: float = 0.5, min_margin: int = 4
                   ) -> tuple[int, int, int, int] | None:
    """Window (y0, y1, x0, x1) on the grid of `active` (h, w) around its true cells: their
    bounding box grown by `margin` of its size (at least `min_margin` cells) on each side,
    snapped to even cells and clipped to the grid; None when nothing is active."""
    rows = torch.nonzero(active.any(dim=1)).flatten()
    if rows.numel() == 0:
        return None
    cols = torch.nonzero(active.any(dim=0)).flatten()
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    my, mx = max(min_margin, int(margin * (y1 - y0))), max(min_margin, int(margin * (x1 - x0)))
    h, w = active.shape
    y0, x0 = max(0, y0 - my) // 2 * 2, max(0, x0 - mx) // 2 * 2
    y1, x1 = min(h, (y1 + my + 1) // 2 * 2), min(w, (x1 + mx + 1) // 2 * 2)
    return y0, max(y1, y0 + 2), x0, max(x1, x0 + 2)


def build_upsampler(config: RefineConfig, decoder: torch.nn.Module | None = None) -> MaskUpsampler:
    """The upsample stage: the learned decoder when one is loaded, else the guided filter."""
    return GuidedUpsample(config) if decoder is None else DecodedUpsample(config, decoder)
