"""Soft matching (VideoMatch): top-K matching, outlier removal, bounded feature sets
(end-to-end tracking: test_engine_segmenter)."""
import numpy as np
import torch
import torch.nn.functional as F

from vos_ros.engine.config import EngineConfig
from vos_ros.engine.backbone.features import Features
from vos_ros.engine.methods.common import embeddings
from vos_ros.engine.methods.matching.method import FeatureSet, MatchingMethod, topk_mean_similarity

torch.set_num_threads(1)


def test_topk_mean_matches_a_brute_force_loop(monkeypatch):
    monkeypatch.setattr(embeddings, "CHUNK_ELEMENTS", 64)  # many chunks
    gen = torch.Generator().manual_seed(0)
    emb = F.normalize(torch.randn(37, 16, generator=gen), dim=1)
    bank = F.normalize(torch.randn(23, 16, generator=gen), dim=1)
    for k in (1, 5, 23, 40):
        scores, indices = topk_mean_similarity(emb, bank, k)
        for p in range(len(emb)):
            sims = sorted((float(emb[p] @ bank[j]), j) for j in range(len(bank)))[::-1][:min(k, 23)]
            assert abs(scores[p].item() - np.mean([s for s, _ in sims])) < 1e-5
            assert set(indices[p].tolist()) == {j for _, j in sims}


def _method(**settings) -> MatchingMethod:
    config = EngineConfig(method="matching", device="cpu").replace(
        **{f"matching.{k}": v for k, v in settings.items()})
    return MatchingMethod(config, lambda image: None, torch.device("cpu"))


def _scene(obj: torch.Tensor, bg: torch.Tensor, blobs: list[tuple[int, int]]) -> Features:
    """12x16 stride-8 features (96x128 image): background `bg`, 3x3-cell blobs of `obj`."""
    x = bg[:, None, None].repeat(1, 12, 16)
    for r, c in blobs:
        x[:, r:r + 3, c:c + 3] = obj[:, None, None]
    return Features({8: x[None]}, (96, 128))


def test_foreground_away_from_the_previous_mask_is_removed_and_learnt_as_background():
    gen = torch.Generator().manual_seed(0)
    obj, bg = F.normalize(torch.randn(2, 8, generator=gen), dim=1)
    method = _method(outlier_dilation=8, update_min_confidence=0.0)
    mask = torch.zeros(96, 128)
    mask[16:40, 16:40] = 1  # cells (2..4, 2..4)
    method.add_object(1, torch.zeros(1, 3, 96, 128), _scene(obj, bg, [(2, 2)]), mask)
    frame = _scene(obj, bg, [(3, 3), (7, 11)])  # the object moved by one cell; a look-alike far away
    prob = method.predict(frame)[1]
    assert bool((prob[3:6, 3:6] > 0.9).all())
    assert float(prob[7:10, 11:14].max()) < 1e-6
    n_background = len(method.targets[1].background)
    up = F.interpolate(prob[None, None], size=(96, 128))[0, 0]
    method.update(frame, {1: up}, {1: up > 0.5}, {1: 1.0})
    assert len(method.targets[1].background) == n_background + 9  # the look-alike's cells


def test_feature_set_evicts_the_least_used_online_features_only():
    gen = torch.Generator().manual_seed(0)
    first = torch.randn(5, 4, generator=gen)
    fs = FeatureSet(first, capacity=8, decay=0.5)
    fs.add(torch.randn(3, 4, generator=gen))
    fs.record(torch.tensor([[5, 6], [5, 0]]))  # online rows 5 and 6 are used, 7 is not
    newest = torch.randn(1, 4, generator=gen)
    fs.add(newest)
    assert len(fs) == 8
    assert torch.equal(fs.features[:5], first)  # first-frame rows stay
    assert torch.equal(fs.features[-1], newest[0])  # the newcomer starts at the median usage
    assert fs.usage[5:7].tolist() == [2.0, 1.0]  # row 7 (never used) was evicted
    many = FeatureSet(torch.randn(12, 4, generator=gen), capacity=8, decay=0.5)
    many.add(torch.randn(3, 4, generator=gen))
    assert len(many) == 12  # first-frame rows are kept even over capacity


def test_feature_sets_stay_bounded_over_many_updates():
    gen = torch.Generator().manual_seed(0)
    method = _method(max_foreground=30, max_background=200, update_min_confidence=0.0, top_k=3,
                     update_threshold=0.5, outlier_dilation=200)
    base = torch.randn(1, 64, 12, 16, generator=gen)
    mask = torch.zeros(96, 128)
    mask[24:48, 32:64] = 1  # 3x4 cells
    method.add_object(1, torch.zeros(1, 3, 96, 128),
                      Features({8: base + 0.1 * torch.randn(base.shape, generator=gen)}, (96, 128)), mask)
    first = method.targets[1].foreground.features.clone()
    sizes = []
    for frame in range(40):
        features = Features({8: base + 0.1 * torch.randn(base.shape, generator=gen)}, (96, 128))
        prob = method.predict(features)[1]
        up = F.interpolate(prob[None, None], size=(96, 128))[0, 0]
        method.update(features, {1: up}, {1: up > 0.5}, {1: 1.0})
        target = method.targets[1]
        sizes.append(len(target.foreground))
        assert len(target.foreground) <= 30 and len(target.background) <= 200
    assert len(first) < 30 and max(sizes) == 30  # the cap was reached: features were evicted
    assert torch.equal(method.targets[1].foreground.features[:len(first)], first)
