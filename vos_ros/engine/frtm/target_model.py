"""The FRTM-VOS target model D(x) = w2 * (w1 * x) and its Gauss-Newton / conjugate-gradient fit.

w1: 1x1 conv C -> P (projection), w2: 3x3 conv P -> 1; no biases. The loss over samples k is

    L(w) = sum_k || v_k * (D(x_k; w) - y_k) ||^2 + lambda * (||w1||^2 + ||w2||^2)

where v_k folds in the sample weight (sqrt) and the per-pixel weighting. Each Gauss-Newton
step linearises the residual and solves (J^T J + lambda I) dw = -(J^T r + lambda w) with a few
conjugate-gradient iterations; J and J^T are applied with convolutions, never formed.
When w1 is frozen (online updates) the projected features P = w1 * x are cached and the
problem is linear least squares in w2, which GN solves in one step.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch.nn.grad import conv2d_weight


@dataclass
class TargetModel:
    """Weights of D: w1 (P, C, 1, 1) and w2 (1, P, 3, 3)."""

    w1: torch.Tensor
    w2: torch.Tensor

    @classmethod
    def from_pca(cls, x: torch.Tensor, channels: int) -> "TargetModel":
        """w1 = top principal directions of the features x (N, C, h, w); w2 = 0."""
        c = x.shape[1]
        flat = x.permute(1, 0, 2, 3).reshape(c, -1)
        flat = flat[:, :: max(1, flat.shape[1] // 20000)]  # subsample pixels for speed
        u, _, _ = torch.linalg.svd(flat @ flat.T)
        p = min(channels, c)
        w1 = u[:, :p].T.contiguous()
        if p < channels:  # more projection channels than features: pad with small noise
            w1 = torch.cat([w1, 1e-3 * torch.randn(channels - p, c, device=x.device)])
        scale = flat.norm(dim=0).mean().clamp(min=1e-6)
        return cls((w1 / scale).reshape(channels, c, 1, 1),
                   torch.zeros(1, channels, 3, 3, device=x.device))

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.w1)

    def score_projected(self, p: torch.Tensor) -> torch.Tensor:
        return F.conv2d(p, self.w2, padding=1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.score_projected(self.project(x))


def pixel_weights(y: torch.Tensor, kappa_min: float) -> torch.Tensor:
    """Per-pixel weights of the squared residual balancing target and background (FRTM-VOS):
    with a = target fraction of the sample and kappa = max(kappa_min, a), target pixels weigh
    kappa / a and background pixels (1 - kappa) / (1 - a). A small target (a < kappa_min)
    thus gets the total weight kappa_min. y: (N, 1, h, w) in [0, 1]; returns weights whose
    square root multiplies the residual."""
    n_pix = y.shape[-1] * y.shape[-2]
    a = y.mean(dim=(1, 2, 3), keepdim=True)
    a = torch.where(a * n_pix < 10, torch.full_like(a, kappa_min), a).clamp(1e-6, 1 - 1e-6)
    kappa = a.clamp(min=kappa_min)
    return (kappa / a) * y + ((1 - kappa) / (1 - a)) * (1 - y)


def _cg(apply_a, b: list[torch.Tensor], iters: int) -> list[torch.Tensor]:
    """Conjugate gradient for A z = b over a list of tensors (block vector), z0 = 0."""
    z = [torch.zeros_like(t) for t in b]
    r = [t.clone() for t in b]
    p = [t.clone() for t in r]
    rr = sum((t * t).sum() for t in r)
    for _ in range(iters):
        if float(rr) < 1e-20:
            break
        ap = apply_a(p)
        alpha = rr / sum((a * q).sum() for a, q in zip(ap, p)).clamp(min=1e-30)
        z = [zi + alpha * pi for zi, pi in zip(z, p)]
        r = [ri - alpha * api for ri, api in zip(r, ap)]
        rr_new = sum((t * t).sum() for t in r)
        p = [ri + (rr_new / rr) * pi for ri, pi in zip(r, p)]
        rr = rr_new
    return z


def loss(model: TargetModel, x: torch.Tensor, y: torch.Tensor, v: torch.Tensor,
         reg: float) -> float:
    """Value of the FRTM objective (for tests and diagnostics)."""
    r = v * (model(x) - y)
    return float((r * r).sum() + reg * ((model.w1 ** 2).sum() + (model.w2 ** 2).sum()))


def fit_full(model: TargetModel, x: torch.Tensor, y: torch.Tensor, v: torch.Tensor, reg: float,
             gn_steps: int, cg_iters_first: int, cg_iters: int) -> TargetModel:
    """Gauss-Newton over both w1 and w2 (first frame). x (N, C, h, w), y and v (N, 1, h, w);
    v already includes sqrt(sample weight)."""
    v2 = v * v
    w1, w2 = model.w1.clone(), model.w2.clone()
    for step in range(gn_steps):
        p = F.conv2d(x, w1)
        res = F.conv2d(p, w2, padding=1) - y

        def jt(u: torch.Tensor) -> list[torch.Tensor]:
            g2 = conv2d_weight(p, w2.shape, u, padding=1)
            up = F.conv_transpose2d(u, w2, padding=1)
            g1 = torch.einsum("nchw,nkhw->kc", x, up).reshape(w1.shape)
            return [g1, g2]

        def apply_a(d: list[torch.Tensor]) -> list[torch.Tensor]:
            jd = F.conv2d(F.conv2d(x, d[0]), w2, padding=1) + F.conv2d(p, d[1], padding=1)
            g = jt(v2 * jd)
            return [g[0] + reg * d[0], g[1] + reg * d[1]]

        g = jt(v2 * res)
        rhs = [-(g[0] + reg * w1), -(g[1] + reg * w2)]
        d = _cg(apply_a, rhs, cg_iters_first if step == 0 else cg_iters)
        w1, w2 = w1 + d[0], w2 + d[1]
    return TargetModel(w1, w2)


def fit_w2(model: TargetModel, p: torch.Tensor, y: torch.Tensor, v: torch.Tensor, reg: float,
           cg_iters: int) -> TargetModel:
    """Update w2 only on cached projected features p (N, P, h, w) - a linear least-squares
    problem, so one Gauss-Newton step warm-started at the current w2."""
    v2 = v * v
    w2 = model.w2
    res = F.conv2d(p, w2, padding=1) - y

    def apply_a(d: list[torch.Tensor]) -> list[torch.Tensor]:
        jd = F.conv2d(p, d[0], padding=1)
        return [conv2d_weight(p, w2.shape, v2 * jd, padding=1) + reg * d[0]]

    g = conv2d_weight(p, w2.shape, v2 * res, padding=1)
    d = _cg(apply_a, [-(g + reg * w2)], cg_iters)
    return TargetModel(model.w1, w2 + d[0])
