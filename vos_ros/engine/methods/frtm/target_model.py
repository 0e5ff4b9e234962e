"""The FRTM-VOS target model D(x) = w2 * (w1 * x) and its Gauss-Newton / conjugate-gradient fit.

w1: 1x1 conv C -> P (projection), w2: 3x3 conv P -> 1; no biases. Over samples n the loss is

    L(w) = sum_n || v_n * (D(x_n; w) - y_n) ||^2 + lambda * (||w1||^2 + ||w2||^2)

where v_n^2 folds in the sample weight and the per-pixel weighting. Each Gauss-Newton step
linearises the residual and solves (J^T V^2 J + lambda I) dw = -(J^T V^2 r + lambda w) with a
few conjugate-gradient iterations; J and J^T are applied, never formed. When w1 is frozen
(online updates) the projected features P = w1 * x are cached and the problem is linear
least squares in w2, solved by one warm-started Gauss-Newton step.

Features are kept pixel-major (N, h, w, C): the 1x1 conv is one matrix product, and the 3x3
conv with one output channel is a product with the (P, 9) tap matrix followed by a sum of
nine shifted maps, which is far cheaper on CPU than a generic 1-channel convolution.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

# tap o = ky * 3 + kx reads the pixel at offset (ky - 1, kx - 1), as a 3x3 cross-correlation
_OFFSETS = [(ky - 1, kx - 1) for ky in range(3) for kx in range(3)]


def taps_forward(q: torch.Tensor) -> torch.Tensor:
    """(N, h, w, 9) per-tap responses -> (N, h, w) 3x3 correlation output (zero padding)."""
    n, h, w, _ = q.shape
    qp = F.pad(q, (0, 0, 1, 1, 1, 1))
    out = torch.zeros(n, h, w, dtype=q.dtype, device=q.device)
    for o, (dy, dx) in enumerate(_OFFSETS):
        out += qp[:, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w, o]
    return out


def taps_adjoint(u: torch.Tensor) -> torch.Tensor:
    """Adjoint of taps_forward: (N, h, w) -> (N, h, w, 9)."""
    n, h, w = u.shape
    up = F.pad(u, (1, 1, 1, 1))
    return torch.stack([up[:, 1 - dy:1 - dy + h, 1 - dx:1 - dx + w] for dy, dx in _OFFSETS], dim=-1)


def taps_forward_planes(q: torch.Tensor) -> torch.Tensor:
    """taps_forward for tap-major responses: (9, N, h, w) -> (N, h, w) float32 (the sum is
    accumulated in float32 whatever q's type). Each tap is a contiguous plane, so the
    shifted sums stream through memory."""
    _, n, h, w = q.shape
    qp = F.pad(q, (1, 1, 1, 1))
    out = qp[0, :, 0:h, 0:w].float()  # a view of the padded copy for float32 input
    for o, (dy, dx) in enumerate(_OFFSETS[1:], start=1):
        out += qp[o, :, 1 + dy:1 + dy + h, 1 + dx:1 + dx + w]
    return out


def taps_adjoint_planes(u: torch.Tensor, dtype: torch.dtype | None = None, tap_dim: int = 0) -> torch.Tensor:
    """Adjoint of taps_forward_planes: (N, h, w) -> (9, N, h, w), in `dtype` (default u's);
    tap_dim=1 stacks the taps sample-major instead: (N, 9, h, w)."""
    n, h, w = u.shape
    up = F.pad(u if dtype is None else u.to(dtype), (1, 1, 1, 1))
    return torch.stack([up[:, 1 - dy:1 - dy + h, 1 - dx:1 - dx + w] for dy, dx in _OFFSETS], dim=tap_dim)


@dataclass
class TargetModel:
    """Weights of D: w1 (P, C) projection and w2 (P, 9) 3x3 filter taps."""

    w1: torch.Tensor
    w2: torch.Tensor

    @classmethod
    def from_pca(cls, x: torch.Tensor, channels: int) -> "TargetModel":
        """w1 = top principal directions of pixel-major features x (N, h, w, C); w2 = 0."""
        c = x.shape[-1]
        flat = x.reshape(-1, c)
        flat = flat[:: max(1, flat.shape[0] // 20000)]  # subsample pixels for speed
        u, _, _ = torch.linalg.svd(flat.T @ flat)
        p = min(channels, c)
        w1 = u[:, :p].T.contiguous()
        if p < channels:  # more projection channels than features: pad with small noise
            w1 = torch.cat([w1, 1e-3 * torch.randn(channels - p, c, device=x.device)])
        scale = flat.norm(dim=1).mean().clamp(min=1e-6)
        return cls(w1 / scale, torch.zeros(channels, 9, device=x.device))

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """(N, h, w, C) -> (N, h, w, P)."""
        return x @ self.w1.T

    def project_levels(self, levels: list[torch.Tensor]) -> torch.Tensor:
        """The projection of one image's fused levels (see levels_product) -> (h, w, P)."""
        return levels_product(self.w1, levels, pixel_major=True)

    def score_projected(self, p: torch.Tensor) -> torch.Tensor:
        """(N, h, w, P) -> (N, h, w) target scores."""
        return taps_forward(p @ self.w2)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.score_projected(self.project(x))

    def conv_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The same model as conv2d weights: (P, C, 1, 1) and (1, P, 3, 3)."""
        p, c = self.w1.shape
        return self.w1.reshape(p, c, 1, 1), self.w2.reshape(1, p, 3, 3)


def levels_product(filters: torch.Tensor, levels: list[torch.Tensor], pixel_major: bool = False) -> torch.Tensor:
    """filters (R, C) applied per pixel to the fused input x of `levels` -> (R, h, w), or
    (h, w, R) with `pixel_major`.

    x is the levels (each (1, C_i, h_i, w_i), finest first) with the coarser ones bilinearly
    upsampled to the finest size and concatenated along channels. Upsampling commutes with
    the per-pixel product, so each level is multiplied by its columns of `filters` at its own
    resolution and only the R responses are upsampled: no upsampled or concatenated
    features. The pixel-major result is computed in that layout (the upsampling runs on
    channels-last maps), not transposed afterwards."""
    size = levels[0].shape[-2:]
    q, start = None, 0
    for level in levels:
        c, (h, w) = level.shape[1], level.shape[-2:]
        columns = filters[:, start:start + c]
        if pixel_major:  # (hw, R), seen as a channels-last (1, R, h, w) map
            part = (level[0].reshape(c, -1).T @ columns.T).view(1, h, w, -1).permute(0, 3, 1, 2)
        else:
            part = (columns @ level[0].reshape(c, -1)).view(1, -1, h, w)
        if part.shape[-2:] != size:
            part = F.interpolate(part, size=size, mode="bilinear", align_corners=False)
        q = part if q is None else q.add_(part)
        start += c
    if start != filters.shape[1]:
        raise ValueError(f"the levels have {start} channels, the filters take {filters.shape[1]}")
    return q[0].permute(1, 2, 0) if pixel_major else q[0]


def score_models(models: list[TargetModel], levels: list[torch.Tensor]) -> torch.Tensor:
    """Scores of several target models on one image (fused levels, see levels_product) ->
    (K, h, w). D is linear in x: w2 * (w1 * x) = taps(x (w1^T w2)), so one product with the
    (C, 9K) combined filters gives every model's 9 tap responses: no P-channel projection."""
    filters = torch.cat([m.w1.T @ m.w2 for m in models], dim=1).T  # (9K, C)
    q = levels_product(filters, levels)
    return taps_forward_planes(q.view(len(models), 9, *q.shape[-2:]).transpose(0, 1))


def pixel_weights(y: torch.Tensor, kappa_min: float) -> torch.Tensor:
    """Per-pixel weights of the squared residual balancing target and background (FRTM-VOS):
    with a = target fraction of a sample and kappa = max(kappa_min, a), target pixels weigh
    kappa / a and background pixels (1 - kappa) / (1 - a); a sample with fewer than 10 target
    pixels uses a = kappa_min. y: (N, h, w) in [0, 1]."""
    n_pix = y.shape[-1] * y.shape[-2]
    a = y.mean(dim=(-2, -1), keepdim=True)
    a = torch.where(a * n_pix < 10, torch.full_like(a, kappa_min), a).clamp(1e-6, 1 - 1e-6)
    kappa = a.clamp(min=kappa_min)
    return (kappa / a) * y + ((1 - kappa) / (1 - a)) * (1 - y)


class ConjugateGradient:
    """Resumable conjugate gradient for A z = b, A symmetric positive definite given as a
    function on block vectors (lists of tensors), starting from z = 0. `run(n)` performs up
    to n more iterations, so a solve can be spread over several calls."""

    def __init__(self, apply_a: Callable[[list[torch.Tensor]], list[torch.Tensor]],
                 b: list[torch.Tensor]):
        self.apply_a = apply_a
        self.z = [torch.zeros_like(t) for t in b]
        self.r = [t.clone() for t in b]
        self.p = [t.clone() for t in self.r]
        self.rr = sum((t * t).sum() for t in self.r)
        self.iterations = 0

    def run(self, iters: int) -> list[torch.Tensor]:
        for _ in range(iters):
            if float(self.rr) < 1e-20:
                break
            ap = self.apply_a(self.p)
            alpha = self.rr / sum((a * q).sum() for a, q in zip(ap, self.p)).clamp(min=1e-30)
            self.z = [zi + alpha * pi for zi, pi in zip(self.z, self.p)]
            self.r = [ri - alpha * api for ri, api in zip(self.r, ap)]
            rr_new = sum((t * t).sum() for t in self.r)
            self.p = [ri + (rr_new / self.rr) * pi for ri, pi in zip(self.r, self.p)]
            self.rr = rr_new
            self.iterations += 1
        return self.z


def conjugate_gradient(apply_a: Callable[[list[torch.Tensor]], list[torch.Tensor]],
                       b: list[torch.Tensor], iters: int) -> list[torch.Tensor]:
    """Solve A z = b with `iters` CG iterations from z = 0."""
    return ConjugateGradient(apply_a, b).run(iters)


def loss(model: TargetModel, x: torch.Tensor, y: torch.Tensor, v2: torch.Tensor, reg: float) -> float:
    """Value of the objective: x (N, h, w, C), y and v2 (squared residual weights) (N, h, w)."""
    r = model(x) - y
    return float((v2 * r * r).sum() + reg * ((model.w1 ** 2).sum() + (model.w2 ** 2).sum()))


def fit_full(model: TargetModel, x: torch.Tensor, y: torch.Tensor, v2: torch.Tensor, reg: float,
             gn_steps: int, cg_iters_first: int, cg_iters: int) -> TargetModel:
    """Gauss-Newton over w1 and w2 (first frame). x (N, h, w, C); y, v2 (N, h, w)."""
    n, h, w, c = x.shape
    xf = x.reshape(-1, c)
    w1, w2 = model.w1.clone(), model.w2.clone()
    for step in range(gn_steps):
        # with P = x w1^T, the linearised output x (d1^T w2) + P d2 equals x (d1^T w2 + w1^T d2):
        # one product of the features with a (C, 9) matrix per application, and likewise
        # for the adjoint, instead of products with all P projection channels
        def jac(d: list[torch.Tensor]) -> torch.Tensor:
            return taps_forward((xf @ (d[0].T @ w2 + w1.T @ d[1])).view(n, h, w, 9))

        def jac_t(u: torch.Tensor) -> list[torch.Tensor]:
            ux = taps_adjoint(u).reshape(-1, 9).T @ xf  # (9, C)
            return [w2 @ ux, w1 @ ux.T]

        def apply_a(d: list[torch.Tensor]) -> list[torch.Tensor]:
            g = jac_t(v2 * jac(d))
            return [g[0] + reg * d[0], g[1] + reg * d[1]]

        res = taps_forward((xf @ (w1.T @ w2)).view(n, h, w, 9)) - y
        g = jac_t(v2 * res)
        d = conjugate_gradient(apply_a, [-(g[0] + reg * w1), -(g[1] + reg * w2)],
                               cg_iters_first if step == 0 else cg_iters)
        w1, w2 = w1 + d[0], w2 + d[1]
    return TargetModel(w1, w2)


class W2Update:
    """Refit of w2 on cached projected features p (N, h, w, P) with w1 frozen: a linear
    least-squares problem, solved by one Gauss-Newton step (CG, warm-started at the current
    w2). Resumable: `advance(n)` runs n more CG iterations, so a robot can spread an update
    over several frames instead of stalling one. p may be stored in bfloat16 (half the memory
    traffic of the products that dominate): each sample's products accumulate in float32
    inside the kernel and come out in p's type; sums over taps and samples are float32."""

    def __init__(self, model: TargetModel, p: torch.Tensor, y: torch.Tensor, v2: torch.Tensor,
                 reg: float, cg_iters: int):
        n, h, w, chans = p.shape
        self.model, self.cg_iters = model, cg_iters
        ps = p.reshape(n, h * w, chans)

        # one batched product per sample, (9, P) x (P, hw) and (9, hw) x (hw, P): both read
        # each sample in its stored layout, and the batch splits the long hw reductions of
        # the adjoint over the threads (faster per CG iteration than single products over all
        # samples' pixels, docs/RESULTS.md); each tap's response is a
        # contiguous plane for the shifted sums, which run in p's type and accumulate in
        # float32
        def forward(d: torch.Tensor) -> torch.Tensor:
            q = torch.bmm(d.T.to(ps.dtype).expand(n, 9, chans), ps.transpose(1, 2))
            return taps_forward_planes(q.view(n, 9, h, w).transpose(0, 1))

        def adjoint(u: torch.Tensor) -> torch.Tensor:
            taps = taps_adjoint_planes(u, ps.dtype, tap_dim=1).view(n, 9, h * w)
            return torch.bmm(taps, ps).sum(0, dtype=torch.float32).T

        def apply_a(d: list[torch.Tensor]) -> list[torch.Tensor]:
            return [adjoint(v2 * forward(d[0])) + reg * d[0]]

        g = adjoint(v2 * (forward(model.w2) - y))
        self._cg = ConjugateGradient(apply_a, [-(g + reg * model.w2)])

    @property
    def iterations(self) -> int:
        return self._cg.iterations

    @property
    def finished(self) -> bool:
        return self._cg.iterations >= self.cg_iters or float(self._cg.rr) < 1e-20

    def advance(self, iters: int) -> None:
        self._cg.run(min(iters, self.cg_iters - self._cg.iterations))

    def result(self) -> TargetModel:
        return TargetModel(self.model.w1, self.model.w2 + self._cg.z[0])


def fit_w2(model: TargetModel, p: torch.Tensor, y: torch.Tensor, v2: torch.Tensor, reg: float,
           cg_iters: int) -> TargetModel:
    """Refit w2 in one go (see W2Update)."""
    job = W2Update(model, p, y, v2, reg, cg_iters)
    job.advance(cg_iters)
    return job.result()
