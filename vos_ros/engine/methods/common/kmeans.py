"""Spherical k-means on L2-normalised embeddings (torch, runs on the embeddings' device)."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def spherical_kmeans(x: torch.Tensor, k: int, iters: int = 20,
                     generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Cluster rows of x (N, C) by cosine similarity.

    Returns (centroids (k', C) L2-normalised, assignment (N,) int64) with k' = min(k, N).
    Initialisation is k-means++ on cosine distance, so results are deterministic for a
    given generator; empty clusters are re-seeded with the worst-fitting point.
    """
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError("spherical_kmeans needs a non-empty (N, C) tensor")
    x = F.normalize(x.float(), dim=1)
    n = x.shape[0]
    k = min(k, n)
    first = int(torch.randint(n, (1,), generator=generator, device="cpu"))
    centroids = [x[first]]
    best_sim = x @ x[first]
    for _ in range(1, k):
        dist = (1 - best_sim).clamp(min=0)
        total = float(dist.sum())
        if total <= 1e-12:
            idx = int(torch.randint(n, (1,), generator=generator, device="cpu"))
        else:
            probs = (dist / total).cpu()
            idx = int(torch.multinomial(probs, 1, generator=generator))
        centroids.append(x[idx])
        best_sim = torch.maximum(best_sim, x @ x[idx])
    c = torch.stack(centroids)
    assign = torch.zeros(n, dtype=torch.long, device=x.device)
    for _ in range(iters):
        sim = x @ c.T
        best, new_assign = sim.max(dim=1)
        sums = torch.zeros_like(c).index_add_(0, new_assign, x)
        counts = torch.bincount(new_assign, minlength=k)
        empty = counts == 0
        if bool(empty.any()):
            worst = torch.argsort(best)[: int(empty.sum())]
            sums[empty] = x[worst]
        c = F.normalize(sums, dim=1)
        if bool((new_assign == assign).all()) and not bool(empty.any()):
            assign = new_assign
            break
        assign = new_assign
    return c, assign
