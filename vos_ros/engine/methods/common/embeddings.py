"""Per-pixel embeddings of the backbone features, shared by the feature-matching methods."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ...backbone.features import Features

#: pixels x bank size per similarity chunk (bounds memory to ~64 MB of float32)
CHUNK_ELEMENTS = 1 << 24


def chunk_rows(bank_size: int) -> int:
    """Pixels per chunk when comparing against a bank of `bank_size` rows."""
    return max(1, CHUNK_ELEMENTS // max(1, bank_size))


def embeddings(features: Features, stride: int) -> torch.Tensor:
    """(h*w, C) L2-normalised per-pixel embeddings of the first image."""
    x = features.fused(stride)[0].float()
    return F.normalize(x.reshape(x.shape[0], -1), dim=0).T.contiguous()


class EmbeddingCache:
    """The embeddings of the latest Features (each frame's are computed once)."""

    def __init__(self, stride: int):
        self.stride = stride
        self._last: tuple[Features, torch.Tensor] | None = None

    def __call__(self, features: Features) -> torch.Tensor:
        if self._last is None or self._last[0] is not features:
            self._last = (features, embeddings(features, self.stride))
        return self._last[1]


def subsample(x: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """At most `n` rows of `x`, drawn without replacement (all of them when there are few)."""
    if len(x) <= n:
        return x
    keep = torch.randperm(len(x), generator=generator)[:max(n, 0)]
    return x[keep.to(x.device)]
