"""The object's region on the feature grid: its box enlarged (e-OSVOS's box propagation)."""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F


class Region(NamedTuple):
    """Grid cells [y0, y1) x [x0, x1)."""

    y0: int
    y1: int
    x0: int
    x1: int

    def crop(self, x: torch.Tensor) -> torch.Tensor:
        """The region of (..., h, w) `x`."""
        return x[..., self.y0:self.y1, self.x0:self.x1]

    def scaled(self, factor: float, size: tuple[int, int]) -> "Region":
        """The region grown about its centre by `factor`, clipped to the grid."""
        cy, cx = (self.y0 + self.y1) / 2, (self.x0 + self.x1) / 2
        hh, hw = (self.y1 - self.y0) * factor / 2, (self.x1 - self.x0) * factor / 2
        return _clipped(cy - hh, cy + hh, cx - hw, cx + hw, size)


def _clipped(y0: float, y1: float, x0: float, x1: float, size: tuple[int, int]) -> Region:
    h, w = size
    y0, x0 = min(h - 1, max(0, math.floor(y0))), min(w - 1, max(0, math.floor(x0)))
    return Region(y0, max(y0 + 1, min(h, math.ceil(y1))), x0, max(x0 + 1, min(w, math.ceil(x1))))


def on_grid(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(H, W) mask of any resolution -> (h, w) float share of each grid cell it covers."""
    return F.adaptive_avg_pool2d(mask.float()[None, None], size)[0, 0]


def mask_region(cells: torch.Tensor, margin: float, min_cells: int) -> Region | None:
    """The box of (h, w) grid coverage `cells` (cells above half, else any covered), each side
    enlarged by `margin` of the box's side and to at least `min_cells`; None when empty."""
    for keep in (cells > 0.5, cells > 0):
        ys, xs = torch.nonzero(keep, as_tuple=True)
        if len(ys):
            break
    else:
        return None
    y0, y1 = float(ys.min()), float(ys.max()) + 1
    x0, x1 = float(xs.min()), float(xs.max()) + 1
    py = max(margin * (y1 - y0), (min_cells - (y1 - y0)) / 2)
    px = max(margin * (x1 - x0), (min_cells - (x1 - x0)) / 2)
    return _clipped(y0 - py, y1 + py, x0 - px, x1 + px, tuple(cells.shape))
