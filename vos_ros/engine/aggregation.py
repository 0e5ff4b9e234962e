"""Combining per-object foreground probabilities into one distribution over labels."""
from __future__ import annotations

import torch

_EPS = 1e-5


def soft_aggregate(probs: torch.Tensor) -> torch.Tensor:
    """Soft aggregation (RGMP / FRTM-VOS) of independent per-object probabilities.

    probs: (K, H, W) foreground probability of each object, each from its own model.
    Returns (K+1, H, W): background first, normalised over labels. The background
    probability is prod(1 - p_k); every label's odds are renormalised with a softmax.
    """
    p = probs.clamp(_EPS, 1 - _EPS)
    background = (1 - p).prod(dim=0, keepdim=True).clamp(_EPS, 1 - _EPS)
    all_p = torch.cat([background, p], dim=0)
    return torch.softmax(torch.log(all_p) - torch.log1p(-all_p), dim=0)


def argmax_aggregate(probs: torch.Tensor, background_threshold: float) -> torch.Tensor:
    """VideoMatch fusion: each pixel goes to its most probable object, or to the background
    when that object's probability is below `background_threshold`.

    Returns (K+1, H, W) with the background channel set to 1 - max_k p_k, or 1 where the
    best object is below the threshold, so argmax gives the fused label map.
    """
    best, _ = probs.max(dim=0, keepdim=True)
    background = torch.where(best < background_threshold, torch.ones_like(best), 1 - best)
    return torch.cat([background, probs], dim=0)


def normalized_aggregate(probs: torch.Tensor) -> torch.Tensor:
    """For methods whose object probabilities are already normalised with the background
    (visual words): the background is the remainder."""
    background = (1 - probs.sum(dim=0, keepdim=True)).clamp(min=0)
    return torch.cat([background, probs], dim=0)


def aggregate(probs: torch.Tensor, mode: str, background_threshold: float = 0.4) -> torch.Tensor:
    """Dispatch on the method's aggregation mode ("soft", "argmax", "normalized")."""
    if mode == "soft":
        return soft_aggregate(probs)
    if mode == "argmax":
        return argmax_aggregate(probs, background_threshold)
    if mode == "normalized":
        return normalized_aggregate(probs)
    raise ValueError(f"unknown aggregation mode {mode!r}")
