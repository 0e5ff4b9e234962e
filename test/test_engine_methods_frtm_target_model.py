"""GN-CG fitting of the FRTM target model: correctness against direct solutions."""
import torch
import torch.nn.functional as F

from vos_ros.engine.methods.frtm.target_model import (
    TargetModel, W2Update, conjugate_gradient, fit_full, fit_w2, loss, pixel_weights, score_models,
    taps_adjoint, taps_adjoint_planes, taps_forward, taps_forward_planes)


def _im2col(p: torch.Tensor) -> torch.Tensor:
    """(N, h, w, P) -> (N*h*w, P*9) explicit 3x3 patches, column order (p, tap)."""
    n, h, w, c = p.shape
    cols = F.unfold(p.permute(0, 3, 1, 2), kernel_size=3, padding=1)  # (N, P*9, h*w)
    return cols.permute(0, 2, 1).reshape(n * h * w, c * 9)


def test_taps_match_conv2d_and_adjoint():
    g = torch.Generator().manual_seed(0)
    p = torch.randn(2, 7, 9, 5, generator=g)
    w2 = torch.randn(5, 9, generator=g)
    model = TargetModel(torch.eye(5), w2)
    conv = F.conv2d(p.permute(0, 3, 1, 2), model.conv_weights()[1], padding=1)[:, 0]
    assert torch.allclose(model.score_projected(p), conv, atol=1e-5)
    # <taps_forward(q), u> == <q, taps_adjoint(u)>
    q, u = torch.randn(2, 7, 9, 9, generator=g), torch.randn(2, 7, 9, generator=g)
    assert torch.allclose((taps_forward(q) * u).sum(), (q * taps_adjoint(u)).sum(), atol=1e-4)
    # the tap-major layout computes the same, and its adjoint likewise
    planes = q.permute(3, 0, 1, 2).contiguous()
    assert torch.allclose(taps_forward_planes(planes), taps_forward(q), atol=1e-6)
    assert torch.equal(taps_adjoint_planes(u), taps_adjoint(u).permute(3, 0, 1, 2))
    assert torch.equal(taps_adjoint_planes(u, tap_dim=1), taps_adjoint(u).permute(0, 3, 1, 2))


def test_scoring_several_models_at_once_equals_projecting_each():
    g = torch.Generator().manual_seed(3)
    fine, coarse = torch.randn(1, 5, 6, 8, generator=g), torch.randn(1, 6, 3, 4, generator=g)
    x = torch.cat([fine, F.interpolate(coarse, size=(6, 8), mode="bilinear", align_corners=False)], dim=1)
    models = [TargetModel(torch.randn(4, 11, generator=g), torch.randn(4, 9, generator=g)) for _ in range(3)]
    scores = score_models(models, [fine, coarse])
    assert scores.shape == (3, 6, 8)
    for model, score in zip(models, scores):
        assert torch.allclose(score, model(x.permute(0, 2, 3, 1))[0], atol=1e-4)
    assert torch.allclose(score_models(models[:1], [x]), models[0](x.permute(0, 2, 3, 1)), atol=1e-4)
    # the memory's projection is computed the same way, level by level
    assert torch.allclose(models[0].project_levels([fine, coarse]), models[0].project(x.permute(0, 2, 3, 1))[0],
                          atol=1e-4)


def test_conjugate_gradient_solves_spd_system():
    g = torch.Generator().manual_seed(1)
    m = torch.randn(12, 12, generator=g)
    a = m @ m.T + 12 * torch.eye(12)
    b = torch.randn(12, generator=g)
    z = conjugate_gradient(lambda d: [a @ d[0]], [b], iters=12)[0]
    assert torch.allclose(z, torch.linalg.solve(a, b), atol=1e-4)


def test_fit_w2_matches_direct_least_squares():
    g = torch.Generator().manual_seed(2)
    n, h, w, c = 3, 6, 7, 4
    p = torch.randn(n, h, w, c, generator=g)
    y = (torch.rand(n, h, w, generator=g) > 0.7).float()
    v2 = pixel_weights(y, 0.1) * torch.tensor([0.5, 0.3, 0.2]).view(-1, 1, 1)
    reg = 1e-2
    model = TargetModel(torch.eye(c), torch.zeros(c, 9))
    fitted = fit_w2(model, p, y, v2, reg, cg_iters=c * 9 + 5)
    phi, wv = _im2col(p), v2.reshape(-1)
    a = phi.T @ (wv[:, None] * phi) + reg * torch.eye(c * 9)
    direct = torch.linalg.solve(a, phi.T @ (wv * y.reshape(-1)))
    assert torch.allclose(fitted.w2.reshape(-1), direct, atol=1e-3)
    assert loss(fitted, p, y, v2, reg) < loss(model, p, y, v2, reg)


def test_fit_full_lowers_loss_each_step_and_separates_classes():
    g = torch.Generator().manual_seed(3)
    n, h, w, c = 2, 12, 12, 16
    y = torch.zeros(n, h, w)
    y[:, 3:8, 4:9] = 1
    direction = torch.randn(c, generator=g)
    x = 0.5 * torch.randn(n, h, w, c, generator=g) + y[..., None] * direction
    v2 = pixel_weights(y, 0.1) / (h * w)
    reg = 1e-4
    model = TargetModel.from_pca(x, 8)
    losses = [loss(model, x, y, v2, reg)]
    for steps in (1, 2, 3):
        losses.append(loss(fit_full(model, x, y, v2, reg, steps, 5, 10), x, y, v2, reg))
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    scores = fit_full(model, x, y, v2, reg, 5, 5, 10)(x)
    assert float(scores[y > 0.5].mean()) > 0.7 and float(scores[y < 0.5].mean()) < 0.3


def test_pixel_weights_balance_classes():
    y = torch.zeros(1, 10, 10)
    y[0, :2, :] = 1  # 20 % target
    wts = pixel_weights(y, 0.1)
    assert torch.isclose(wts[y > 0.5].sum(), wts[y < 0.5].sum() * 0.2 / 0.8)
    y_small = torch.zeros(1, 100, 100)
    y_small[0, :5, :5] = 1  # 0.25 % target -> kappa_min total weight
    ws = pixel_weights(y_small, 0.1)
    total_fg, total_bg = ws[y_small > 0.5].sum(), ws[y_small < 0.5].sum()
    assert torch.isclose(total_fg / (total_fg + total_bg), torch.tensor(0.1), atol=1e-4)


def test_w2_update_is_resumable_and_bfloat16_storage_stays_close():
    g = torch.Generator().manual_seed(4)
    p = torch.randn(4, 8, 9, 6, generator=g)
    y = (torch.rand(4, 8, 9, generator=g) > 0.7).float()
    v2 = pixel_weights(y, 0.1) / 72
    model = TargetModel(torch.eye(6), 0.1 * torch.randn(6, 9, generator=g))
    at_once = fit_w2(model, p, y, v2, 1e-3, cg_iters=10)
    job = W2Update(model, p, y, v2, 1e-3, cg_iters=10)
    for chunk in (3, 3, 2):
        assert not job.finished
        job.advance(chunk)
    job.advance(5)  # only 2 remain
    assert job.finished and job._cg.iterations == 10
    assert torch.allclose(job.result().w2, at_once.w2, atol=1e-6)
    half = fit_w2(model, p.bfloat16(), y, v2, 1e-3, cg_iters=10)
    assert torch.allclose(half.w2, at_once.w2, atol=0.05 * float(at_once.w2.abs().max()))
