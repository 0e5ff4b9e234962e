"""e-OSVOS: the inner SGD with per-neuron rates, regions, online adaptation, end to end."""
import math

import numpy as np
import pytest
import torch

from conftest import davis_sequence
from synthetic import moving_discs
from vos_ros.engine.backbone.features import Features
from vos_ros.engine.config import EngineConfig
from vos_ros.engine.learned import weights
from vos_ros.engine.methods.eosvos.head import EOSVOSHead, HeadShape, fine_tune, samples_loss
from vos_ros.engine.methods.eosvos.method import EOSVOSMethod
from vos_ros.engine.methods.eosvos.region import Region, mask_region
from vos_ros.engine.session import Segmenter


def test_one_step_is_the_hand_computed_update_with_separate_weight_and_bias_rates():
    # one 1x1 conv on one pixel, target 1: p = sigmoid(z), z = w x + b; the loss is
    # -log p + 1 - (p + 1) / 2, so dL/dz = -(1 - p)(1 + p / 2), dL/dw = x dL/dz, dL/db = dL/dz
    w, b, x = 0.3, -0.2, 2.0
    theta = [torch.tensor([[[[w]]]]), torch.tensor([b])]
    rates = [torch.tensor([0.5]).view(1, 1, 1, 1), torch.tensor([2.0])]
    sample = (torch.tensor([[[[x]]]]), torch.ones(1, 1, 1, 1))
    new_w, new_b = fine_tune(theta, rates, [sample], steps=1)
    p = 1 / (1 + math.exp(-(w * x + b)))
    dz = -(1 - p) * (1 + p / 2)
    assert new_w.item() == pytest.approx(w - 0.5 * x * dz, rel=1e-5)
    assert new_b.item() == pytest.approx(b - 2.0 * dz, rel=1e-5)


def test_each_neuron_moves_by_its_own_rate_and_a_zero_rate_freezes_it():
    torch.manual_seed(0)
    head = EOSVOSHead(HeadShape(feature_channels=(3, 2), width=4))
    with torch.no_grad():
        for r in head.log_lr:
            r.copy_(torch.linspace(-3, 0, len(r)))
        head.log_lr[0][1] = -float("inf")  # neuron 1 of the first conv: rate 0 for its kernel
    theta0 = [p.detach() for p in head.initial()]
    samples = [(torch.randn(1, 5, 6, 7), (torch.rand(1, 1, 6, 7) > 0.5).float())]
    leaf = [p.clone().requires_grad_() for p in theta0]
    grads = torch.autograd.grad(samples_loss(leaf, samples), leaf)
    theta1 = fine_tune(theta0, [r.detach() for r in head.rates()], samples, steps=1)
    for p0, p1, g, log_r in zip(theta0, theta1, grads, head.log_lr):
        for k in range(p0.shape[0]):  # per output channel: its own rate
            torch.testing.assert_close(p1[k], p0[k] - log_r[k].exp() * g[k])
    assert torch.equal(theta1[0][1], theta0[0][1]) and not torch.equal(theta1[0][0], theta0[0][0])


def test_region_is_the_enlarged_box_clipped_to_the_grid():
    cells = torch.zeros(20, 30)
    cells[5:9, 10:20] = 1.0
    assert mask_region(cells, margin=0.5, min_cells=2) == Region(3, 11, 5, 25)
    assert mask_region(cells, margin=0.0, min_cells=12) == Region(1, 13, 9, 21)
    assert mask_region(torch.zeros(4, 4), 0.5, 2) is None
    assert Region(0, 4, 0, 4).scaled(10.0, (20, 30)) == Region(0, 20, 0, 22)


def _features(seed: int, size=(12, 16)) -> Features:
    g = torch.Generator().manual_seed(seed)
    return Features({8: torch.randn(1, 40, *size, generator=g), 16: torch.randn(1, 112, size[0] // 2, size[1] // 2,
                                                                                 generator=g)}, (96, 128))


