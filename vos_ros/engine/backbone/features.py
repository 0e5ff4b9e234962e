"""Backbone features of one frame, shared by every object and method."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass
class Features:
    """Feature maps of one image keyed by stride (e.g. {4: .., 8: .., 16: ..}), each (N, C, h, w).

    `image_size` is the (H, W) of the backbone input (processing resolution).
    """

    levels: dict[int, torch.Tensor]
    image_size: tuple[int, int]
    _fused: dict[int, torch.Tensor] = field(default_factory=dict, repr=False)

    def fused_levels(self, stride: int) -> list[torch.Tensor]:
        """The levels `fused(stride)` concatenates, finest first: stride 8 -> [s8, s16]."""
        strides = tuple(s for s in sorted(self.levels) if stride <= s <= 16)
        if not strides or strides[0] != stride:
            raise ValueError(f"no stride-{stride} features (have {sorted(self.levels)})")
        return [self.levels[s] for s in strides]

    def fused(self, stride: int) -> torch.Tensor:
        """Target-model input at `stride`: that level, with every coarser level (up to 16)
        bilinearly upsampled and concatenated. stride 16 -> s16; stride 8 -> [s8, up(s16)].
        Cached, so all objects share one computation per frame."""
        if stride not in self._fused:
            base, *coarser = self.fused_levels(stride)
            size = base.shape[-2:]
            parts = [base] + [F.interpolate(t, size=size, mode="bilinear", align_corners=False) for t in coarser]
            self._fused[stride] = torch.cat(parts, dim=1) if len(parts) > 1 else base
        return self._fused[stride]

