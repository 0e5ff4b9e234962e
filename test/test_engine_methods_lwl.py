"""LWL: the few-shot learner, its gradients, the sample memory, the method end to end."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import davis_sequence
from vos_ros.engine.config import EngineConfig
from vos_ros.engine.learned.weights import WeightFileError
from vos_ros.engine.methods.lwl import learner
from vos_ros.engine.methods.lwl.memory import SampleMemory
from vos_ros.engine.methods.lwl.network import LWLNet, LWLShape
from vos_ros.engine.methods.lwl.params import LWLParams
from vos_ros.engine.methods.lwl.weights import SHIPPED
from vos_ros.evaluation.metrics import region_similarity


def _problem(b=1, t=3, c=3, d=2, h=5, w=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, t, c, h, w, generator=g, dtype=torch.float64)
    labels = torch.randn(b, t, d, h, w, generator=g, dtype=torch.float64)
    weights = torch.rand(b, t, d, h, w, generator=g, dtype=torch.float64) + 0.2
    alpha = torch.softmax(torch.randn(b, t, generator=g, dtype=torch.float64), 1)
    return x, labels, weights, alpha


def _least_squares(x, labels, weights, alpha, reg, d, kernel=3):
    """The minimiser of the learner's loss from the normal equations, the module's outputs
    written as an explicit matrix (one column per filter coefficient)."""
    c = x.shape[2]
    n = d * c * kernel * kernel
    basis = torch.eye(n, dtype=x.dtype).reshape(n, d, c, kernel, kernel)
    a = torch.stack([learner.apply(e[None], x).flatten() for e in basis], 1)  # (outputs, n)
    v = (weights ** 2 * (alpha / (x.shape[-1] * x.shape[-2]))[..., None, None, None]).flatten()
    lhs = a.T @ (v[:, None] * a) + reg * torch.eye(n, dtype=x.dtype)
    return torch.linalg.solve(lhs, a.T @ (v * labels.flatten())).reshape(1, d, c, kernel, kernel)


def test_steepest_descent_lowers_the_loss_and_reaches_the_least_squares_solution():
    x, labels, weights, alpha = _problem()
    reg = 0.05
    tau = torch.zeros(1, 2, 3, 3, 3, dtype=torch.float64)
    losses = [float(learner.loss(tau, x, labels, weights, alpha, reg))]
    for _ in range(30):
        tau = learner.steepest_descent(tau, x, labels, weights, alpha, reg, 1)
        losses.append(float(learner.loss(tau, x, labels, weights, alpha, reg)))
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    best = _least_squares(x, labels, weights, alpha, reg, d=2)
    tau = learner.steepest_descent(tau, x, labels, weights, alpha, reg, 3000)
    assert torch.allclose(tau, best, atol=1e-6), float((tau - best).abs().max())
    assert float(learner.loss(best, x, labels, weights, alpha, reg)) <= losses[-1]


def test_the_step_length_is_the_exact_line_minimum():
    x, labels, weights, alpha = _problem(seed=1)
    tau = torch.zeros(1, 2, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    g, = torch.autograd.grad(learner.loss(tau, x, labels, weights, alpha, 0.1).sum(), tau)
    one = learner.steepest_descent(tau.detach(), x, labels, weights, alpha, 0.1, 1)
    step = float(((tau.detach() - one) / g).flatten()[0])
    f = [float(learner.loss(tau.detach() - s * g, x, labels, weights, alpha, 0.1)) for s in
         (0.9 * step, step, 1.1 * step)]
    assert f[1] < f[0] and f[1] < f[2]


def test_batched_problems_are_independent():
    x, labels, weights, alpha = _problem(b=3)
    tau = torch.zeros(3, 2, 3, 3, 3, dtype=torch.float64)
    together = learner.steepest_descent(tau, x, labels, weights, alpha, 0.05, 4)
    for i in range(3):
        alone = learner.steepest_descent(tau[i:i + 1], x[i:i + 1], labels[i:i + 1], weights[i:i + 1],
                                         alpha[i:i + 1], 0.05, 4)
        assert torch.allclose(together[i:i + 1], alone, atol=1e-10)


def test_gradients_through_the_learner_match_finite_differences():
    x, labels, weights, alpha = _problem(t=2, c=2, d=2, h=4, w=4)
    reg = torch.tensor(0.1, dtype=torch.float64)

    def fitted(labels, weights, reg):
        tau = learner.steepest_descent(torch.zeros(1, 2, 2, 3, 3, dtype=torch.float64), x, labels, weights,
                                       alpha, reg, 3)
        return learner.apply(tau, x)  # what the decoder reads

    inputs = tuple(v.clone().requires_grad_() for v in (labels, weights, reg))
    assert torch.autograd.gradcheck(fitted, inputs, eps=1e-6, atol=1e-5)


def _tiny_net() -> LWLNet:
    shape = LWLShape(feature_channels=(4, 4, 6), reduced_channels=4, encoding_channels=3, mask_width=4,
                     width16=4, width8=4, width4=4, dropout=0.0, box_encoder=True, box_width=4)
    torch.manual_seed(0)
    net = LWLNet(shape).double()
    for p in net.decoder.head.parameters():  # the zero initialisation would block the flow
        torch.nn.init.normal_(p, std=0.1)
    return net


def test_training_loss_gradients_reach_label_generator_weight_predictor_and_lambda():
    from vos_ros.training.lwl import SequenceSettings, sequence_loss

    net = _tiny_net()
    g = torch.Generator().manual_seed(1)
    levels = {4: torch.randn(1, 3, 4, 16, 16, generator=g, dtype=torch.float64),
              8: torch.randn(1, 3, 4, 8, 8, generator=g, dtype=torch.float64),
              16: torch.randn(1, 3, 6, 4, 4, generator=g, dtype=torch.float64)}
    masks = torch.zeros(1, 3, 64, 64, dtype=torch.float64)
    masks[:, :, 16:40, 20:44] = 1
    settings = SequenceSettings(frames=3, init_steps=3, update_steps=2)
    loss = sequence_loss(net, levels, masks, settings)
    loss.backward()
    for name in ("mask_encoder.label.weight", "mask_encoder.weight.weight", "mask_encoder.down8.weight",
                 "log_reg", "reduce1.weight", "decoder.enter4.weight"):
        grad = dict(net.named_parameters())[name].grad
        assert grad is not None and float(grad.abs().sum()) > 0, name
    # with two frames no detached prediction feeds the learner: the whole loss's gradient
    # wrt lambda, E and W against central differences
    settings = SequenceSettings(frames=2, init_steps=3)
    levels, masks = {k: v[:, :2] for k, v in levels.items()}, masks[:, :2]
    net.zero_grad()
    sequence_loss(net, levels, masks, settings).backward()
    params = dict(net.named_parameters())
    for name, index in (("log_reg", ()), ("mask_encoder.label.weight", (1, 2, 0, 1)),
                        ("mask_encoder.weight.weight", (0, 1, 1, 1)), ("mask_encoder.down16.bias", (2,))):
        p = params[name]
        values = []
        with torch.no_grad():
            for delta in (1e-5, -1e-5):
                p[index] += delta
                values.append(float(sequence_loss(net, levels, masks, settings)))
                p[index] -= delta
        numeric = (values[0] - values[1]) / 2e-5
        assert numeric == pytest.approx(float(p.grad[index]), rel=1e-4, abs=1e-10), name


def test_memory_weights_decay_by_eta_and_are_normalised():
    memory = SampleMemory(capacity=8, eta=0.9)
    for i in range(4):
        memory.add(torch.full((2, 3, 3), float(i)), torch.zeros(1, 3, 3), torch.ones(1, 3, 3))
    w = memory.sample_weights().double()
    expected = torch.tensor([0.9 ** 3, 0.1 * 0.9 ** 2, 0.1 * 0.9, 0.1], dtype=torch.float64)
    assert torch.allclose(w, expected / expected.sum(), atol=1e-6)
    assert float(w.sum()) == pytest.approx(1.0)


def test_memory_holds_k_max_and_keeps_the_first_sample():
    memory = SampleMemory(capacity=4, eta=0.9)
    for i in range(50):
        memory.add(torch.full((1, 2, 2), float(i)), torch.zeros(1, 2, 2), torch.ones(1, 2, 2))
        assert len(memory) == min(i + 1, 4)
    held = sorted(float(f[0, 0, 0]) for f in memory.features)
    assert held == [0.0, 47.0, 48.0, 49.0]  # the first and the three newest


def test_box_memory_lets_the_first_sample_go_after_k_max_frames():
    memory = SampleMemory(capacity=4, eta=0.8, keep_first_for=4)
    for i in range(6):
        memory.add(torch.full((1, 2, 2), float(i)), torch.zeros(1, 2, 2), torch.ones(1, 2, 2))
    held = sorted(float(f[0, 0, 0]) for f in memory.features)
    assert 0.0 not in held and held == [2.0, 3.0, 4.0, 5.0]


def test_params_are_checked():
    with pytest.raises(ValueError, match="lwl.memory_size"):
        LWLParams(memory_size=0)
    with pytest.raises(ValueError, match="lwl.memory_eta"):
        LWLParams(memory_eta=1.0)


def test_a_missing_weight_file_names_the_file_and_the_command(tmp_path):
    from vos_ros.engine.session import Segmenter

    with pytest.raises(WeightFileError, match="vos-ros train --method lwl"):
        Segmenter(EngineConfig(method="lwl").replace(**{"lwl.weights": str(tmp_path / "nope.pt")}))


@pytest.mark.skipif(not SHIPPED.is_file(), reason="vos_ros/weights/lwl.pt not shipped")
def test_shipped_lwl_tracks_a_real_clip_with_bounded_memory():
    from vos_ros.engine.session import Segmenter

    frames, truth = davis_sequence("blackswan", 16)
    seg = Segmenter(EngineConfig(method="lwl", resolution=240).replace(**{"lwl.memory_size": 8}))
    seg.add_object(1, frames[0], mask=truth[0])
    ious = [region_similarity(seg.step(f).labels == 1, t) for f, t in zip(frames[1:], truth[1:])]
    assert float(np.mean(ious)) > 0.7, ious
    assert seg.method.memory_footprint() == {1: 8}


@pytest.mark.skipif(not SHIPPED.is_file(), reason="vos_ros/weights/lwl.pt not shipped")
def test_shipped_lwl_from_a_box_ages_its_samples_faster():
    from vos_ros.engine.session import Segmenter

    frames, truth = davis_sequence("blackswan", 4)
    seg = Segmenter(EngineConfig(method="lwl", resolution=240))
    ys, xs = np.nonzero(truth[0])
    seg.add_object(1, frames[0], box=(xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1))
    memory = seg.method.tracker.targets[1].memory
    assert memory.eta == seg.config.lwl.box_memory_eta and memory.keep_first_for == seg.config.lwl.memory_size
    result = seg.step(frames[1])
    assert region_similarity(result.labels == 1, truth[1]) > 0.5


def test_the_kept_first_sample_has_its_least_share():
    memory = SampleMemory(capacity=32, eta=0.9)
    for i in range(30):
        memory.add(torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), torch.ones(1, 2, 2))
    plain, anchored = memory.sample_weights(), memory.sample_weights(0.25)
    assert float(plain[0]) < 0.25 and float(anchored[0]) == pytest.approx(0.25)
    assert float(anchored.sum()) == pytest.approx(1.0)
    assert torch.allclose(anchored[1:] / anchored[1:].sum(), plain[1:] / plain[1:].sum())


def test_tracker_memory_stays_at_k_max_over_a_long_stream():
    from vos_ros.engine.methods.lwl.tracker import Tracker

    net = _tiny_net().float().eval()
    tracker = Tracker(net, LWLParams(memory_size=6, init_iterations=2, update_iterations=1))
    g = torch.Generator().manual_seed(0)

    def levels():
        return {4: torch.randn(1, 4, 16, 16, generator=g), 8: torch.randn(1, 4, 8, 8, generator=g),
                16: torch.randn(1, 6, 4, 4, generator=g)}

    mask = torch.zeros(64, 64)
    mask[16:40, 20:44] = 1
    with torch.no_grad():
        tracker.add(1, levels(), mask)
        tracker.add(2, levels(), mask, from_box=True)
        buffers = {i: t.memory.features for i, t in tracker.targets.items()}
        for _ in range(150):
            frame = levels()
            probs = tracker.predict(frame)
            assert probs[1].shape == (16, 16) and 0 <= float(probs[1].min()) <= float(probs[1].max()) <= 1
            tracker.update(frame, probs, [1, 2])
    assert tracker.memory_footprint() == {1: 6, 2: 6}
    for i, target in tracker.targets.items():
        assert target.memory.features is buffers[i]  # preallocated, never grown
        assert float(target.memory.sample_weights().sum()) == pytest.approx(1.0)
    assert tracker.targets[1].memory.first_slot == 0 and tracker.targets[2].memory.first_slot is None
