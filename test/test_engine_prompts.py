"""Box and click prompts through the shipped prompt encoder and decoder, and their validation."""
import numpy as np
import pytest

from conftest import davis_sequence
from vos_ros.engine.config import EngineConfig
from vos_ros.engine.segmenter import Segmenter
from vos_ros.evaluation.prompts import interior_point, mask_box


@pytest.fixture(scope="module")
def seg():
    return Segmenter(EngineConfig(method="visual_words", device="cpu").replace(**{"box_init.method": "prompt_encoder"}))


def _iou(a, b):
    return float((a & b).sum() / max(1, (a | b).sum()))


def test_box_prompt_gives_the_object(seg):
    frames, masks = davis_sequence("blackswan", 1)
    result = seg.add_object(1, frames[0], box=mask_box(masks[0]))
    seg.reset()
    # measured 0.47 with the shipped encoder (docs/RESULTS.md): a floor against regressions
    assert _iou(result.mask, masks[0]) > 0.4


def test_one_click_gives_the_object(seg):
    frames, masks = davis_sequence("blackswan", 1)
    result = seg.add_object(1, frames[0], points=[interior_point(masks[0])])
    seg.reset()
    # measured 0.35 (the swan's neck and back; the dark body is missed)
    assert _iou(result.mask, masks[0]) > 0.25


def test_clicks_on_a_real_clip_then_track(seg):
    frames, masks = davis_sequence("blackswan", 4)
    first = seg.add_object(1, frames[0], points=[interior_point(masks[0])], negative_points=[(20, 400)])
    assert first.visible and first.area > 2000
    for frame, truth in zip(frames[1:], masks[1:]):
        result = seg.step(frame).objects[1]
        assert result.visible and _iou(result.mask, truth) > 0.2
    seg.reset()


@pytest.mark.parametrize("kwargs, message", [
    ({"points": [(5000, 10)]}, "lies outside the"),
    ({"points": [(float("nan"), 10)]}, "lies outside the"),
    ({"negative_points": [(10, 10)]}, "at least one positive point"),
    ({"points": []}, "give a non-empty mask, a box or a positive point"),
    ({"points": [(1, 2, 3)]}, "must be an (x, y) pair"),
])
def test_bad_points_are_refused_with_the_reason(seg, kwargs, message):
    frame = np.full((120, 160, 3), 100, np.uint8)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        seg.add_object(1, frame, **kwargs)
    assert seg.object_ids == []


def test_clicks_without_a_prompt_encoder_are_refused():
    seg = Segmenter(EngineConfig(method="visual_words", device="cpu", prompt_encoder="none", decoder="none"))
    with pytest.raises(ValueError, match="prompt encoder"):
        seg.add_object(1, np.full((120, 160, 3), 100, np.uint8), points=[(10, 10)])
