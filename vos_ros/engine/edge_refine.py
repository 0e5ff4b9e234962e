"""Edge-aware refinement of upsampled probability maps (used without a trained refiner).

A guided filter (He et al.) with the colour frame as guide snaps the blurry upsampled
score map to image edges. `cv2.ximgproc` (opencv-contrib) provides it; the filter object
is built once per frame and applied to every object's map.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch


class GuidedRefiner:
    """Guided filter over one frame; `refine` each object's probability map with it."""

    def __init__(self, guide_rgb: np.ndarray, radius: int, eps: float):
        guide = guide_rgb.astype(np.float32) / 255.0
        self._filter = cv2.ximgproc.createGuidedFilter(guide, radius, eps)

    def refine(self, probs: torch.Tensor) -> torch.Tensor:
        """probs: (K, H, W) in [0, 1] at the guide's size -> filtered, clipped to [0, 1]."""
        out = []
        for p in probs:
            src = p.detach().float().cpu().numpy()
            out.append(torch.from_numpy(self._filter.filter(src)))
        return torch.stack(out).clamp_(0, 1).to(probs.device, probs.dtype)
