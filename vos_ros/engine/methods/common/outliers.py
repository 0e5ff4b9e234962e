"""The outlier test of the methods: a predicted region must touch the object's previous mask
dilated by `dilation` pixels (its "anchor", on the feature grid), else it is a look-alike
elsewhere in the image and is dropped. An object whose previous mask is empty has no anchor
and is searched everywhere."""
from __future__ import annotations

import math

import torch

from .grid_masks import grid_mask, unanchored_regions


def anchors(masks: torch.Tensor, size: tuple[int, int], dilation: int, stride: int
            ) -> list[torch.Tensor | None]:
    """Per mask of (K, H, W) bool: its (h, w) anchor cells, or None when the mask is empty."""
    cells = grid_mask(masks, size, dilation, stride)
    return [c if bool(c.any()) else None for c in cells]


def anchor(mask: torch.Tensor, size: tuple[int, int], dilation: int, stride: int) -> torch.Tensor | None:
    """`anchors` of one (H, W) mask."""
    return anchors(mask[None], size, dilation, stride)[0]


def unanchored(foreground: torch.Tensor, anchor_cells: torch.Tensor | None) -> torch.Tensor | None:
    """The pixels of (h, w) bool `foreground` whose 8-connected region does not touch the
    anchor (bool, on foreground's device); None without an anchor."""
    if anchor_cells is None:
        return None
    drop = unanchored_regions(foreground.cpu().numpy(), anchor_cells.cpu().numpy())
    return torch.from_numpy(drop).to(foreground.device)


def shift_cells(cells: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """(h, w) bool grid moved by (dy, dx) cells; what leaves the grid is dropped."""
    h, w = cells.shape
    out = torch.zeros_like(cells)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        cells[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


class MovingAnchor:
    """An anchor that follows the object: the previous mask, and that mask moved on by the
    displacement between the last two masks' centroids (constant velocity), both dilated
    by the largest of `dilation`, `size_fraction` x the object's size (square root of its
    area) and the displacement itself, all in pixels of the processing resolution. A fast
    or large object gets a wide window, a still small one keeps the narrow `dilation`.
    An empty mask resets it: no anchor (search everywhere), no velocity."""

    def __init__(self, dilation: int, stride: int, size_fraction: float) -> None:
        self.dilation, self.stride, self.size_fraction = dilation, stride, size_fraction
        self.centroid: torch.Tensor | None = None  # (y, x) in cells of the last mask

    def __call__(self, mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor | None:
        """The anchor cells (h, w) for the frame after `mask` (H, W bool), or None."""
        frac = torch.nn.functional.adaptive_avg_pool2d(mask.float()[None, None], size)[0, 0]
        area = float(frac.sum())
        if area <= 0:
            self.centroid = None
            return None
        ys = torch.arange(size[0], device=frac.device, dtype=frac.dtype)
        xs = torch.arange(size[1], device=frac.device, dtype=frac.dtype)
        centroid = torch.stack([(frac.sum(1) * ys).sum(), (frac.sum(0) * xs).sum()]) / area
        step = torch.zeros(2) if self.centroid is None else (centroid - self.centroid).cpu()
        self.centroid = centroid
        radius_px = max(self.dilation, self.size_fraction * math.sqrt(area) * self.stride,
                        float(step.norm()) * self.stride)
        near = grid_mask(mask, size, int(math.ceil(radius_px)), self.stride)
        dy, dx = (int(round(float(v))) for v in step)
        return near | shift_cells(near, dy, dx) if (dy or dx) else near