def test_online_adaptation_restarts_from_the_first_frame_model():
    config = EngineConfig(method="eosvos", device="cpu").replace(**{
        "eosvos.weights": "none", "eosvos.ona_interval": 1, "eosvos.ona_iterations": 3, "eosvos.ona_samples": 2,
        "eosvos.ona_min_confidence": 0.5})
    method = EOSVOSMethod(config, None, torch.device("cpu"))
    mask = torch.zeros(96, 128)
    mask[30:70, 40:90] = 1
    method.add_object(1, None, _features(0), mask)
    obj = method.objects[1]
    first = [p.clone() for p in obj.theta_first]
    rates = [r.detach() for r in method.head.rates()]
    for k, seed in enumerate((1, 2, 3)):
        feats = _features(seed)
        method.predict(feats)
        method.update(feats, {1: mask}, {1: mask > 0}, {1: 0.9})
        # each adaptation starts at theta^T, on the first frame plus the last (at most 2) samples
        expected = fine_tune(obj.theta_first, rates, [obj.first, *obj.memory], 3)
        for p, q in zip(obj.theta, expected):
            torch.testing.assert_close(p, q)
        assert len(obj.memory) == min(k + 1, 2) and method.memory_footprint() == {1: 1 + len(obj.memory)}
    for p, q in zip(obj.theta_first, first):
        assert torch.equal(p, q)


def test_a_lost_object_searches_a_growing_region_and_low_confidence_is_not_learned():
    config = EngineConfig(method="eosvos", device="cpu").replace(**{"eosvos.weights": "none"})
    method = EOSVOSMethod(config, None, torch.device("cpu"))
    mask = torch.zeros(96, 128)
    mask[40:56, 56:72] = 1
    method.add_object(1, None, _features(0), mask)
    before = method.objects[1].region
    feats = _features(1)
    method.predict(feats)
    method.update(feats, {1: mask * 0}, {1: mask < 0}, {1: 0.0})
    after = method.objects[1].region
    assert (after.y1 - after.y0) * (after.x1 - after.x0) > (before.y1 - before.y0) * (before.x1 - before.x0)
    assert not method.objects[1].memory


def test_the_shipped_weights_are_meta_learned_and_recorded():
    path = weights.SHIPPED["eosvos"]
    head = weights.load("eosvos", path, "efficientnet_lite0", {8: 40, 16: 112})
    rates = torch.cat([r.exp() for r in head.log_lr])
    assert rates.std() > 0  # not one rate for all neurons
    record = weights.record_of(path)
    assert record["part"] == "eosvos" and record["val_iou"] > 0 and "command" in record


def test_missing_weight_file_is_a_clear_error(tmp_path):
    config = EngineConfig(method="eosvos", device="cpu").replace(**{"eosvos.weights": str(tmp_path / "x.pt")})
    with pytest.raises(weights.WeightFileError, match="x.pt.*vos-ros train --method eosvos"):
        Segmenter(config)


@pytest.mark.parametrize("settings,floor", [({}, 0.8), ({"eosvos.weights": "none", "eosvos.plain_lr": 0.03}, 0.6)])
def test_tracks_a_real_clip(settings, floor):
    frames, masks = davis_sequence("blackswan", 12)
    seg = Segmenter(EngineConfig(method="eosvos", device="cpu").replace(**settings))
    seg.add_object(1, frames[0], mask=masks[0])
    ious = []
    for frame, truth in zip(frames[1:], masks[1:]):
        pred = seg.step(frame).labels == 1
        ious.append((pred & truth).sum() / (pred | truth).sum())
    assert np.mean(ious) > floor, ious


def test_tracks_two_synthetic_discs_independently():
    images, labels = moving_discs(frames=6, size=(128, 192), discs=2, seed=3)
    seg = Segmenter(EngineConfig(method="eosvos", device="cpu", resolution=0).replace(**{"eosvos.weights": "none"}))
    seg.add_object(1, images[0], mask=labels[0] == 1)
    seg.add_object(2, images[0], mask=labels[0] == 2)
    result = seg.step(images[1])
    assert set(result.objects) == {1, 2}
    seg.remove_object(1)
    assert set(seg.step(images[2]).objects) == {2}
