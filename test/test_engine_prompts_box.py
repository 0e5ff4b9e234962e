"""Box initialisation: a first mask from a box, by target-model fits or feature clusters."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vos_ros.engine.config import BoxInitConfig
from vos_ros.engine.prompts.box import mask_from_box, validate_box
from vos_ros.evaluation.metrics import region_similarity


def _half_box_scene():
    """Stride-8 features (1, 48, 30, 40) where the object fills the left half of the box
    (80, 80, 240, 160) and the right half looks like the background left of the box."""
    gen = torch.Generator().manual_seed(0)
    obj, bg, bg2 = F.normalize(torch.randn(3, 48, generator=gen), dim=1)
    h, w = 30, 40
    fused = bg2.repeat(h, w, 1).clone()
    fused[:, :20] = bg
    fused[10:20, 10:20] = obj
    fused[10:20, 20:30] = bg
    fused = (fused + 0.05 * torch.randn(h, w, 48, generator=gen)).permute(2, 0, 1)[None]
    truth = np.zeros((h * 8, w * 8), bool)
    truth[80:160, 80:160] = True
    return fused, (80, 80, 240, 160), truth


@pytest.mark.parametrize("method", ["target_model", "clusters"])
def test_background_like_part_of_the_box_is_dropped(method):
    fused, box, truth = _half_box_scene()
    mask = mask_from_box(fused, box, truth.shape, BoxInitConfig(method=method)).numpy() > 0
    assert region_similarity(mask, truth) > 0.8
    assert not mask[:, 170:].any()


def test_unknown_method_and_bad_boxes_are_rejected():
    fused, box, truth = _half_box_scene()
    with pytest.raises(ValueError, match="box_init.method must be one of"):
        mask_from_box(fused, box, truth.shape, BoxInitConfig(method="magic"))
    assert validate_box((-10, -10, 50, 40), 100, 200) == (0, 0, 40, 30)
    for bad in ((500, 10, 20, 20), (0, 0, 0, 5), (float("nan"), 0, 5, 5)):
        with pytest.raises(ValueError):
            validate_box(bad, 100, 200)
