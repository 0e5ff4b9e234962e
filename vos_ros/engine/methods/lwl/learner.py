"""The few-shot learner: steepest descent with the exact step length on the weighted
least-squares loss of a linear target module (LWL's Eq. 3-4), differentiable end to end.

The target module is a linear k x k convolution tau (D, C, k, k) of the reduced features
x_t. For samples t with labels E_t, element-wise weights W_t and sample weights a_t
(P pixels each) the loss is

    L(tau) = 1/2 sum_t a_t / P ||W_t . (tau * x_t - E_t)||^2 + lambda / 2 ||tau||^2.

L is quadratic, so the step length along the gradient g that minimises it is
||g||^2 / (sum_t a_t / P ||W_t . (g * x_t)||^2 + lambda ||g||^2). Module outputs are updated
by linearity (y <- y - step g * x): one convolution and one adjoint per step. A leading
batch dimension B holds independent problems (objects, or a training batch): tau
(B, D, C, k, k), x (B, T, C, h, w), labels and weights (B, T, D, h, w), sample weights (B, T).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def _grouped(x: torch.Tensor) -> torch.Tensor:
    """(B, T, C, h, w) -> (T, B C, h, w): the B problems as groups of one convolution."""
    b, t, c, h, w = x.shape
    return x.transpose(0, 1).reshape(t, b * c, h, w)


def apply(tau: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Module outputs (B, T, D, h, w) of tau (B, D, C, k, k) on x (B, T, C, h, w)."""
    b, t, _, h, w = x.shape
    d, k = tau.shape[1], tau.shape[-1]
    out = F.conv2d(_grouped(x), tau.reshape(b * d, *tau.shape[2:]), padding=k // 2, groups=b)
    return out.reshape(t, b, d, h, w).transpose(0, 1)


def adjoint(r: torch.Tensor, x: torch.Tensor, kernel: int) -> torch.Tensor:
    """sum_t r_t (x) x_t: the gradient of sum_t <r_t, tau * x_t> wrt tau, (B, D, C, k, k)."""
    b, _, c = x.shape[:3]
    d = r.shape[2]
    g = torch.nn.grad.conv2d_weight(_grouped(x), (b * d, c, kernel, kernel), _grouped(r),
                                    padding=kernel // 2, groups=b)
    return g.reshape(b, d, c, kernel, kernel)


def _pixel_factor(weights: torch.Tensor, sample_weights: torch.Tensor) -> torch.Tensor:
    """a_t / P W_t^2, the factor of each squared residual."""
    pixels = weights.shape[-1] * weights.shape[-2]
    return weights * weights * (sample_weights / pixels)[..., None, None, None]


def _sum_sample(v: torch.Tensor) -> torch.Tensor:
    return v.sum(dim=(1, 2, 3, 4))


def loss(tau: torch.Tensor, x: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor,
         sample_weights: torch.Tensor, reg: torch.Tensor | float) -> torch.Tensor:
    """L(tau) of each of the B problems, (B,)."""
    r = apply(tau, x) - labels
    return 0.5 * _sum_sample(_pixel_factor(weights, sample_weights) * r * r) \
        + 0.5 * reg * (tau * tau).sum(dim=(1, 2, 3, 4))


def steepest_descent(tau: torch.Tensor, x: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor,
                     sample_weights: torch.Tensor, reg: torch.Tensor | float, steps: int,
                     eps: float = 1e-12) -> torch.Tensor:
    """`steps` steps of steepest descent with the exact step length from `tau`; returns the
    new tau (the graph through every input is kept when they require gradients)."""
    if steps <= 0:
        return tau
    v = _pixel_factor(weights, sample_weights)
    kernel = tau.shape[-1]
    y = apply(tau, x)
    for _ in range(steps):
        g = adjoint(v * (y - labels), x, kernel) + reg * tau
        q = apply(g, x)
        gg = (g * g).sum(dim=(1, 2, 3, 4))
        step = gg / (_sum_sample(v * q * q) + reg * gg + eps)
        tau = tau - step.view(-1, 1, 1, 1, 1) * g
        y = y - step.view(-1, 1, 1, 1, 1) * q
    return tau
