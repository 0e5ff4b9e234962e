"""Segmentation losses on logits: binary cross-entropy plus a soft IoU term."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def segmentation_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """logits, target: (N, 1, H, W); target in {0, 1}. BCE + (1 - soft IoU), batch mean."""
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    inter = (p * target).sum(dim=(1, 2, 3))
    union = (p + target - p * target).sum(dim=(1, 2, 3))
    iou = (inter + 1.0) / (union + 1.0)
    return bce + (1 - iou).mean()


def batch_iou(logits: torch.Tensor, target: torch.Tensor) -> list[float]:
    """Per-sample IoU of the thresholded prediction (empty vs empty counts as 1)."""
    pred = logits > 0
    t = target > 0.5
    inter = (pred & t).sum(dim=(1, 2, 3)).float()
    union = (pred | t).sum(dim=(1, 2, 3)).float()
    return [1.0 if u == 0 else float(i / u) for i, u in zip(inter, union)]
