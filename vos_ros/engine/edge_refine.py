"""Edge-aware refinement of upsampled probability maps (used without a trained refiner).

A guided filter (He et al.) with the colour frame as guide snaps the blurry upsampled
score map to image edges. `cv2.ximgproc` (opencv-contrib) provides it; the filter object
is built once per frame and applied to every object's map.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Downscale `image` to (height, width) = `size` with little aliasing: bilinear halvings
    (each averages about 2x2 pixels) down to less than twice the size, then one bilinear
    resize. As smooth as cv2's INTER_AREA and several times faster at non-integer factors."""
    h, w = size
    while image.shape[0] >= 2 * h and image.shape[1] >= 2 * w:
        image = cv2.resize(image, ((image.shape[1] + 1) // 2, (image.shape[0] + 1) // 2),
                           interpolation=cv2.INTER_LINEAR)
    if image.shape[:2] != (h, w):
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_LINEAR)
    return image


class GuidedRefiner:
    """Guided filter over one frame; `refine` each object's probability map with it.

    With scale < 1 the filter runs on a downscaled guide (radius scaled alike) and the result
    is upsampled bilinearly: most of the edge snapping for a fraction of the cost.
    """

    def __init__(self, guide_rgb: np.ndarray, radius: int, eps: float, scale: float = 1.0,
                 gray: bool = False):
        self._size = guide_rgb.shape[:2]
        if scale < 1.0:
            h, w = self._size
            guide_rgb = shrink(guide_rgb, (max(8, round(h * scale)), max(8, round(w * scale))))
            radius = max(1, round(radius * scale))
        self._work = guide_rgb.shape[:2]
        guide = guide_rgb.astype(np.float32) / 255.0
        if gray:  # one channel: no per-pixel 3x3 covariance to invert, about 4x cheaper
            guide = cv2.cvtColor(guide, cv2.COLOR_RGB2GRAY)
        self._filter = cv2.ximgproc.createGuidedFilter(guide, radius, eps)

    @property
    def work_size(self) -> tuple[int, int]:
        """(height, width) the filter runs at (the guide's size times `scale`)."""
        return self._work

    def refine(self, coarse: torch.Tensor, full_size: bool = True) -> torch.Tensor:
        """coarse: (K, h, w) probabilities at any resolution -> filtered and clipped to
        [0, 1], (K, H, W) at the guide's size (or at `work_size` when not `full_size`). All
        maps are upsampled straight to the working resolution, filtered, and upsampled
        together."""
        h, w = self._size
        src = F.interpolate(coarse.detach().float()[None], size=self._work, mode="bilinear",
                            align_corners=False)[0]
        # one map at a time: cv2's multi-channel filter is no faster and needs a transpose
        out = torch.from_numpy(np.stack([self._filter.filter(m) for m in src.cpu().numpy()]))
        if full_size and self._work != self._size:
            out = F.interpolate(out[None], size=(h, w), mode="bilinear", align_corners=False)[0]
        return out.clamp_(0, 1).to(coarse.device, torch.float32)
