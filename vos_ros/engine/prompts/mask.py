"""A mask prompt: checked on the frame, then resized to processing resolution."""
from __future__ import annotations

import cv2
import numpy as np
import torch


def validate_mask(mask: np.ndarray, height: int, width: int) -> np.ndarray:
    """(H, W) or (H, W, 1) mask of the frame (nonzero = object) -> (H, W) bool; ValueError
    with the reason when its size differs, it has NaN/inf values or it is empty."""
    mask = np.asarray(mask)
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[:, :, 0]
    if mask.shape != (height, width):
        raise ValueError(f"mask is {mask.shape[1] if mask.ndim > 1 else '?'}x{mask.shape[0]}, "
                         f"the frame is {width}x{height}: they must match")
    if mask.dtype.kind == "f" and not np.isfinite(mask).all():
        raise ValueError("mask contains NaN/inf values")
    if not mask.any():
        raise ValueError("mask is empty (no nonzero pixel)")
    return mask != 0


def resize_mask(mask: np.ndarray, size: tuple[int, int], device: torch.device) -> torch.Tensor:
    """(H, W) bool mask -> (h, w) float {0, 1} on `device` by area (tiny objects keep every
    touched pixel)."""
    ph, pw = size
    small = cv2.resize(mask.astype(np.float32), (pw, ph), interpolation=cv2.INTER_AREA)
    out = small > 0.5
    if not out.any():
        out = small > 0
    return torch.from_numpy(out.astype(np.float32)).to(device)
