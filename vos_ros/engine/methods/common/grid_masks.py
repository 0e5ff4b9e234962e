"""Masks on a method's feature grid (stride 8 or 16 cells) and the outlier test built on them.

Methods keep an object's previous mask as grid cells: cells it touches (optionally dilated,
the "anchor" of VideoMatch-style outlier removal), cells mostly inside it (for sampling its
features), and an eroded version of the latter. A predicted region whose connected component
does not touch the anchor is an outlier (a look-alike elsewhere in the image).
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F


def unanchored_regions(mask: np.ndarray, anchor: np.ndarray) -> np.ndarray:
    """Pixels of `mask` whose 8-connected component shares no pixel with `anchor` (bool)."""
    n, comps = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros(mask.shape, bool)
    dropped = np.ones(n, bool)  # per component (0 = background, never in `mask`)
    dropped[comps[anchor & mask]] = False
    return mask & dropped[comps]


def grid_mask(mask: torch.Tensor, size: tuple[int, int], dilation: int = 0,
              stride: float | None = None) -> torch.Tensor:
    """(H, W) bool mask -> (h, w) bool: cells touching the mask dilated by `dilation` px
    of the processing resolution, where a cell spans `stride` px (default: the mask's own
    pixels per cell, for a mask at processing resolution); square, rounded up to whole
    cells, so the cost does not grow with the radius. A stack (K, H, W) gives (K, h, w)."""
    stack = mask.dim() == 3
    m = mask if stack else mask[None]
    touched = F.adaptive_max_pool2d(m.float()[None], size)
    cells = math.ceil(dilation / (stride or mask.shape[-2] / size[0]))
    if cells > 0:
        touched = F.max_pool2d(touched, 2 * cells + 1, stride=1, padding=cells)
    out = touched[0] > 0
    return out if stack else out[0]


def object_cells(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(H, W) mask -> (h, w) bool cells mostly inside it (every touched cell for tiny masks)."""
    frac = F.adaptive_avg_pool2d(mask.float()[None, None], size)[0, 0]
    cells = frac >= 0.5
    return cells if bool(cells.any()) else frac > 0


def erode_cells(cells: torch.Tensor) -> torch.Tensor:
    """Erode a (h, w) bool grid by one cell (3x3)."""
    return -F.max_pool2d(-cells.float()[None, None], 3, stride=1, padding=1)[0, 0] > 0
