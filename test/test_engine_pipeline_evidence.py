"""Appearance evidence and the calibrated score."""
import pytest
import torch

from vos_ros.engine.backbone.features import Features
from vos_ros.engine.pipeline.evidence import AppearanceEvidence, calibrated_score


def _features(seed: int) -> Features:
    g = torch.Generator().manual_seed(seed)
    return Features({16: torch.randn(1, 32, 6, 8, generator=g)}, (96, 128))


def test_similarity_is_one_on_the_reference_and_lower_elsewhere():
    feats = _features(0)
    mask = torch.zeros(96, 128, dtype=torch.bool)
    mask[16:48, 16:48] = True
    ev = AppearanceEvidence()
    ev.add(1, feats, mask)
    assert ev.similarity(1, feats, mask) == pytest.approx(1.0, abs=1e-5)
    other = torch.zeros_like(mask)
    other[48:96, 64:128] = True
    assert ev.similarity(1, feats, other) < 0.5  # random features elsewhere
    assert ev.similarity(1, feats, torch.zeros_like(mask)) == 0.0
    ev.confirm(1, _features(1), other)  # the recent reference counts too
    assert ev.similarity(1, _features(1), other) == pytest.approx(1.0, abs=1e-5)
    ev.remove(1)
    with pytest.raises(ValueError, match="empty"):
        ev.add(2, feats, torch.zeros_like(mask))


def test_calibrated_score_rises_with_probability_and_similarity():
    w = (-12.4, 7.65, 7.74)
    assert 0.0 < calibrated_score(0.5, 0.5, w) < calibrated_score(0.9, 0.5, w) < calibrated_score(0.9, 0.95, w) < 1.0
