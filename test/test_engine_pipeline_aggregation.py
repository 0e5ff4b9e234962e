"""Aggregation of per-object probabilities into label distributions."""
import torch

from vos_ros.engine.pipeline.aggregation import (aggregate, argmax_aggregate, label_argmax, normalized_aggregate,
                                        soft_aggregate)


def test_soft_aggregation_single_object_keeps_decision_and_sharpens():
    p = torch.tensor([[[0.1, 0.5, 0.9]]])
    agg = soft_aggregate(p)
    # background = 1 - p, so the object's log-odds double: sigmoid(2 * logit(p))
    assert torch.allclose(agg[1], torch.sigmoid(2 * torch.logit(p[0])), atol=1e-4)
    assert torch.allclose(agg.sum(0), torch.ones(1, 3))
    assert label_argmax(agg)[0].tolist() == [0, 0, 1]  # ties go to the background


def test_soft_aggregation_matches_formula_for_two_objects():
    p1, p2 = 0.8, 0.6
    agg = soft_aggregate(torch.tensor([p1, p2]).view(2, 1, 1))[:, 0, 0]
    bg = (1 - p1) * (1 - p2)
    odds = torch.tensor([bg / (1 - bg), p1 / (1 - p1), p2 / (1 - p2)])
    assert torch.allclose(agg, odds / odds.sum(), atol=1e-5)
    assert int(agg.argmax()) == 1


def test_argmax_aggregation_applies_background_threshold():
    p = torch.tensor([[0.3, 0.9, 0.35, 0.42], [0.2, 0.5, 0.39, 0.1]]).view(2, 1, 4)
    labels = label_argmax(argmax_aggregate(p, 0.4))[0]
    assert labels.tolist() == [0, 1, 0, 1]  # 0.42 >= c2 wins although below 0.5


def test_normalized_aggregation_background_is_remainder():
    p = torch.tensor([0.2, 0.5]).view(2, 1, 1)
    agg = normalized_aggregate(p)
    assert torch.isclose(agg[0, 0, 0], torch.tensor(0.3))
    assert label_argmax(agg)[0, 0] == 2


def test_label_argmax_equals_torch_argmax():
    x = torch.rand(4, 20, 30)
    assert torch.equal(label_argmax(x).long(), x.argmax(0))
    assert torch.equal(label_argmax(aggregate(x[:3], "soft")).long(), aggregate(x[:3], "soft").argmax(0))


def test_soft_aggregation_is_a_softmax_over_log_odds():
    p = torch.rand(3, 7, 9, generator=torch.Generator().manual_seed(1)).clamp(0.01, 0.99)
    background = (1 - p).prod(dim=0, keepdim=True)
    logits = torch.log(torch.cat([background / (1 - background), p / (1 - p)]))
    assert torch.allclose(soft_aggregate(p), torch.softmax(logits, dim=0), atol=1e-6)
