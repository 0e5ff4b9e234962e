"""Combining per-object foreground probabilities into one distribution over labels."""
from __future__ import annotations

import torch

_EPS = 1e-5


def soft_aggregate(probs: torch.Tensor) -> torch.Tensor:
    """Soft aggregation (RGMP-style) of independent per-object probabilities.

    probs: (K, H, W) foreground probability of each object, each from its own model.
    Returns (K+1, H, W): background first, normalised over labels. The background
    probability is prod(1 - p_k); each label's odds p / (1 - p) are renormalised (a softmax
    over log-odds). Elementwise loops over the few labels (much faster on CPU than
    reductions over a short leading dimension), written into one output buffer.
    """
    p = probs.float().clamp(_EPS, 1 - _EPS)
    rest = 1 - p
    background = rest[0].clone()
    for rk in rest[1:]:
        background.mul_(rk)
    background.clamp_(_EPS, 1 - _EPS)
    out = torch.empty((p.shape[0] + 1, *p.shape[1:]), dtype=p.dtype, device=p.device)
    torch.div(background, 1 - background, out=out[0])
    torch.div(p, rest, out=out[1:])
    total = out[0].clone()
    for odds in out[1:]:
        total.add_(odds)
    return out.div_(total)


def label_argmax(agg: torch.Tensor, min_probability: float = 0.0) -> torch.Tensor:
    """(K+1, H, W) label distribution (channel 0 = background, K <= 255) -> (H, W) uint8
    arg-max, ties to the lower label; an elementwise running max (much faster than
    torch.argmax over a short leading dimension). A pixel whose winning object has
    probability below `min_probability` is background."""
    if agg.shape[0] > 256:
        raise ValueError("at most 255 objects fit a uint8 label map")
    best = agg[0].clone()
    labels = torch.zeros(agg.shape[1:], dtype=torch.uint8, device=agg.device)
    for k in range(1, agg.shape[0]):
        better = agg[k] > best
        labels.masked_fill_(better, k)
        torch.maximum(best, agg[k], out=best)
    if min_probability > 0:
        labels.masked_fill_(best < min_probability, 0)
    return labels


def argmax_aggregate(probs: torch.Tensor, background_threshold: float) -> torch.Tensor:
    """Argmax fusion: each pixel goes to its most probable object, or to the background
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
    by their model: the background is the remainder."""
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
