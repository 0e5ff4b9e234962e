"""The outlier test of the methods: a predicted region must touch the object's previous mask
dilated by `dilation` pixels (its "anchor", on the feature grid), else it is a look-alike
elsewhere in the image and is dropped. An object whose previous mask is empty has no anchor
and is searched everywhere."""
from __future__ import annotations

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
