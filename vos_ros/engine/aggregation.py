"""Combining per-object foreground probabilities into one distribution over labels."""
from __future__ import annotations

import torch

_EPS = 1e-5


def soft_aggregate(probs: torch.Tensor) -> torch.Tensor:
    """Soft aggregation (RGMP / FRTM-VOS) of independent per-object probabilities.

    probs: (K, H, W) foreground probability of each object, each from its own model.
    Returns (K+1, H, W): background first, normalised over labels. The background
    probability is prod(1 - p_k); each label's odds p / (1 - p) are renormalised (a softmax
    over log-odds). Written as elementwise loops over the few labels, which is much faster
    on CPU than reductions over a short leading dimension.
    """
    p = probs.clamp(_EPS, 1 - _EPS)
    background = torch.ones_like(p[0])
    for pk in p:
        background = background * (1 - pk)
    background = background.clamp(_EPS, 1 - _EPS)
    odds = [background / (1 - background)] + [pk / (1 - pk) for pk in p]
    total = odds[0].clone()
    for o in odds[1:]:
        total += o
    return torch.stack([o / total for o in odds])


def argmax_aggregate(probs: torch.Tensor, background_threshold: float) -> torch.Tensor:
    """VideoMatch fusion: each pixel goes to its most probable object, or to the background
    when that object's probability is below `background_threshold` (c2).

    Returns (K+1, H, W) whose argmax is the fused label map: the background channel is 1
    where the best object is below c2 and 0 elsewhere (so any object >= c2 wins)."""
    best = probs[0].clone()
    for pk in probs[1:]:
        best = torch.maximum(best, pk)
    background = (best < background_threshold).to(probs.dtype)
    return torch.cat([background[None], probs], dim=0)


def normalized_aggregate(probs: torch.Tensor) -> torch.Tensor:
    """For methods whose object probabilities are already normalised with the background
    (visual words): the background is the remainder."""
    background = torch.ones_like(probs[0])
    for pk in probs:
        background -= pk
    return torch.cat([background.clamp(min=0)[None], probs], dim=0)


def aggregate(probs: torch.Tensor, mode: str, background_threshold: float = 0.4) -> torch.Tensor:
    """Dispatch on the method's aggregation mode ("soft", "argmax", "normalized")."""
    if mode == "soft":
        return soft_aggregate(probs)
    if mode == "argmax":
        return argmax_aggregate(probs, background_threshold)
    if mode == "normalized":
        return normalized_aggregate(probs)
    raise ValueError(f"unknown aggregation mode {mode!r}")
