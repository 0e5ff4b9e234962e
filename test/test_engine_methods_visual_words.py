"""Visual words (MetaVOS): k-means words, Eq. 3-4 classification, box init, outlier removal,
bounded dictionaries, tracking two discs in one pass (single-object end-to-end tracking:
test_engine_segmenter)."""
import math

import pytest
import torch
import torch.nn.functional as F

from vos_ros.engine.pipeline.aggregation import label_argmax
from vos_ros.engine.config import EngineConfig
from vos_ros.engine.backbone.features import Features
from vos_ros.engine.methods.common.kmeans import spherical_kmeans
from vos_ros.engine.methods.visual_words.method import VisualWordsMethod, label_probabilities, merge_closest
from vos_ros.engine.session import Segmenter
from vos_ros.evaluation.metrics import region_similarity

from synthetic import moving_discs

torch.set_num_threads(1)


def test_spherical_kmeans_recovers_planted_directions():
    gen = torch.Generator().manual_seed(0)
    centres = F.normalize(torch.randn(5, 32, generator=gen), dim=1)
    points = torch.cat([c + 0.05 * torch.randn(200, 32, generator=gen) for c in centres])
    words, assign = spherical_kmeans(points, 5, generator=gen)
    sims = centres @ words.T  # planted x found
    match = sims.argmax(dim=1)
    assert sorted(match.tolist()) == list(range(5))  # a permutation
    assert bool((sims.max(dim=1).values > 0.99).all())
    for k in range(5):  # every planted cluster's points share one word
        assert len(torch.unique(assign[200 * k:200 * (k + 1)])) == 1


def test_label_probabilities_follow_equations_3_and_4():
    e = torch.eye(4)
    words = torch.stack([e[0], e[1],                                  # background
                         e[2],                                        # object 1
                         e[3], F.normalize(e[2] + e[3], dim=0)])      # object 2
    sizes = [2, 1, 2]
    x = torch.stack([e[2], e[3], e[0], F.normalize(e[1] + 2 * e[2], dim=0)])
    t = 10.0
    probs = label_probabilities(x, words, sizes, t)
    assert probs.argmax(dim=0).tolist() == [1, 2, 0, 1]
    # explicit Eq. 3-4: softmax over all words, best word per label, normalised over labels
    word_p = torch.softmax(t * x @ words.T, dim=1)
    best = torch.stack([p.amax(dim=1) for p in word_p.split(sizes, dim=1)])
    assert torch.allclose(probs, best / best.sum(dim=0), atol=1e-6)
    c = math.cos(math.pi / 4)
    assert probs[1, 0].item() == pytest.approx(math.exp(t) / (math.exp(0) + math.exp(t) + math.exp(t * c)))
    # the temperature changes the soft map, not the winner
    assert label_probabilities(x, words, sizes, 1.0).argmax(dim=0).tolist() == [1, 2, 0, 1]


def test_merge_closest_merges_the_most_similar_pair_by_counts():
    e = torch.eye(3)
    near = F.normalize(e[0] + 0.1 * e[1], dim=0)
    words, counts = merge_closest(torch.stack([e[0], near, e[2]]), torch.tensor([3.0, 1.0, 5.0]), 2)
    assert counts.tolist() == [4.0, 5.0]
    assert torch.allclose(words[0], F.normalize(3 * e[0] + near, dim=0))
    assert torch.equal(words[1], e[2])


def _noisy(base: torch.Tensor, gen: torch.Generator) -> Features:
    """Stride-8 features of a 96x128 image: `base` (1, C, 12, 16) plus noise."""
    return Features({8: base + 0.1 * torch.randn(base.shape, generator=gen)}, (96, 128))


def test_dictionaries_stay_bounded_and_keep_first_frame_words():
    config = EngineConfig(method="visual_words", device="cpu").replace(**{
        "visual_words.words_per_object": 6, "visual_words.max_words_per_object": 10,
        "visual_words.adapt_interval": 1, "visual_words.adapt_words": 4, "visual_words.adapt_alpha": 2.0,
        "visual_words.adapt_min_confidence": 0.0, "visual_words.outlier_dilation": 64})
    method = VisualWordsMethod(config, lambda image: None, torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    directions = F.normalize(torch.randn(5, 24, generator=gen), dim=1)
    base = directions[torch.arange(16) % 3].T[:, None, :].repeat(1, 12, 1)[None]  # background stripes
    masks = torch.zeros(2, 96, 128)
    masks[0, 16:80, 8:56] = 1
    masks[1, 16:80, 72:120] = 1
    base[..., 2:10, 1:7] = directions[3, :, None, None]
    base[..., 2:10, 9:15] = directions[4, :, None, None]
    first_frame = _noisy(base, gen)
    for i in (1, 2):
        method.add_object(i, torch.zeros(1, 3, 96, 128), first_frame, masks[i - 1])
    first = {i: method.objects[i].first.clone() for i in (1, 2)}
    background_cap = config.visual_words.background_words_factor * 10
    largest = 0
    for frame in range(60):
        features = _noisy(base, gen)
        probs = method.predict(features)
        up = {i: F.interpolate(p[None, None], size=(96, 128))[0, 0] for i, p in probs.items()}
        labels = label_argmax(torch.cat([1 - sum(up.values())[None].clamp(0, 1), torch.stack(list(up.values()))]))
        method.update(features, up, {i: labels == i for i in up}, {1: 1.0, 2: 1.0})
        assert all(n <= 10 for n in method.memory_footprint().values())
        assert len(method.background) <= background_cap
        largest = max(largest, *method.memory_footprint().values())
    assert largest == 10  # the cap was reached: added words were merged
    assert all(torch.equal(method.objects[i].first, first[i]) for i in (1, 2))


def test_tracks_two_synthetic_discs_in_one_pass():
    frames, labels = moving_discs(frames=6, size=(120, 160), discs=2)
    seg = Segmenter(EngineConfig(method="visual_words", device="cpu", resolution=0))
    seg.add_object(1, frames[0], mask=labels[0] == 1)
    seg.add_object(2, frames[0], mask=labels[0] == 2)
    for frame, lab in zip(frames[1:], labels[1:]):
        res = seg.step(frame)
        assert region_similarity(res.objects[1].mask, lab == 1) > 0.6 and region_similarity(res.objects[2].mask, lab == 2) > 0.6
